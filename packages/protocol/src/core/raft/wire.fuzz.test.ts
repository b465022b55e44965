/**
 * Fuzzing the Raft wire decoder and the snapshot assembler, which take headers and payloads
 * from other directory nodes. Properties: valid messages round-trip exactly (snapshots also
 * when split into parts); arbitrary, schema-generated and mutated headers with random payloads
 * decode or give a BAD_REQUEST value, never a throw, and what decodes re-encodes to the same
 * message; an assembler fed any sequence of parts never throws and holds at most one partial
 * snapshot per sender for at most `sendersMax` senders.
 */

import { expect } from "bun:test";
import fc from "fast-check";
import { fuzzTest } from "../../testing/fuzz.ts";
import { mutateJson, mutation, validValue } from "../../testing/fuzz-values.ts";
import type { RaftMessage } from "./types.ts";
import { raftId } from "./types.ts";
import {
  decodeRaftMessage,
  encodeRaftMessage,
  raftWireHeaderSchema,
  SnapshotAssembler,
  splitRaftMessage,
} from "./wire.ts";

const id = fc.constantFrom("d1", "d2", "d3", "d4", "d5").map(raftId);
const counter = fc.oneof(fc.nat({ max: 1_000 }), fc.constant(Number.MAX_SAFE_INTEGER));
const bytes = fc.uint8Array({ maxLength: 64 });

/** Messages a correct node sends: terms never behind what they carry, entries contiguous. */
const raftMessage: fc.Arbitrary<RaftMessage> = fc
  .record({ from: id, to: id, term: counter })
  .filter(({ from, to }) => from !== to)
  .chain((envelope) => {
    const upToTerm = fc.nat({ max: envelope.term });
    const entry = fc.record({ term: upToTerm, command: fc.option(bytes, { nil: null }) });
    return fc
      .oneof(
        fc.record({
          type: fc.constantFrom("preVote" as const, "vote" as const),
          lastIndex: counter,
          lastTerm: upToTerm,
        }),
        fc.record({
          type: fc.constantFrom("preVoteResponse" as const, "voteResponse" as const),
          granted: fc.boolean(),
        }),
        fc
          .record({
            prevIndex: fc.nat({ max: 1_000 }),
            prevTerm: upToTerm,
            commit: counter,
            entries: fc.array(entry, { maxLength: 5 }),
          })
          .map(({ prevIndex, prevTerm, commit, entries }) => {
            const terms = entries.map((e) => Math.max(e.term, prevTerm)).sort((a, b) => a - b);
            const ordered = entries.map((e, i) => ({
              index: prevIndex + 1 + i,
              term: terms[i] ?? prevTerm,
              command: e.command,
            }));
            return { type: "append" as const, prevIndex, prevTerm, commit, entries: ordered };
          }),
        fc.record({
          type: fc.constant("appendResponse" as const),
          success: fc.boolean(),
          index: counter,
          hintIndex: counter,
        }),
        fc.record({ type: fc.constant("heartbeat" as const), commit: counter, readSeq: counter }),
        fc.record({ type: fc.constant("heartbeatResponse" as const), readSeq: counter }),
        fc.record({
          type: fc.constant("installSnapshot" as const),
          snapshot: fc.record({
            index: counter,
            term: upToTerm,
            data: fc.uint8Array({ maxLength: 200 }),
          }),
        }),
      )
      .map((body) => ({ ...envelope, ...body }) as RaftMessage);
  });

/** What a message looks like after a trip through JSON and bytes; compared field by field. */
function plain(message: unknown): unknown {
  return JSON.parse(
    JSON.stringify(message, (_key, value: unknown) =>
      value instanceof Uint8Array ? Array.from(value) : value,
    ),
  );
}

function checkDecoded(result: ReturnType<typeof decodeRaftMessage>): void {
  if (!result.ok) {
    expect(result.error.code).toBe("BAD_REQUEST");
    return;
  }
  const again = encodeRaftMessage(result.value);
  const redecoded = decodeRaftMessage(JSON.parse(JSON.stringify(again.header)), again.payload);
  expect(redecoded.ok).toBe(true);
  if (redecoded.ok) expect(plain(redecoded.value)).toEqual(plain(result.value));
}

fuzzTest("raft: valid messages round-trip exactly; snapshots also in parts", 5_000, () =>
  fc.property(raftMessage, fc.integer({ min: 1, max: 64 }), (message, partBytes) => {
    const part = encodeRaftMessage(message);
    const decoded = decodeRaftMessage(JSON.parse(JSON.stringify(part.header)), part.payload);
    expect(decoded.ok && plain(decoded.value)).toEqual(plain(message));
    const assembler = new SnapshotAssembler();
    const outputs = splitRaftMessage(message, partBytes).map((p) =>
      assembler.accept(JSON.parse(JSON.stringify(p.header)), p.payload),
    );
    const last = outputs.at(-1);
    expect(outputs.slice(0, -1).every((o) => o.ok && o.value === null)).toBe(true);
    expect(last?.ok === true && plain(last.value)).toEqual(plain(message));
    expect(assembler.pendingBytes).toBe(0);
  }),
);

const headerFromSpec = validValue(raftWireHeaderSchema.spec, "raft");

fuzzTest("raft: arbitrary, generated and mutated headers decode or give BAD_REQUEST", 10_000, () =>
  fc.property(
    fc.oneof(
      fc.jsonValue(),
      headerFromSpec,
      raftMessage.map((message) => encodeRaftMessage(message).header as unknown),
    ),
    fc.array(mutation, { maxLength: 3 }),
    fc.oneof(fc.constant(new Uint8Array(0)), bytes),
    (header, changes, payload) => {
      checkDecoded(decodeRaftMessage(mutateJson(header, changes), payload));
    },
  ),
);

const SENDERS_MAX = 2;

fuzzTest(
  "raft: any sequence of snapshot parts leaves the assembler bounded, never throwing",
  3_000,
  () =>
    fc.property(
      fc.array(
        fc.tuple(
          raftMessage,
          fc.integer({ min: 1, max: 32 }),
          fc.array(mutation, { maxLength: 2 }),
          fc.nat(),
        ),
        { minLength: 1, maxLength: 6 },
      ),
      (plan) => {
        const assembler = new SnapshotAssembler(SENDERS_MAX);
        // Parts of several messages, interleaved, some dropped, some mutated.
        const parts = plan.flatMap(([message, partBytes, changes, skip]) =>
          splitRaftMessage(message, partBytes)
            .filter((_, index) => skip % 5 !== 0 || index !== skip % 7)
            .map((p, index) => ({
              header: index === 0 ? mutateJson(p.header, changes) : p.header,
              payload: p.payload,
            })),
        );
        let largest = 0;
        for (const { header, payload } of parts) {
          const total = (header as { totalBytes?: unknown }).totalBytes;
          if (typeof total === "number") largest = Math.max(largest, total);
          const result = assembler.accept(JSON.parse(JSON.stringify(header)), payload);
          if (!result.ok) expect(result.error.code).toBe("BAD_REQUEST");
          expect(assembler.pendingBytes).toBeLessThanOrEqual(SENDERS_MAX * largest);
        }
      },
    ),
);
