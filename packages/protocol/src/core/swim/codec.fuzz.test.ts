/**
 * Fuzzing the gossip decoder: every UDP datagram from anyone that passes Keyring.open meets
 * decodeDatagram. Properties: valid datagrams round-trip exactly;
 * random and mutated datagrams (bit flips, truncation, JSON garbage after the magic, messages
 * with fields replaced, hostile keys, huge values) decode or give a BAD_FRAME value, never a
 * throw. The keyring's own fuzzing is io/gossip/keyring.fuzz.test.ts.
 */

import { expect } from "bun:test";
import fc from "fast-check";
import { fuzzTest } from "../../testing/fuzz.ts";
import {
  byteMutation,
  lengthEdges,
  mutateBytes,
  mutateJson,
  mutation,
} from "../../testing/fuzz-values.ts";
import { decodeDatagram, encodeDatagram, PacketBuilder } from "./codec.ts";
import { GOSSIP_PAYLOAD_BYTES_MAX } from "./config.ts";
import type { SwimMessage } from "./messages.ts";
import { memberId, type MemberMeta, type MemberView } from "./types.ts";

const utf8 = new TextEncoder();
const MAGIC = utf8.encode("S1");

/** Node ids as the schema allows them (NODE_ID_PATTERN); others are the mutation fuzzers' job. */
const nodeId = fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/).map(memberId);
const gossipAddress = fc
  .tuple(fc.stringMatching(/^[a-z0-9.-]{1,20}$/), fc.integer({ min: 0, max: 99_999 }))
  .map(([host, port]) => `${host}:${port}`);
const serviceAddress = fc.string({ minLength: 3, maxLength: 30 });
const count = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
const seq = fc.nat({ max: 0xffff_ffff });

const meta: fc.Arbitrary<MemberMeta> = fc.record({
  role: fc.constantFrom("directory" as const, "storage" as const),
  group: fc.option(fc.stringMatching(/^[A-Za-z0-9._-]{1,16}$/), { nil: null }),
  address: serviceAddress,
  primary: fc.boolean(),
  epoch: count,
  usedBytes: count,
  capacityBytes: count,
  metaVersion: count,
});

const member: fc.Arbitrary<MemberView> = fc.record({
  id: nodeId,
  address: gossipAddress,
  state: fc.constantFrom("alive" as const, "suspect" as const, "dead" as const, "left" as const),
  incarnation: count,
  meta,
});

const swimMessage: fc.Arbitrary<SwimMessage> = fc.oneof(
  fc.record({ type: fc.constant("ping" as const), seq, from: nodeId, target: nodeId }),
  fc.record(
    {
      type: fc.constant("ack" as const),
      seq,
      from: nodeId,
      unknownSender: fc.constant(true as const),
    },
    { requiredKeys: ["type", "seq", "from"] },
  ),
  fc.record({
    type: fc.constant("ping-req" as const),
    seq,
    from: nodeId,
    target: nodeId,
    targetAddress: gossipAddress,
  }),
  fc.record({ type: fc.constant("nack" as const), seq, from: nodeId }),
  fc.record({
    type: fc.constant("alive" as const),
    id: nodeId,
    incarnation: count,
    address: gossipAddress,
    meta,
  }),
  fc.record({
    type: fc.constant("suspect" as const),
    id: nodeId,
    incarnation: count,
    from: nodeId,
  }),
  fc.record({ type: fc.constant("dead" as const), id: nodeId, incarnation: count, from: nodeId }),
  fc.record({ type: fc.constant("leave" as const), id: nodeId, incarnation: count }),
  fc.record({
    type: fc.constantFrom("sync-request" as const, "sync-response" as const),
    syncId: seq,
    from: nodeId,
    members: fc.array(member, { maxLength: 3 }),
  }),
  fc.record({ type: fc.constant("join" as const), syncId: seq, member }),
);

/** As many of `messages` as fit one datagram, in order (the way the node builds packets). */
function fitting(messages: readonly SwimMessage[]): SwimMessage[] {
  const builder = new PacketBuilder();
  for (const message of messages) if (!builder.tryAdd(message)) break;
  return [...builder.messages];
}

const datagramMessages = fc.array(swimMessage, { minLength: 1, maxLength: 8 }).map(fitting);

/** Decoding must answer with messages or a BAD_FRAME value; anything else fails the property. */
function checkDecode(bytes: Uint8Array): SwimMessage[] | null {
  const decoded = decodeDatagram(bytes);
  if (!decoded.ok) {
    expect(decoded.error.code).toBe("BAD_FRAME");
    expect(decoded.error.message.length).toBeGreaterThan(0);
    return null;
  }
  // What decodes re-encodes within the limit and decodes to the same messages.
  const again = decodeDatagram(encodeDatagram(decoded.value));
  expect(again).toEqual({ ok: true, value: decoded.value });
  return decoded.value;
}

fuzzTest("gossip: valid datagrams round-trip exactly", 5_000, () =>
  fc.property(datagramMessages, (messages) => {
    const bytes = encodeDatagram(messages);
    expect(bytes.length).toBeLessThanOrEqual(GOSSIP_PAYLOAD_BYTES_MAX);
    expect(checkDecode(bytes)).toEqual(messages);
  }),
);

fuzzTest(
  "gossip: random datagrams, with and without the magic, decode or give BAD_FRAME",
  20_000,
  () =>
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 200 }).map((rest) => new Uint8Array([...MAGIC, ...rest])),
        fc.jsonValue({ maxDepth: 4 }).map((value) => utf8.encode(`S1${JSON.stringify(value)}`)),
        fc
          .integer({ min: GOSSIP_PAYLOAD_BYTES_MAX - 2, max: GOSSIP_PAYLOAD_BYTES_MAX + 2 })
          .map((length) => utf8.encode(`S1["${"a".repeat(Math.max(0, length - 6))}"]`)),
      ),
      (bytes) => {
        checkDecode(bytes);
      },
    ),
);

fuzzTest(
  "gossip: mutated datagrams (bytes and message fields) decode or give BAD_FRAME",
  10_000,
  () =>
    fc.property(
      datagramMessages,
      fc.array(byteMutation(lengthEdges(GOSSIP_PAYLOAD_BYTES_MAX)), { maxLength: 3 }),
      fc.array(mutation, { maxLength: 3 }),
      (messages, byteChanges, jsonChanges) => {
        const wire = JSON.parse(
          new TextDecoder().decode(encodeDatagram(messages).subarray(MAGIC.length)),
        ) as unknown;
        const mutated = utf8.encode(`S1${JSON.stringify(mutateJson(wire, jsonChanges))}`);
        checkDecode(mutateBytes(mutated, byteChanges));
      },
    ),
);
