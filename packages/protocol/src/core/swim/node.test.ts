/**
 * SwimNode, driven by hand: each test pins one sentence of SWIM or Lifeguard (probe, ping-req,
 * nack, suspicion and its confirmations, refutation, buddy, unreachable, leave, metadata,
 * restart, stalls, reclaim, bounds) by delivering, delaying or dropping exact packets.
 */
import { describe, expect, test } from "bun:test";
import { Prng } from "../prng.ts";
import { swimConfig, type SwimConfig } from "./config.ts";
import type { SwimMessage } from "./messages.ts";
import { SwimNode } from "./node.ts";
import type { OutboundPacket } from "./context.ts";
import { memberId, type MemberMetaFields } from "./types.ts";

const META: MemberMetaFields = {
  role: "storage",
  group: "g1",
  address: "10.0.0.1:7000",
  primary: false,
  epoch: 1,
  usedBytes: 0,
  capacityBytes: 1000,
};
const TICK_MS = 50;
const LAN = swimConfig();

function makeNode(name: string, config: SwimConfig = swimConfig(), nowMs = 0): SwimNode {
  return new SwimNode({
    id: memberId(name),
    address: `${name}:7946`,
    meta: META,
    config,
    prng: new Prng(name.charCodeAt(0)),
    nowMs,
  });
}

function aliveOf(node: SwimNode): SwimMessage {
  const self = node.member(node.id);
  if (self === undefined) throw new Error("a node always knows itself");
  return {
    type: "alive",
    id: self.id,
    incarnation: self.incarnation,
    address: self.address,
    meta: self.meta,
  };
}

/** A hand-cranked network: packets wait in outboxes until a test delivers them. */
class Wire {
  readonly nodes = new Map<string, SwimNode>();
  readonly down = new Set<string>();
  readonly log: OutboundPacket[] = [];

  constructor(nodes: readonly SwimNode[]) {
    for (const node of nodes) this.nodes.set(node.address, node);
  }

  /** Everyone learns of everyone, as after a completed join; events are cleared. */
  introduceAll(nowMs = 0): void {
    for (const node of this.nodes.values()) {
      for (const other of this.nodes.values()) {
        if (other !== node) node.receive(nowMs, other.address, [aliveOf(other)]);
      }
      node.takeEvents();
      node.takeOutbox();
    }
  }

  /** Delivers every packet waiting in every outbox, and what they provoke, until quiet. */
  flush(nowMs: number): void {
    for (let round = 0; round < 20; round += 1) {
      let moved = 0;
      for (const sender of this.nodes.values()) {
        for (const packet of sender.takeOutbox()) {
          moved += 1;
          this.log.push(packet);
          const receiver = this.nodes.get(packet.to);
          if (receiver === undefined || this.down.has(packet.to)) continue;
          const result = receiver.receiveDatagram(nowMs, sender.address, packet.bytes);
          if (!result.ok) throw result.error;
        }
      }
      if (moved === 0) return;
    }
  }

  /** Ticks every up node from `fromMs` to `toMs` (inclusive), delivering as it goes. */
  run(fromMs: number, toMs: number): void {
    for (let nowMs = fromMs; nowMs <= toMs; nowMs += TICK_MS) {
      for (const [address, node] of this.nodes) if (!this.down.has(address)) node.tick(nowMs);
      this.flush(nowMs);
    }
  }
}

function messagesIn(packets: readonly OutboundPacket[]): SwimMessage[] {
  return packets.flatMap((packet) => [...packet.messages]);
}

/** Ticks `node` alone until it sends a ping; returns the time and the ping. */
function tickUntilPing(
  node: SwimNode,
  fromMs: number,
): { atMs: number; target: string; packets: OutboundPacket[] } {
  for (let nowMs = fromMs; nowMs < fromMs + 10_000; nowMs += TICK_MS) {
    node.tick(nowMs);
    const packets = node.takeOutbox();
    const ping = messagesIn(packets).find((message) => message.type === "ping");
    if (ping?.type === "ping") return { atMs: nowMs, target: ping.target, packets };
  }
  throw new Error("no probe within 10 s");
}

function tickAlone(node: SwimNode, fromMs: number, toMs: number): OutboundPacket[] {
  const packets: OutboundPacket[] = [];
  for (let nowMs = fromMs; nowMs <= toMs; nowMs += TICK_MS) {
    node.tick(nowMs);
    packets.push(...node.takeOutbox());
  }
  return packets;
}

function five(config: SwimConfig = swimConfig()): { wire: Wire; nodes: SwimNode[] } {
  const nodes = ["a", "b", "c", "d", "e"].map((name) => makeNode(name, config));
  const wire = new Wire(nodes);
  wire.introduceAll();
  return { wire, nodes };
}

describe("SwimNode probing", () => {
  test("a direct ack ends the probe: nobody is suspected, the health score stays at zero", () => {
    const { wire, nodes } = five();
    wire.run(0, 10_000);
    const [a] = nodes as [SwimNode];
    expect(a.stats().probes).toBeGreaterThanOrEqual(9);
    expect(a.stats().probesFailed).toBe(0);
    expect(a.stats().awarenessScore).toBe(0);
    expect(a.members().every((member) => member.state === "alive")).toBe(true);
  });

  test("silence: ping-req to k=3 at the timeout, suspect at period end, dead at Smax", () => {
    const { nodes } = five();
    const a = nodes[0] as SwimNode;
    const probe = tickUntilPing(a, 0);
    const early = tickAlone(a, probe.atMs + TICK_MS, probe.atMs + LAN.probeTimeoutMs - TICK_MS);
    expect(messagesIn(early).some((m) => m.type === "ping-req")).toBe(false);
    const requests = tickAlone(a, probe.atMs + LAN.probeTimeoutMs, probe.atMs + LAN.probeTimeoutMs);
    const helpers = requests.filter((p) => p.messages.some((m) => m.type === "ping-req"));
    expect(new Set(helpers.map((p) => p.to)).size).toBe(3);
    expect(helpers.some((p) => p.to === `${probe.target}:7946`)).toBe(false);
    tickAlone(a, probe.atMs + LAN.probeTimeoutMs + TICK_MS, probe.atMs + 1000);
    const target = memberId(probe.target);
    expect(a.member(target)?.state).toBe("suspect");
    expect(a.takeEvents().map((e) => `${e.kind} ${e.member.id}`)).toContain(`suspect ${target}`);
    expect(a.stats().suspicions).toBe(1);
    expect(a.takeProbeRoundTrips()).toEqual([]); // never answered: no round trip
    // Three helpers, no nacks: our own messages may not be getting out (Lifeguard).
    expect(a.stats().awarenessScore).toBe(3);
    const suspectedAtMs = probe.atMs + 1000;
    tickAlone(a, suspectedAtMs + TICK_MS, suspectedAtMs + 24_000 - TICK_MS);
    expect(a.member(target)?.state).toBe("suspect");
    tickAlone(a, suspectedAtMs + 24_000, suspectedAtMs + 24_000);
    expect(a.member(target)?.state).toBe("dead");
  });

  test("two independent confirmations bring a suspicion down to Smin", () => {
    const { nodes } = five();
    const [a, , c, d] = nodes as [SwimNode, SwimNode, SwimNode, SwimNode];
    const probe = tickUntilPing(a, 0);
    tickAlone(a, probe.atMs + TICK_MS, probe.atMs + 1000);
    const target = memberId(probe.target);
    const confirmers = [c, d].filter((node) => node.id !== target);
    const incarnation = a.member(target)?.incarnation ?? -1;
    for (const [index, from] of [...confirmers, nodes[4] as SwimNode].slice(0, 2).entries()) {
      a.receive(probe.atMs + 1000 + index, from.address, [
        { type: "suspect", id: target, incarnation, from: from.id },
      ]);
    }
    const suspectedAtMs = probe.atMs + 1000;
    tickAlone(a, suspectedAtMs + TICK_MS, suspectedAtMs + 4000 - TICK_MS);
    expect(a.member(target)?.state).toBe("suspect");
    tickAlone(a, suspectedAtMs + 4000, suspectedAtMs + 4000);
    expect(a.member(target)?.state).toBe("dead");
  });

  test("nacks from relays that cannot reach the target spare the prober's health score", () => {
    const { wire, nodes } = five();
    const a = nodes[0] as SwimNode;
    const probe = tickUntilPing(a, 0);
    wire.down.add(`${probe.target}:7946`);
    for (let nowMs = probe.atMs + TICK_MS; nowMs <= probe.atMs + 1000; nowMs += TICK_MS) {
      for (const node of nodes) if (node.id !== probe.target && node !== a) node.tick(nowMs);
      a.tick(nowMs);
      wire.flush(nowMs);
      if (nowMs === probe.atMs + 900) expect(a.stats().awarenessScore).toBe(0);
    }
    expect(messagesIn(wire.log).filter((m) => m.type === "nack").length).toBeGreaterThanOrEqual(3);
    expect(a.member(memberId(probe.target))?.state).toBe("suspect");
    expect(a.stats().awarenessScore).toBe(0);
  });

  test("at the ack timeout the ping goes out again and the target's host is checked", () => {
    const { nodes } = five();
    const a = nodes[0] as SwimNode;
    const probe = tickUntilPing(a, 0);
    expect(a.takeHostChecks()).toEqual([]);
    const atTimeout = tickAlone(a, probe.atMs + TICK_MS, probe.atMs + LAN.probeTimeoutMs);
    const resent = atTimeout.filter((p) => p.to === `${probe.target}:7946`);
    expect(messagesIn(resent).filter((m) => m.type === "ping")).toHaveLength(1);
    expect(a.takeHostChecks()).toEqual([`${probe.target}:7946`]);
    expect(a.stats().hostChecks).toBe(1);
  });

  test("a silent host and every relay's nack: suspected at once, dead 400 ms later", () => {
    const { wire, nodes } = five();
    const a = nodes[0] as SwimNode;
    const probe = tickUntilPing(a, 0);
    const targetAddress = `${probe.target}:7946`;
    const target = memberId(probe.target);
    wire.down.add(targetAddress);
    const verdictAtMs = probe.atMs + 850;
    for (let nowMs = probe.atMs + TICK_MS; nowMs < verdictAtMs; nowMs += TICK_MS) {
      for (const node of nodes) if (node.address !== targetAddress && node !== a) node.tick(nowMs);
      a.tick(nowMs);
      wire.flush(nowMs);
    }
    expect(a.member(target)?.state).toBe("alive");
    // Every relay has nacked by now; the host check's verdict is the last word.
    a.hostSilent(verdictAtMs, targetAddress);
    expect(a.member(target)?.state).toBe("suspect");
    expect(a.stats().silentHostSuspicions).toBe(1);
    const suspectedAtMs = verdictAtMs;
    const buddy = a.takeOutbox().filter((p) => p.to === targetAddress);
    expect(messagesIn(buddy).map((m) => m.type)).toContain("ping");
    expect(messagesIn(buddy).some((m) => m.type === "suspect" && m.id === target)).toBe(true);
    tickAlone(a, suspectedAtMs + TICK_MS, suspectedAtMs + 400 - TICK_MS);
    expect(a.member(target)?.state).toBe("suspect");
    tickAlone(a, suspectedAtMs + 400, suspectedAtMs + 400);
    expect(a.member(target)?.state).toBe("dead");
  });

  test("a death we declare goes at once to every live member, not only to gossip's three", () => {
    const { nodes } = five();
    const a = nodes[0] as SwimNode;
    const probe = tickUntilPing(a, 0);
    const targetAddress = `${probe.target}:7946`;
    const target = memberId(probe.target);
    a.unreachable(probe.atMs, targetAddress);
    const deadAtMs = probe.atMs + LAN.unreachableSuspicionMs;
    tickAlone(a, probe.atMs + TICK_MS, deadAtMs - TICK_MS);
    expect(a.member(target)?.state).toBe("suspect");
    a.tick(deadAtMs);
    expect(a.member(target)?.state).toBe("dead");
    const told = a
      .takeOutbox()
      .filter((p) => p.messages.some((m) => m.type === "dead" && m.id === target))
      .map((p) => p.to)
      // Gossip also tells the dead member itself, so a wrong verdict is refuted.
      .filter((to) => to !== targetAddress);
    const others = nodes.filter((n) => n !== a && n.id !== target).map((n) => n.address);
    expect(new Set(told)).toEqual(new Set(others));
  });

  test("a silent host without any nack (the fault may be ours) gets the Lifeguard timer", () => {
    const { nodes } = five();
    const a = nodes[0] as SwimNode;
    const probe = tickUntilPing(a, 0);
    tickAlone(a, probe.atMs + TICK_MS, probe.atMs + 900);
    a.hostSilent(probe.atMs + 900, `${probe.target}:7946`);
    tickAlone(a, probe.atMs + 950, probe.atMs + 1000);
    const target = memberId(probe.target);
    expect(a.member(target)?.state).toBe("suspect");
    expect(a.stats().silentHostSuspicions).toBe(0);
    tickAlone(a, probe.atMs + 1050, probe.atMs + 10_000);
    expect(a.member(target)?.state).toBe("suspect");
  });

  test("a relay pings the target again halfway to its nack", () => {
    const { nodes } = five();
    const [a, b] = nodes as [SwimNode, SwimNode];
    b.receive(0, a.address, [
      { type: "ping-req", seq: 7, from: a.id, target: memberId("c"), targetAddress: "c:7946" },
    ]);
    const first = b.takeOutbox().filter((p) => p.to === "c:7946");
    expect(messagesIn(first).filter((m) => m.type === "ping")).toHaveLength(1);
    const later = tickAlone(b, 200, 400);
    const pings = messagesIn(later.filter((p) => p.to === "c:7946")).filter(
      (m) => m.type === "ping",
    );
    expect(pings).toHaveLength(1);
    const nacks = messagesIn(later.filter((p) => p.to === a.address)).filter(
      (m) => m.type === "nack",
    );
    expect(nacks).toHaveLength(1);
  });

  test("an answered probe's round trip is its ack's time less its ping's, taken once", () => {
    const { nodes } = five();
    const a = nodes[0] as SwimNode;
    const probe = tickUntilPing(a, 0);
    const ping = messagesIn(probe.packets).find((m) => m.type === "ping");
    if (ping?.type !== "ping") throw new Error("expected the ping");
    a.receive(probe.atMs + 30, `${probe.target}:7946`, [
      { type: "ack", seq: ping.seq + 1000, from: memberId(probe.target) }, // not this probe's
      { type: "ack", seq: ping.seq, from: memberId(probe.target) },
      { type: "ack", seq: ping.seq, from: memberId(probe.target) }, // a duplicate
    ]);
    expect(a.takeProbeRoundTrips()).toEqual([30]);
    expect(a.takeProbeRoundTrips()).toEqual([]);
  });

  test("a stall between ticks slides deadlines: an ack read after the stall still counts", () => {
    const { nodes } = five();
    const a = nodes[0] as SwimNode;
    const probe = tickUntilPing(a, 0);
    const stalledAtMs = probe.atMs + 3000;
    a.tick(stalledAtMs);
    expect(messagesIn(a.takeOutbox()).some((m) => m.type === "ping-req")).toBe(false);
    const seq = probe.packets.flatMap((p) => [...p.messages]).find((m) => m.type === "ping");
    if (seq?.type !== "ping") throw new Error("expected the ping");
    a.receive(stalledAtMs, `${probe.target}:7946`, [
      { type: "ack", seq: seq.seq, from: memberId(probe.target) },
    ]);
    // The next probe starts right after; stop before its own period could end.
    tickAlone(a, stalledAtMs + TICK_MS, stalledAtMs + 1000);
    expect(a.stats().stalls).toBe(1);
    expect(a.stats().probesFailed).toBe(0);
    // The round trip is the ack's time less the ping's, stall included.
    expect(a.takeProbeRoundTrips()).toEqual([3000]);
    expect(a.member(memberId(probe.target))?.state).toBe("alive");
  });
});

describe("SwimNode suspicion and refutation", () => {
  test("a suspected member refutes with a higher incarnation, and the suspicion clears", () => {
    const { wire, nodes } = five();
    const [a, b] = nodes as [SwimNode, SwimNode];
    a.receive(0, "c:7946", [{ type: "suspect", id: b.id, incarnation: 0, from: memberId("c") }]);
    expect(a.member(b.id)?.state).toBe("suspect");
    b.receive(0, "a:7946", [{ type: "suspect", id: b.id, incarnation: 0, from: memberId("c") }]);
    expect(b.incarnation).toBe(1);
    wire.run(TICK_MS, 2000);
    expect(a.member(b.id)).toMatchObject({ state: "alive", incarnation: 1 });
    expect(a.takeEvents().map((e) => e.kind)).toEqual(["suspect", "alive"]);
    expect([a.stats().suspicions, a.stats().refutations]).toEqual([1, 0]);
    expect([b.stats().suspicions, b.stats().refutations]).toEqual([0, 1]);
  });

  test("buddy: a ping to a suspect carries the suspicion; its ack carries the refutation", () => {
    const { wire, nodes } = five();
    const [a, b] = nodes as [SwimNode, SwimNode];
    a.receive(0, "c:7946", [{ type: "suspect", id: b.id, incarnation: 0, from: memberId("c") }]);
    const toB = tickAlone(a, TICK_MS, 2000).filter((p) => p.to === b.address);
    const withPing = toB.find((p) => p.messages.some((m) => m.type === "ping"));
    expect(withPing?.messages.map((m) => m.type)).toEqual(
      expect.arrayContaining(["ping", "suspect"]),
    );
    if (withPing === undefined) throw new Error("a pings its suspect");
    b.receiveDatagram(2000, a.address, withPing.bytes);
    const ack = b.takeOutbox().find((p) => p.to === a.address);
    expect(ack?.messages.map((m) => m.type)).toEqual(expect.arrayContaining(["ack", "alive"]));
    if (ack === undefined) throw new Error("b answers a");
    a.receiveDatagram(2000, b.address, ack.bytes);
    expect(a.member(b.id)).toMatchObject({ state: "alive", incarnation: 1 });
    void wire;
  });

  test("stale suspicion of us is answered with our current alive", () => {
    const { nodes } = five();
    const b = nodes[1] as SwimNode;
    b.receive(0, "c:7946", [{ type: "suspect", id: b.id, incarnation: 0, from: memberId("c") }]);
    b.takeOutbox();
    b.receive(10, "a:7946", [
      { type: "ping", seq: 7, from: memberId("a"), target: b.id },
      { type: "suspect", id: b.id, incarnation: 0, from: memberId("a") },
    ]);
    expect(b.incarnation).toBe(1);
    const ack = b.takeOutbox().find((p) => p.to === "a:7946");
    expect(ack?.messages).toContainEqual(
      expect.objectContaining({ type: "alive", incarnation: 1 }),
    );
  });

  test("unreachable: suspected at once, dead after unreachableSuspicionMs, still refutable", () => {
    const { nodes } = five();
    const [a, b] = nodes as [SwimNode, SwimNode];
    a.unreachable(1000, b.address);
    expect(a.member(b.id)?.state).toBe("suspect");
    tickAlone(a, 1000, 1450);
    expect(a.member(b.id)?.state).toBe("suspect");
    tickAlone(a, 1500, 1500);
    expect(a.member(b.id)?.state).toBe("dead");
    a.receive(2000, b.address, [{ ...aliveOf(b), incarnation: 1 } as SwimMessage]);
    expect(a.member(b.id)?.state).toBe("alive");
    expect(a.takeEvents().map((e) => e.kind)).toEqual(["suspect", "dead", "joined"]);
  });
});

describe("SwimNode membership changes", () => {
  test("a graceful leave is recorded as left, and a late accusation brings the leave back", () => {
    const { nodes } = five();
    const [a, b] = nodes as [SwimNode, SwimNode];
    b.leave(1000);
    const sent = b.takeOutbox();
    expect(messagesIn(sent).some((m) => m.type === "leave")).toBe(true);
    for (const packet of sent) a.receiveDatagram(1000, b.address, packet.bytes);
    expect(a.member(b.id)?.state).toBe("left");
    a.receive(2000, "c:7946", [{ type: "suspect", id: b.id, incarnation: 0, from: memberId("c") }]);
    expect(a.member(b.id)?.state).toBe("left");
    const regossip = tickAlone(a, 2000, 2500);
    expect(messagesIn(regossip)).toContainEqual({ type: "leave", id: b.id, incarnation: 0 });
    expect(a.takeEvents().map((e) => e.kind)).toEqual(["left"]);
  });

  test("updateMeta bumps metaVersion and incarnation; others report `updated`", () => {
    const { wire, nodes } = five();
    const [a, b] = nodes as [SwimNode, SwimNode];
    b.updateMeta(100, { ...META, primary: true, epoch: 2 });
    expect(b.member(b.id)).toMatchObject({
      incarnation: 1,
      meta: { metaVersion: 1, primary: true },
    });
    wire.run(100, 3000);
    expect(a.member(b.id)?.meta).toMatchObject({ metaVersion: 1, primary: true, epoch: 2 });
    expect(a.takeEvents().map((e) => e.kind)).toEqual(["updated"]);
  });

  test("a restarted member (incarnation 0) learns it was declared dead and outbids it", () => {
    const { wire, nodes } = five();
    const a = nodes[0] as SwimNode;
    a.receive(0, "c:7946", [
      { type: "dead", id: memberId("b"), incarnation: 3, from: memberId("c") },
    ]);
    const reborn = makeNode("b", swimConfig(), 1000);
    wire.nodes.set(reborn.address, reborn);
    reborn.join(1000, [a.address]);
    wire.flush(1000);
    expect(reborn.incarnation).toBe(4);
    wire.run(1000, 3000);
    expect(a.member(reborn.id)).toMatchObject({ state: "alive", incarnation: 4 });
    expect(a.takeEvents().map((e) => e.kind)).toEqual(["dead", "joined"]);
  });

  test("a ping for another id is ignored; an unknown pinger is asked to introduce itself", () => {
    const { wire, nodes } = five();
    const a = nodes[0] as SwimNode;
    a.receive(0, "x:7946", [{ type: "ping", seq: 1, from: memberId("x"), target: memberId("zz") }]);
    expect(a.takeOutbox()).toEqual([]);
    expect(a.stats().pingsMisdirected).toBe(1);
    const stranger = makeNode("x");
    wire.nodes.set(stranger.address, stranger);
    stranger.receive(0, a.address, [aliveOf(a)]);
    stranger.takeOutbox();
    const probe = tickUntilPing(stranger, 0);
    for (const packet of probe.packets)
      a.receiveDatagram(probe.atMs, stranger.address, packet.bytes);
    wire.flush(probe.atMs);
    expect(a.member(stranger.id)?.state).toBe("alive");
  });

  test("each sync request is answered once however many of its parts arrive", () => {
    const { nodes } = five();
    const a = nodes[0] as SwimNode;
    const part = { type: "sync-request", syncId: 5, from: memberId("b"), members: [] } as const;
    a.receive(0, "b:7946", [part]);
    a.receive(1, "b:7946", [part]);
    const answers = messagesIn(a.takeOutbox()).filter((m) => m.type === "sync-response");
    expect(answers).toHaveLength(1);
    expect(answers[0]?.type === "sync-response" && answers[0].members.length).toBe(5);
  });
});

describe("SwimNode bounds", () => {
  test("dead members are forgotten after deadReclaimMs", () => {
    const config = swimConfig({ deadReclaimMs: 5000 });
    const { nodes } = five(config);
    const a = nodes[0] as SwimNode;
    a.receive(0, "c:7946", [
      { type: "dead", id: memberId("b"), incarnation: 0, from: memberId("c") },
    ]);
    tickAlone(a, 0, 4000);
    expect(a.member(memberId("b"))?.state).toBe("dead");
    tickAlone(a, 4050, 6100);
    expect(a.member(memberId("b"))).toBeUndefined();
  });

  test("members beyond membersMax are refused and counted", () => {
    const a = makeNode("a", swimConfig({ membersMax: 3 }));
    for (const name of ["b", "c", "d"]) a.receive(0, `${name}:7946`, [aliveOf(makeNode(name))]);
    expect(a.members()).toHaveLength(3);
    expect(a.stats().membersRejected).toBe(1);
  });

  test("a malformed datagram is counted and returned as an error value", () => {
    const a = makeNode("a");
    const result = a.receiveDatagram(0, "b:7946", new TextEncoder().encode("S1[{]"));
    expect(result.ok).toBe(false);
    expect(a.stats().datagramsRejected).toBe(1);
  });
});
