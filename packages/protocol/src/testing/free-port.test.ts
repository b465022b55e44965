import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { freePort } from "./free-port.ts";

test("ports are distinct, bindable, and outside the kernel's ephemeral range", async () => {
  const ephemeralLow = Number.parseInt(
    readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0] ?? "",
    10,
  );
  const ports = [];
  for (let index = 0; index < 50; index += 1) ports.push(await freePort());
  expect(new Set(ports).size).toBe(ports.length);
  for (const port of ports) {
    expect(port).toBeGreaterThanOrEqual(20_000);
    expect(port).toBeLessThan(ephemeralLow);
  }
  const server = Bun.listen({ hostname: "127.0.0.1", port: ports[0] ?? 0, socket: { data() {} } });
  expect(server.port).toBe(ports[0] ?? -1);
  server.stop(true);
});
