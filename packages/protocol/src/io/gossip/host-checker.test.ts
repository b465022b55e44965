/**
 * HostChecker on real sockets: a host whose kernel answers (a listener, a refusal, and above
 * all a SIGSTOPped process's listener, which is what lets the core spare a paused member) is
 * never reported silent. Silence itself needs a dropped link: bench:gossip measures it in a
 * network namespace, and the simulator plays it in the cut-link property.
 */
import { describe, expect, test } from "bun:test";
import { HostChecker } from "./host-checker.ts";

const CHECK_TIMEOUT_MS = 100;
/** Past the check's timeout, with room for a slow machine's event loop. */
const VERDICT_WAIT_MS = CHECK_TIMEOUT_MS + 150;

async function silentVerdicts(address: string): Promise<string[]> {
  const silent: string[] = [];
  const checker = new HostChecker({
    attempts: 3,
    timeoutMs: CHECK_TIMEOUT_MS,
    onSilent: (reported) => silent.push(reported),
  });
  checker.check(address);
  await Bun.sleep(VERDICT_WAIT_MS);
  checker.close();
  expect(checker.checksStarted).toBe(1);
  return silent;
}

describe("HostChecker", () => {
  test("a listening port answers: no verdict", async () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      expect(await silentVerdicts(`127.0.0.1:${server.port}`)).toEqual([]);
    } finally {
      server.stop(true);
    }
  });

  test("a refused connection is the host answering: no verdict", async () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = server.port;
    server.stop(true);
    expect(await silentVerdicts(`127.0.0.1:${port}`)).toEqual([]);
  });

  test("a SIGSTOPped process's port still answers (its kernel does): no verdict", async () => {
    const child = Bun.spawn(
      [
        process.execPath,
        "-e",
        'const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });' +
          "console.log(s.port);",
      ],
      { stdout: "pipe", stderr: "ignore" },
    );
    try {
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      const port = Number(new TextDecoder().decode(value).trim());
      expect(port).toBeGreaterThan(0);
      process.kill(child.pid, "SIGSTOP");
      expect(await silentVerdicts(`127.0.0.1:${port}`)).toEqual([]);
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("an address that does not parse is not checked", () => {
    const checker = new HostChecker({ attempts: 3, timeoutMs: CHECK_TIMEOUT_MS, onSilent() {} });
    checker.check("not an address");
    expect(checker.checksStarted).toBe(0);
    checker.close();
  });
});
