/**
 * The Raft wire codec gives back exactly the message it was given, for every message type and
 * after a JSON trip of the header; puts every byte in the payload and none in the header;
 * splits a large snapshot into parts the assembler joins (also after an abandoned one); and
 * answers every malformed or hostile header with a BAD_REQUEST value, never an exception.
 */
import { describe, expect, test } from "bun:test";
import { FtfsError, ok, type Result } from "../errors.ts";
import { Prng } from "../prng.ts";
import {
  raftId,
  RAFT_APPEND_ENTRIES_MAX,
  RAFT_MEMBERS_MAX,
  type Membership,
  type Append,
  type Entry,
  type InstallSnapshot,
  type RaftId,
  type RaftMessage,
} from "./types.ts";
import {
  decodeRaftMessage,
  encodeRaftMessage,
  RAFT_SNAPSHOT_BYTES_MAX,
  RAFT_SNAPSHOT_PART_BYTES,
  RAFT_SNAPSHOT_SENDERS_MAX,
  raftWireHeaderSchema,
  SnapshotAssembler,
  splitRaftMessage,
  type RaftWirePart,
} from "./wire.ts";

const A = raftId("dir-a");
const B = raftId("dir-b");
const C = raftId("dir-c");

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** What the other end sees: the header after JSON, the payload as sent. */
function overWire(part: RaftWirePart): { header: unknown; payload: Uint8Array } {
  return { header: JSON.parse(JSON.stringify(part.header)), payload: part.payload };
}

/** A part the test made sure exists (a missing one is a broken test, said as such). */
function feed(
  assembler: SnapshotAssembler,
  part: RaftWirePart | undefined,
): Result<RaftMessage | null> {
  if (part === undefined) throw new Error("the test feeds a part it did not make");
  const { header, payload } = overWire(part);
  return assembler.accept(header, payload);
}

function roundTrip(message: RaftMessage): Result<RaftMessage> {
  const { header, payload } = overWire(encodeRaftMessage(message));
  return decodeRaftMessage(header, payload);
}

function expectRefused(result: Result<unknown>, messagePart: string): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.error).toBeInstanceOf(FtfsError);
  expect(result.error.code).toBe("BAD_REQUEST");
  expect(result.error.message).toContain(messagePart);
}

function snapshotMessage(
  index: number,
  data: Uint8Array,
  envelope: { from?: RaftId; to?: RaftId; term?: number } = {},
): InstallSnapshot {
  const { from = A, to = B, term = 4 } = envelope;
  return { type: "installSnapshot", from, to, term, snapshot: { index, term: 3, data } };
}

function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

const ENTRIES: Entry[] = [
  { index: 8, term: 2, command: bytes(1, 2, 3) },
  { index: 9, term: 3, command: null },
  { index: 10, term: 3, command: new Uint8Array(0) },
  { index: 11, term: 3, command: bytes(4) },
];

const APPEND: Append = {
  type: "append",
  from: A,
  to: B,
  term: 3,
  prevIndex: 7,
  prevTerm: 2,
  entries: ENTRIES,
  commit: 9,
};
const HEARTBEAT: RaftMessage = {
  type: "heartbeat",
  from: A,
  to: B,
  term: 3,
  commit: 11,
  readSeq: 17,
};

const EVERY_TYPE: RaftMessage[] = [
  { type: "preVote", from: A, to: B, term: 5, lastIndex: 11, lastTerm: 3 },
  { type: "vote", from: A, to: C, term: 5, lastIndex: 11, lastTerm: 3 },
  { type: "preVoteResponse", from: B, to: A, term: 5, granted: true },
  { type: "voteResponse", from: C, to: A, term: 5, granted: false },
  APPEND,
  { type: "append", from: A, to: B, term: 3, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 },
  { type: "appendResponse", from: B, to: A, term: 3, success: false, index: 7, hintIndex: 4 },
  HEARTBEAT,
  { type: "heartbeatResponse", from: B, to: A, term: 3, readSeq: 17 },
  snapshotMessage(40, patternBytes(100, 1)),
  snapshotMessage(41, new Uint8Array(0)),
];

const MEMBERSHIP: Membership = {
  members: [
    { id: A, address: "10.0.0.1:7101", voter: true },
    { id: B, address: "10.0.0.2:7101", voter: false },
  ],
};

describe("encode and decode", () => {
  test("a configuration entry and a snapshot's configuration come back equal", () => {
    const append: RaftMessage = {
      ...APPEND,
      entries: [{ index: 8, term: 2, command: null, membership: MEMBERSHIP }],
      commit: 7,
    };
    expect(roundTrip(append)).toEqual({ ok: true, value: append });
    const base = snapshotMessage(40, patternBytes(10, 1));
    const snapshot: RaftMessage = {
      ...base,
      snapshot: { ...base.snapshot, membership: MEMBERSHIP },
    };
    expect(roundTrip(snapshot)).toEqual({ ok: true, value: snapshot });
    for (const [part] of [splitRaftMessage(snapshot, 4)]) {
      expect(JSON.stringify(part?.header)).toContain("10.0.0.2:7101");
    }
  });

  test("the sender's folder and a member's bound folder come back equal, on every type", () => {
    for (const message of EVERY_TYPE) {
      const stamped: RaftMessage = { ...message, folder: "f-0123abcd" };
      expect(roundTrip(stamped)).toEqual({ ok: true, value: stamped });
    }
    const bound = {
      members: [{ id: A, address: "10.0.0.1:7101", voter: true, folder: "f-a" }],
    };
    const append: RaftMessage = {
      ...APPEND,
      entries: [{ index: 8, term: 2, command: null, membership: bound }],
      commit: 7,
    };
    expect(roundTrip(append)).toEqual({ ok: true, value: append });
  });

  test("every message type comes back equal after a JSON trip of its header", () => {
    const seen = new Set<string>();
    for (const message of EVERY_TYPE) {
      const decoded = roundTrip(message);
      expect(decoded).toEqual({ ok: true, value: message });
      seen.add(message.type);
    }
    expect(seen.size).toBe(9);
  });

  test("commands go to the payload back to back; the header carries only their lengths", () => {
    const { header, payload } = encodeRaftMessage(APPEND);
    expect(payload).toEqual(bytes(1, 2, 3, 4));
    expect(header).toEqual({
      type: "append",
      from: "dir-a",
      to: "dir-b",
      term: 3,
      prevIndex: 7,
      prevTerm: 2,
      commit: 9,
      entries: [
        { index: 8, term: 2, bytes: 3 },
        { index: 9, term: 3, bytes: -1 },
        { index: 10, term: 3, bytes: 0 },
        { index: 11, term: 3, bytes: 1 },
      ],
    });
  });

  test("a null command and an empty one stay distinct", () => {
    const decoded = roundTrip(APPEND);
    if (!decoded.ok || decoded.value.type !== "append") throw new Error("expected an append");
    expect(decoded.value.entries.map((entry) => entry.command)).toEqual([
      bytes(1, 2, 3),
      null,
      new Uint8Array(0),
      bytes(4),
    ]);
  });

  test("decoded commands own their bytes: reusing the payload buffer does not change them", () => {
    const { header, payload } = overWire(encodeRaftMessage(APPEND));
    const decoded = decodeRaftMessage(header, payload);
    payload.fill(0xee);
    if (!decoded.ok || decoded.value.type !== "append") throw new Error("expected an append");
    expect(decoded.value.entries[0]?.command).toEqual(bytes(1, 2, 3));
  });

  test("a single-part snapshot carries its data as the payload and its size in the header", () => {
    const { header, payload } = encodeRaftMessage(snapshotMessage(40, patternBytes(100, 1)));
    expect(payload.length).toBe(100);
    expect(header).toEqual({
      type: "installSnapshot",
      from: "dir-a",
      to: "dir-b",
      term: 4,
      snapshot: { index: 40, term: 3 },
      totalBytes: 100,
      part: 0,
      parts: 1,
      offset: 0,
    });
  });

  test("the op table's schema accepts every encoded header unchanged", () => {
    for (const message of EVERY_TYPE) {
      const { header } = encodeRaftMessage(message);
      expect(raftWireHeaderSchema.decode(JSON.parse(JSON.stringify(header)), "")).toEqual(header);
    }
  });
});

describe("split and assemble", () => {
  test("a snapshot over the part size becomes ordered parts that cover it exactly", () => {
    const data = patternBytes(10, 7);
    const parts = splitRaftMessage(snapshotMessage(40, data), 4);
    expect(parts.map((part) => part.header)).toEqual(
      [0, 1, 2].map((part) => ({
        type: "installSnapshot",
        from: "dir-a",
        to: "dir-b",
        term: 4,
        snapshot: { index: 40, term: 3 },
        totalBytes: 10,
        part,
        parts: 3,
        offset: part * 4,
      })),
    );
    expect(parts.map((part) => [...part.payload])).toEqual([
      [...data.subarray(0, 4)],
      [...data.subarray(4, 8)],
      [...data.subarray(8, 10)],
    ]);
  });

  test("every other message, and a snapshot within the part size, is one part", () => {
    for (const message of EVERY_TYPE) {
      expect(splitRaftMessage(message, 100)).toEqual([encodeRaftMessage(message)]);
    }
    expect(splitRaftMessage(snapshotMessage(1, patternBytes(4, 0)), 4)).toHaveLength(1);
  });

  test("the assembler returns null until the last part, then the whole message", () => {
    const message = snapshotMessage(40, patternBytes(10, 7));
    const assembler = new SnapshotAssembler();
    const results = splitRaftMessage(message, 4).map((part) => feed(assembler, part));
    expect(results).toEqual([ok(null), ok(null), ok(message)]);
    expect(assembler.pendingBytes).toBe(0);
    expect(assembler.partsDropped).toBe(0);
  });

  test("a large snapshot in RAFT_SNAPSHOT_PART_BYTES parts joins back byte for byte", () => {
    const data = patternBytes(2 * RAFT_SNAPSHOT_PART_BYTES + 5, 3);
    const message = snapshotMessage(90, data);
    const parts = splitRaftMessage(message, RAFT_SNAPSHOT_PART_BYTES);
    expect(parts.map((part) => part.payload.length)).toEqual([
      RAFT_SNAPSHOT_PART_BYTES,
      RAFT_SNAPSHOT_PART_BYTES,
      5,
    ]);
    const assembler = new SnapshotAssembler();
    let last: Result<RaftMessage | null> = ok(null);
    for (const part of parts) last = feed(assembler, part);
    expect(last).toEqual(ok(message));
  });

  test("a new snapshot's first part abandons the partial one; the new one completes", () => {
    const abandoned = splitRaftMessage(snapshotMessage(40, patternBytes(10, 1)), 4);
    const fresh = snapshotMessage(60, patternBytes(9, 2), { term: 5 });
    const assembler = new SnapshotAssembler();
    for (const part of abandoned.slice(0, 2)) {
      expect(feed(assembler, part)).toEqual(ok(null));
    }
    expect(assembler.pendingBytes).toBe(8);
    const freshParts = splitRaftMessage(fresh, 4);
    expect(feed(assembler, freshParts[0])).toEqual(ok(null));
    expect(assembler.partsDropped).toBe(2);
    expect(assembler.pendingBytes).toBe(4);
    // The abandoned snapshot's last part continues nothing: dropped, and the new one survives.
    const stale = abandoned[2];
    expect(feed(assembler, stale)).toEqual(ok(null));
    expect(assembler.partsDropped).toBe(3);
    const results = freshParts.slice(1).map((part) => feed(assembler, part));
    expect(results).toEqual([ok(null), ok(fresh)]);
    expect(assembler.pendingBytes).toBe(0);
  });

  test("a missing part abandons the snapshot; a resend from part 0 completes it", () => {
    const message = snapshotMessage(40, patternBytes(12, 4));
    const parts = splitRaftMessage(message, 4);
    const assembler = new SnapshotAssembler();
    expect(feed(assembler, parts[0])).toEqual(ok(null));
    expect(feed(assembler, parts[2])).toEqual(ok(null));
    expect(assembler.partsDropped).toBe(2);
    expect(assembler.pendingBytes).toBe(0);
    const results = parts.map((part) => feed(assembler, part));
    expect(results).toEqual([ok(null), ok(null), ok(message)]);
  });

  test("senders assemble independently, and past sendersMax the oldest partial goes", () => {
    const assembler = new SnapshotAssembler(2);
    const fromB = snapshotMessage(40, patternBytes(8, 1), { from: B, to: A });
    const fromC = snapshotMessage(41, patternBytes(8, 2), { from: C, to: A });
    const fromD = snapshotMessage(42, patternBytes(8, 3), { from: raftId("dir-d"), to: A });
    const [b0, b1] = splitRaftMessage(fromB, 4);
    const [c0, c1] = splitRaftMessage(fromC, 4);
    const [d0, d1] = splitRaftMessage(fromD, 4);
    expect(feed(assembler, b0)).toEqual(ok(null));
    expect(feed(assembler, c0)).toEqual(ok(null));
    expect(feed(assembler, c1)).toEqual(ok(fromC));
    expect(feed(assembler, d0)).toEqual(ok(null));
    expect(assembler.pendingBytes).toBe(8);
    const fromE = snapshotMessage(43, patternBytes(8, 4), { from: raftId("dir-e"), to: A });
    const [e0] = splitRaftMessage(fromE, 4);
    expect(feed(assembler, e0)).toEqual(ok(null));
    expect(assembler.partsDropped).toBe(1);
    expect(feed(assembler, b1)).toEqual(ok(null));
    expect(assembler.partsDropped).toBe(2);
    expect(feed(assembler, d1)).toEqual(ok(fromD));
    // Only a leader sends snapshots: one per other member of the largest configuration.
    expect(RAFT_SNAPSHOT_SENDERS_MAX).toBe(RAFT_MEMBERS_MAX - 1);
  });

  test("messages other than snapshot parts pass straight through the assembler", () => {
    const assembler = new SnapshotAssembler();
    for (const message of EVERY_TYPE) {
      const { header, payload } = overWire(encodeRaftMessage(message));
      expect(assembler.accept(header, payload)).toEqual(ok(message));
    }
  });
});

/** A valid append header to break one field at a time. */
function appendHeader(): Record<string, unknown> {
  const { header } = encodeRaftMessage(APPEND);
  return JSON.parse(JSON.stringify(header)) as Record<string, unknown>;
}

const APPEND_PAYLOAD = bytes(1, 2, 3, 4);

function decodeAppendWith(fields: Record<string, unknown>): Result<RaftMessage> {
  return decodeRaftMessage({ ...appendHeader(), ...fields }, APPEND_PAYLOAD);
}

function snapshotPartHeader(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "installSnapshot",
    from: "dir-a",
    to: "dir-b",
    term: 4,
    snapshot: { index: 40, term: 3 },
    totalBytes: 4,
    part: 0,
    parts: 1,
    offset: 0,
    ...fields,
  };
}

describe("refusals", () => {
  test("entry lengths that do not add up to the payload", () => {
    const summing = "add up to 4 bytes but the payload has 3";
    expectRefused(decodeRaftMessage(appendHeader(), bytes(1, 2, 3)), summing);
    expectRefused(decodeRaftMessage(appendHeader(), bytes(1, 2, 3, 4, 5)), "payload has 5");
    const header = appendHeader();
    header.entries = [{ index: 8, term: 2, bytes: -2 }];
    const refused = decodeRaftMessage(header, new Uint8Array(0));
    expectRefused(refused, "entries[0].bytes: -2 is outside -1..");
  });

  test("a snapshot whose size does not match its payload", () => {
    const header = snapshotPartHeader({ totalBytes: 5 });
    const mismatch = "last part ends at byte 4, not at totalBytes 5";
    expectRefused(decodeRaftMessage(header, bytes(1, 2, 3, 4)), mismatch);
    expectRefused(new SnapshotAssembler().accept(header, bytes(1, 2, 3, 4)), "not at totalBytes 5");
  });

  test("negative, fractional or unsafe numbers", () => {
    const cases: Array<[string, unknown, string]> = [
      ["prevIndex", -1, "prevIndex: -1 is outside 0.."],
      ["term", 1.5, "term: expected an integer"],
      ["commit", 2 ** 53, "commit: expected an integer"],
      ["term", "3", "term: expected an integer, got a string"],
    ];
    for (const [field, value, message] of cases) {
      expectRefused(decodeAppendWith({ [field]: value }), message);
    }
    const header = appendHeader();
    header.entries = [{ index: -1, term: 2, bytes: 4 }];
    expectRefused(decodeRaftMessage(header, APPEND_PAYLOAD), "entries[0].index: -1 is outside 0..");
  });

  test("more than RAFT_APPEND_ENTRIES_MAX entries", () => {
    const header = appendHeader();
    header.entries = Array.from({ length: RAFT_APPEND_ENTRIES_MAX + 1 }, (_, i) => ({
      index: 8 + i,
      term: 2,
      bytes: -1,
    }));
    const tooMany = `entries: more than ${RAFT_APPEND_ENTRIES_MAX} items`;
    expectRefused(decodeRaftMessage(header, new Uint8Array(0)), tooMany);
    header.entries = (header.entries as unknown[]).slice(0, RAFT_APPEND_ENTRIES_MAX);
    expect(decodeRaftMessage(header, new Uint8Array(0)).ok).toBe(true);
  });

  test("entries that do not continue prevIndex, leave a gap, or go back in term", () => {
    const header = appendHeader();
    header.entries = [{ index: 9, term: 2, bytes: 4 }];
    expectRefused(decodeRaftMessage(header, APPEND_PAYLOAD), "entries[0].index is 9, not 8");
    header.entries = [
      { index: 8, term: 2, bytes: 2 },
      { index: 10, term: 2, bytes: 2 },
    ];
    expectRefused(decodeRaftMessage(header, APPEND_PAYLOAD), "entries[1].index is 10, not 9");
    header.entries = [
      { index: 8, term: 3, bytes: 2 },
      { index: 9, term: 2, bytes: 2 },
    ];
    expectRefused(decodeRaftMessage(header, APPEND_PAYLOAD), "entries[1].term 2 is outside 3..3");
    header.entries = [{ index: 8, term: 4, bytes: 4 }];
    expectRefused(decodeRaftMessage(header, APPEND_PAYLOAD), "entries[0].term 4 is outside 2..3");
  });

  test("an unknown or missing type", () => {
    expectRefused(decodeAppendWith({ type: "timeoutNow" }), "type: expected one of");
    const { type: _dropped, ...untyped } = appendHeader();
    expectRefused(decodeRaftMessage(untyped, APPEND_PAYLOAD), "type: missing");
  });

  test("totalBytes over RAFT_SNAPSHOT_BYTES_MAX, before a byte is buffered", () => {
    const header = snapshotPartHeader({ totalBytes: RAFT_SNAPSHOT_BYTES_MAX + 1, parts: 300 });
    const assembler = new SnapshotAssembler();
    const oversize = `totalBytes: ${RAFT_SNAPSHOT_BYTES_MAX + 1} is outside`;
    expectRefused(assembler.accept(header, bytes(1, 2, 3, 4)), oversize);
    expect(assembler.pendingBytes).toBe(0);
    expectRefused(decodeRaftMessage(header, bytes(1, 2, 3, 4)), "totalBytes");
  });

  test("a header that is not an object", () => {
    for (const header of [null, undefined, 42, "append", [], [appendHeader()], true]) {
      expectRefused(decodeRaftMessage(header, new Uint8Array(0)), "expected an object");
      const assembled = new SnapshotAssembler().accept(header, new Uint8Array(0));
      expectRefused(assembled, "expected an object");
    }
  });

  test("ids that are empty, too long, or the same node at both ends", () => {
    expectRefused(decodeAppendWith({ from: "" }), "from: shorter than 1");
    expectRefused(decodeAppendWith({ to: "x".repeat(65) }), "to: longer than 64");
    expectRefused(decodeAppendWith({ to: "dir-a" }), "from dir-a to itself");
  });

  test("payload bytes on a message that has none", () => {
    const { header } = overWire(encodeRaftMessage(HEARTBEAT));
    expectRefused(decodeRaftMessage(header, bytes(0)), "heartbeat carries 1 payload bytes");
  });

  test("snapshot parts that cannot be placed", () => {
    const four = bytes(1, 2, 3, 4);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ part: 2, parts: 2, totalBytes: 8 }, "part 2 of 2"],
      [{ parts: 9, totalBytes: 8 }, "9 parts for 8 bytes"],
      [{ parts: 2, totalBytes: 8, offset: 4 }, "part 0 starts at offset 4"],
      [{ part: 1, parts: 2, totalBytes: 6, offset: 4 }, "part ends at byte 8 of 6"],
      [{ snapshot: { index: 40, term: 5 } }, "snapshot term 5 above term 4"],
    ];
    for (const [fields, message] of cases) {
      expectRefused(new SnapshotAssembler().accept(snapshotPartHeader(fields), four), message);
    }
    const empty = snapshotPartHeader({ parts: 2, totalBytes: 4 });
    expectRefused(new SnapshotAssembler().accept(empty, new Uint8Array(0)), "part 0 of 2 is empty");
    const middle = snapshotPartHeader({ part: 1, parts: 3, totalBytes: 12, offset: 4 });
    const partOnly = "part 1 of a 3-part snapshot needs an assembler";
    expectRefused(decodeRaftMessage(middle, four), partOnly);
  });

  test("mutated headers are answered with values, and whatever passes re-encodes the same", () => {
    const prng = new Prng(20_240_611);
    const junk: unknown[] = [null, -1, 0.5, "", "x".repeat(100), [], {}, true, 2 ** 60, { a: 1 }];
    const bases = EVERY_TYPE.map((message) => overWire(encodeRaftMessage(message)));
    let accepted = 0;
    for (let round = 0; round < 2000; round += 1) {
      const base = bases[prng.intBelow(bases.length)];
      if (base === undefined) throw new Error("prng index out of range");
      const header = JSON.parse(JSON.stringify(base.header)) as Record<string, unknown>;
      const keys = Object.keys(header);
      header[keys[prng.intBelow(keys.length)] ?? ""] = junk[prng.intBelow(junk.length)];
      const payload = prng.chance(0.5) ? base.payload : base.payload.subarray(1);
      const decoded = decodeRaftMessage(header, payload);
      // Single-part messages only, so the assembler must agree with the plain decoder.
      expect(new SnapshotAssembler().accept(header, payload)).toEqual(decoded);
      if (!decoded.ok) {
        expect(decoded.error.code).toBe("BAD_REQUEST");
        continue;
      }
      accepted += 1;
      expect(encodeRaftMessage(decoded.value)).toEqual({ header, payload } as RaftWirePart);
    }
    // Only `granted: true` and `success: true` are valid junk; all else must be refused.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(100);
  });
});
