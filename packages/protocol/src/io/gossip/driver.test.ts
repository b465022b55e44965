/**
 * The gossip driver on real loopback UDP: drivers join and see each other, a graceful leave is
 * seen as `left`, a closed port is found dead fast through the refusal check, and datagrams
 * that are not ours (wrong key, garbage, oversize, malformed) are dropped and counted while
 * the node keeps working. Probes, their round trips and suspicions reach /metrics. Every wait
 * polls with a deadline; none sleeps a fixed time.
 */

import { afterEach, describe, expect, test } from "bun:test";
import { MetricsRegistry, swim } from "../../core/index.ts";
import { createMemoryLogger } from "../logger.ts";
import { GossipDriver, type GossipDriverOptions } from "./driver.ts";
import { Keyring } from "../security/keyring.ts";

const DEADLINE_MS = 5_000;
const POLL_MS = 20;
const KEY_A = Buffer.alloc(32, 0xa1).toString("base64");
const KEY_B = Buffer.alloc(32, 0xb2).toString("base64");

const started: GossipDriver[] = [];
const rawSockets: { close(): void }[] = [];

afterEach(() => {
  for (const driver of started.splice(0)) driver.close();
  for (const socket of rawSockets.splice(0)) socket.close();
});

function metaOf(role: swim.MemberRole): swim.MemberMetaFields {
  return {
    role,
    group: role === "storage" ? "s1" : null,
    address: "127.0.0.1:1",
    primary: false,
    epoch: 0,
    usedBytes: 0,
    capacityBytes: 1,
  };
}

async function startDriver(
  id: string,
  extra: Partial<GossipDriverOptions> = {},
): Promise<GossipDriver> {
  const driver = await GossipDriver.start({
    id,
    listen: "127.0.0.1:0",
    meta: metaOf("storage"),
    logger: createMemoryLogger(id),
    ...extra,
  });
  started.push(driver);
  return driver;
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(POLL_MS);
  }
}

function stateOf(observer: GossipDriver, id: string): swim.MemberState | undefined {
  return observer.members().find((member) => member.id === id)?.state;
}

function allAlive(drivers: readonly GossipDriver[]): boolean {
  return drivers.every(
    (observer) =>
      observer.members().filter((member) => member.state === "alive").length === drivers.length,
  );
}

async function rawSend(to: GossipDriver, bytes: Uint8Array): Promise<void> {
  const socket = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  rawSockets.push(socket);
  const [host, port] = to.address.split(":");
  socket.send(bytes, Number(port), host ?? "127.0.0.1");
}

describe("GossipDriver on loopback UDP", () => {
  test("three drivers join through one seed and all see each other alive", async () => {
    const keyring = Keyring.parse(KEY_A);
    const a = await startDriver("a", { keyring });
    const b = await startDriver("b", { keyring });
    const c = await startDriver("c", { keyring });
    b.join([a.address]);
    c.join([a.address]);
    await until("all three see three alive", () => allAlive([a, b, c]));
    expect(a.stats().dropped.unauthenticated).toBe(0);
  });

  test("metadata updates spread and are delivered to subscribers", async () => {
    const a = await startDriver("a");
    const b = await startDriver("b");
    const seen: swim.MemberEvent[] = [];
    a.subscribe((event) => seen.push(event));
    b.join([a.address]);
    await until("joined", () => allAlive([a, b]));
    b.updateMeta({ ...metaOf("storage"), primary: true, epoch: 7 });
    await until("a sees b primary at epoch 7", () =>
      seen.some((event) => event.member.id === "b" && event.member.meta.epoch === 7),
    );
    expect(a.members().find((member) => member.id === "b")?.meta.primary).toBe(true);
  });

  test("a graceful leave is seen as left, never dead", async () => {
    const a = await startDriver("a");
    const b = await startDriver("b");
    b.join([a.address]);
    await until("joined", () => allAlive([a, b]));
    await b.leave(200);
    await until("a sees b left", () => stateOf(a, "b") === "left");
  });

  test("a closed port is declared dead quickly through the refusal check", async () => {
    const drivers = [await startDriver("a"), await startDriver("b"), await startDriver("c")];
    const [a, b, c] = drivers as [GossipDriver, GossipDriver, GossipDriver];
    b.join([a.address]);
    c.join([a.address]);
    await until("joined", () => allAlive(drivers));
    c.close();
    await until(
      "a and b see c dead",
      () => stateOf(a, "c") === "dead" && stateOf(b, "c") === "dead",
    );
    expect(a.stats().refusalsFound + b.stats().refusalsFound).toBeGreaterThan(0);
  });

  test("probes, their round trips and suspicions are counted in /metrics", async () => {
    const metrics = new MetricsRegistry();
    // Two members only: nobody but a itself can make a suspect b.
    const a = await startDriver("a", { metrics });
    const b = await startDriver("b");
    b.join([a.address]);
    await until("joined", () => allAlive([a, b]));
    const series = (name: string): number => {
      const line = metrics
        .render()
        .split("\n")
        .find((candidate) => candidate.startsWith(`${name} `));
      return Number(line?.slice(name.length + 1) ?? Number.NaN);
    };
    await until("a probe answered", () => series("ftfs_gossip_probe_round_trip_seconds_count") > 0);
    expect(series("ftfs_gossip_probes_total")).toBeGreaterThan(0);
    expect(series("ftfs_gossip_suspicions_total")).toBe(0);
    b.close();
    await until("a sees b dead", () => stateOf(a, "b") === "dead");
    expect(series("ftfs_gossip_suspicions_total")).toBe(1);
    expect(series("ftfs_gossip_refutations_total")).toBe(0);
    // b closed its port on a live host: refused, never silent.
    expect(series("ftfs_gossip_silent_host_suspicions_total")).toBe(0);
  });

  test("a datagram under another key is dropped and counted; its sender never joins", async () => {
    const a = await startDriver("a", { keyring: Keyring.parse(KEY_A) });
    const stranger = await startDriver("x", { keyring: Keyring.parse(KEY_B) });
    stranger.join([a.address]);
    await until("a drops the stranger's joins", () => a.stats().dropped.unauthenticated >= 1);
    expect(a.members().map((member) => member.id)).toEqual([swim.memberId("a")]);
  });

  test("a rotated keyring (new key first, old kept) still verifies the old key", async () => {
    const a = await startDriver("a", { keyring: Keyring.parse(`${KEY_B},${KEY_A}`) });
    const b = await startDriver("b", { keyring: Keyring.parse(KEY_A) });
    const c = await startDriver("c", { keyring: Keyring.parse(`${KEY_A},${KEY_B}`) });
    b.join([c.address]);
    a.join([c.address]);
    // a signs with B, which b cannot verify: c (knows both) is the only bridge, so b may
    // count drops, but a and c converge and b learns of a through c.
    await until(
      "a and c see each other",
      () => stateOf(a, "c") === "alive" && stateOf(c, "a") === "alive",
    );
    await until("b learns of a through c", () => stateOf(b, "a") !== undefined);
  });

  test("garbage, oversize, malformed datagrams: dropped, counted; gossip goes on", async () => {
    const a = await startDriver("a");
    const b = await startDriver("b");
    await rawSend(a, new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    await rawSend(a, new Uint8Array(1500).fill(0x41));
    const goodStart = swim.encodeDatagram([]).subarray(0, 2);
    await rawSend(a, Uint8Array.from([...goodStart, 0x7b, 0x7b, 0x7b]));
    await until("three drops counted", () => {
      const dropped = a.stats().dropped;
      return dropped.foreign === 1 && dropped.oversize === 1 && dropped.malformed === 1;
    });
    b.join([a.address]);
    await until("still joins after garbage", () => allAlive([a, b]));
  });
});

describe("Keyring", () => {
  test("the first key signs, every key verifies, a tampered byte fails", () => {
    const rotated = Keyring.parse(`${KEY_B},${KEY_A}`);
    const old = Keyring.parse(KEY_A);
    const payload = new TextEncoder().encode("hello");
    expect(rotated.open(old.seal(payload))).toEqual(payload);
    expect(old.open(rotated.seal(payload))).toBeNull();
    const sealed = old.seal(payload);
    sealed[0] = 0x68 ^ 1;
    expect(old.open(sealed)).toBeNull();
  });

  test("bad keys are refused with a typed error", () => {
    expect(() => Keyring.parse("c2hvcnQ=")).toThrow("16..64 bytes");
    expect(() => Keyring.parse("not base64!")).toThrow("not base64");
    expect(Keyring.parse("").isOpen).toBe(true);
  });
});
