/**
 * The gossip codec round-trips every message type, packs within GOSSIP_PAYLOAD_BYTES_MAX (so a
 * datagram with the driver's tag fits 1,400 bytes) however much is queued, and answers garbage,
 * truncated, oversize or malformed input with a BAD_FRAME value, never an exception.
 */
import { describe, expect, test } from "bun:test";
import { Prng } from "../prng.ts";
import {
  buildSyncMessages,
  decodeDatagram,
  encodeDatagram,
  encodeMessage,
  PacketBuilder,
} from "./codec.ts";
import {
  GOSSIP_DATAGRAM_BYTES_MAX,
  GOSSIP_DATAGRAM_RESERVED_BYTES,
  GOSSIP_PAYLOAD_BYTES_MAX,
  swimConfig,
} from "./config.ts";
import type { SwimMessage } from "./messages.ts";
import { SwimNode } from "./node.ts";
import { memberId, type MemberMeta, type MemberView } from "./types.ts";

const META: MemberMeta = {
  role: "storage",
  group: "g-1",
  address: "10.0.0.7:7000",
  primary: true,
  epoch: 12,
  usedBytes: 123_456_789,
  capacityBytes: 1_000_000_000_000,
  metaVersion: 3,
};

const A = memberId("storage-a1");
const B = memberId("storage-b2");

function view(index: number, state: MemberView["state"] = "alive"): MemberView {
  const id = memberId(`node-${"x".repeat(40)}-${index}`);
  return {
    id,
    address: `10.0.${index >> 8}.${index & 255}:7946`,
    state,
    incarnation: index,
    meta: META,
  };
}

const ONE_OF_EACH: SwimMessage[] = [
  { type: "ping", seq: 1, from: A, target: B },
  { type: "ack", seq: 0xffff_ffff, from: B },
  { type: "ack", seq: 2, from: B, unknownSender: true },
  { type: "ping-req", seq: 3, from: A, target: B, targetAddress: "10.0.0.2:7946" },
  { type: "nack", seq: 4, from: B },
  { type: "alive", id: A, incarnation: 5, address: "10.0.0.1:7946", meta: META },
  { type: "alive", id: B, incarnation: 0, address: "h:1", meta: { ...META, group: null } },
  { type: "suspect", id: B, incarnation: 6, from: A },
  { type: "dead", id: B, incarnation: 7, from: A },
  { type: "leave", id: A, incarnation: 8 },
  { type: "sync-request", syncId: 9, from: A, members: [view(1), view(2, "dead")] },
  { type: "sync-response", syncId: 9, from: B, members: [view(3, "left"), view(4, "suspect")] },
  { type: "join", syncId: 10, member: view(5) },
];

describe("swim codec", () => {
  test("every message type survives encode and decode unchanged", () => {
    for (const message of ONE_OF_EACH) {
      const decoded = decodeDatagram(encodeDatagram([message]));
      expect(decoded).toEqual({ ok: true, value: [message] });
    }
  });

  test("several messages share one datagram (compound packet)", () => {
    const small = ONE_OF_EACH.filter((message) => !message.type.startsWith("sync"));
    const packet = new PacketBuilder();
    for (const message of small) expect(packet.tryAdd(message)).toBe(true);
    expect(packet.encode().length).toBe(packet.bytes);
    expect(decodeDatagram(packet.encode())).toEqual({ ok: true, value: small });
  });

  test("the builder refuses what would overflow, by exact byte count", () => {
    const packet = new PacketBuilder();
    const alive = ONE_OF_EACH[5] as SwimMessage;
    let added = 0;
    while (packet.tryAdd(alive)) added += 1;
    expect(added).toBeGreaterThan(3);
    expect(packet.encode().length).toBeLessThanOrEqual(GOSSIP_PAYLOAD_BYTES_MAX);
    expect(packet.freeBytes).toBeLessThan(encodeMessage(alive).length);
  });

  test("the payload limit leaves room for the driver's authentication tag within 1,400", () => {
    expect(GOSSIP_PAYLOAD_BYTES_MAX + GOSSIP_DATAGRAM_RESERVED_BYTES).toBe(
      GOSSIP_DATAGRAM_BYTES_MAX,
    );
    expect(GOSSIP_DATAGRAM_BYTES_MAX).toBe(1400);
  });

  test("a large state splits into sync parts that each fit, and lose nobody", () => {
    const members = Array.from({ length: 500 }, (_, index) => view(index));
    const parts = buildSyncMessages("sync-response", 77, A, members);
    expect(parts.length).toBeGreaterThan(10);
    const back: MemberView[] = [];
    for (const part of parts) {
      const bytes = encodeDatagram([part]);
      expect(bytes.length).toBeLessThanOrEqual(GOSSIP_PAYLOAD_BYTES_MAX);
      const decoded = decodeDatagram(bytes);
      if (!decoded.ok) throw decoded.error;
      const [message] = decoded.value;
      if (message?.type !== "sync-response") throw new Error("expected a sync part");
      back.push(...message.members);
    }
    expect(back).toEqual(members);
  });

  test("every packet a node emits fits, even with a thousand rumors queued", () => {
    const config = swimConfig();
    const node = new SwimNode({
      id: A,
      address: "10.9.9.9:7946",
      meta: META,
      config,
      prng: new Prng(1),
      nowMs: 0,
    });
    const members = Array.from({ length: 1000 }, (_, index) => view(index));
    for (const member of members) {
      const { id, incarnation, address, meta } = member;
      node.receive(0, "10.0.0.1:7946", [{ type: "alive", id, incarnation, address, meta }]);
    }
    node.receive(1, "10.0.0.1:7946", [{ type: "sync-request", syncId: 1, from: B, members }]);
    for (let nowMs = 0; nowMs < 5000; nowMs += 50) node.tick(nowMs);
    const packets = node.takeOutbox();
    expect(packets.length).toBeGreaterThan(50);
    for (const packet of packets) {
      expect(packet.bytes.length).toBeLessThanOrEqual(GOSSIP_PAYLOAD_BYTES_MAX);
      expect(decodeDatagram(packet.bytes).ok).toBe(true);
    }
  });
});

describe("swim decode rejects bad input with a value", () => {
  const valid = encodeDatagram(ONE_OF_EACH.slice(0, 6));
  const text = (value: string) => new TextEncoder().encode(value);

  test.each([
    ["empty", new Uint8Array(0)],
    ["foreign magic", text('X1[{"t":"ping"}]')],
    ["magic only", text("S1")],
    ["not JSON", text("S1[{")],
    ["invalid UTF-8", new Uint8Array([0x53, 0x31, 0x5b, 0xff, 0xfe, 0x5d])],
    ["not an array", text('S1{"t":"ping"}')],
    ["unknown tag", text('S1[{"t":"warp","s":1}]')],
    ["missing field", text('S1[{"t":"ping","s":1,"f":"a"}]')],
    ["negative seq", text('S1[{"t":"ping","s":-1,"f":"a","d":"b"}]')],
    ["fractional incarnation", text('S1[{"t":"leave","i":"a","n":1.5}]')],
    ["address without port", text('S1[{"t":"preq","s":1,"f":"a","d":"b","a":"host"}]')],
    ["empty id", text('S1[{"t":"ack","s":1,"f":""}]')],
    ["bad state letter", text('S1[{"t":"join","y":1,"m":{"i":"a","a":"h:1","s":"z","n":0}}]')],
    ["too many messages", text(`S1[${Array(65).fill('{"t":"nack","s":1,"f":"a"}').join(",")}]`)],
    ["oversize", new Uint8Array(GOSSIP_PAYLOAD_BYTES_MAX + 1).fill(0x20)],
    ["truncated", valid.subarray(0, valid.length - 7)],
  ])("%s", (_name, bytes) => {
    const decoded = decodeDatagram(bytes);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error.code).toBe("BAD_FRAME");
  });

  test("every prefix and 5,000 corruptions of a datagram decode or fail cleanly", () => {
    for (let length = 0; length <= valid.length; length += 1) {
      expect(() => decodeDatagram(valid.subarray(0, length))).not.toThrow();
    }
    const prng = new Prng(99);
    for (let round = 0; round < 5000; round += 1) {
      const bytes = valid.slice();
      const flips = 1 + prng.intBelow(4);
      for (let i = 0; i < flips; i += 1) bytes[prng.intBelow(bytes.length)] = prng.intBelow(256);
      expect(() => decodeDatagram(bytes)).not.toThrow();
    }
  });
});
