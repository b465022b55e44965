/**
 * Raft messages on the RPC frames: a JSON header plus a payload holding every byte string of the
 * message (entry commands, snapshot data) back to back, so bytes are never base64'd into JSON.
 * Decoding checks every field and every rule the node trusts without checking (lengths add up
 * to the payload, entries continue `prevIndex` without gaps, terms never go backwards) and
 * answers a hostile header with a value error, never a throw. A snapshot larger than a frame
 * travels as parts that SnapshotAssembler joins, within RAFT_SNAPSHOT_BYTES_MAX.
 * Pure: no I/O, no clock. Must not import messages.ts, which imports this file for its op table.
 */

import { assert, assertNever } from "../assert.ts";
import { fail, ok, type FtfsError, type Result } from "../errors.ts";
import { CHUNK_BYTES_MAX, NODE_ID_BYTES_MAX } from "../limits.ts";
import type { Infer, Schema } from "../schema.ts";
import { arr, bool, int, literal, obj, opt, str, tryDecode } from "../schema.ts";
import type { Append, Entry, InstallSnapshot, Membership, RaftMessage, Snapshot } from "./types.ts";
import {
  RAFT_APPEND_ENTRIES_MAX,
  RAFT_FOLDER_ID_BYTES_MAX,
  RAFT_MEMBERS_MAX,
  raftId,
} from "./types.ts";

const MIB = 1024 * 1024;

/**
 * Snapshot bytes per frame. Parts share a peer's connection with heartbeats and appends, so a
 * part must be small enough not to hold them back for long; 4 MiB is the default chunk size.
 */
export const RAFT_SNAPSHOT_PART_BYTES = 4 * MIB;

/**
 * Largest snapshot a node accepts: bounds what a peer can make it buffer. Directory metadata
 * is far smaller; a leader with a larger snapshot is a capacity bug, caught when it encodes.
 */
export const RAFT_SNAPSHOT_BYTES_MAX = 1024 * MIB;

/** Partial snapshots one assembler holds: one per other member of the largest group. */
export const RAFT_SNAPSHOT_SENDERS_MAX = RAFT_MEMBERS_MAX - 1;

// Same bounds as messages.ts's nodeIdField, which cannot be imported here (see the top).
const raftIdField = str({ bytesMin: 1, bytesMax: NODE_ID_BYTES_MAX });
const counterField = int({ min: 0, max: Number.MAX_SAFE_INTEGER });
const snapshotBytesField = int({ min: 0, max: RAFT_SNAPSHOT_BYTES_MAX });
/** An entry's command length; -1 marks the null command of a leader's no-op. */
const commandBytesField = int({ min: -1, max: CHUNK_BYTES_MAX });
const NULL_COMMAND_BYTES = -1;
const EMPTY = new Uint8Array(0);

const folderField = str({ bytesMin: 1, bytesMax: RAFT_FOLDER_ID_BYTES_MAX });
const envelope = {
  from: raftIdField,
  to: raftIdField,
  term: counterField,
  folder: opt(folderField),
};

const voteHeader = obj({
  type: literal("preVote", "vote"),
  ...envelope,
  lastIndex: counterField,
  lastTerm: counterField,
});
const voteResponseHeader = obj({
  type: literal("preVoteResponse", "voteResponse"),
  ...envelope,
  granted: bool,
});
/** A member's address is the driver's host:port; bounded like any address on the wire. */
const RAFT_MEMBER_ADDRESS_BYTES_MAX = 300;
const membershipField = obj({
  members: arr(
    obj({
      id: raftIdField,
      address: str({ bytesMin: 0, bytesMax: RAFT_MEMBER_ADDRESS_BYTES_MAX }),
      voter: bool,
      folder: opt(folderField),
    }),
    { itemsMax: RAFT_MEMBERS_MAX },
  ),
});
const wireEntry = obj({
  index: counterField,
  term: counterField,
  bytes: commandBytesField,
  /** A configuration entry's configuration (its command is null). */
  membership: opt(membershipField),
});
const appendHeader = obj({
  type: literal("append"),
  ...envelope,
  prevIndex: counterField,
  prevTerm: counterField,
  commit: counterField,
  entries: arr(wireEntry, { itemsMax: RAFT_APPEND_ENTRIES_MAX }),
});
const appendResponseHeader = obj({
  type: literal("appendResponse"),
  ...envelope,
  success: bool,
  index: counterField,
  hintIndex: counterField,
});
const heartbeatHeader = obj({
  type: literal("heartbeat"),
  ...envelope,
  commit: counterField,
  readSeq: counterField,
});
const heartbeatResponseHeader = obj({
  type: literal("heartbeatResponse"),
  ...envelope,
  readSeq: counterField,
});
/** One part of a snapshot: bytes [offset, offset + payload) of `totalBytes`; part < parts. */
const snapshotHeader = obj({
  type: literal("installSnapshot"),
  ...envelope,
  snapshot: obj({ index: counterField, term: counterField, membership: opt(membershipField) }),
  totalBytes: snapshotBytesField,
  part: snapshotBytesField,
  parts: int({ min: 1, max: RAFT_SNAPSHOT_BYTES_MAX }),
  offset: snapshotBytesField,
});

const HEADER_SCHEMAS = {
  preVote: voteHeader,
  vote: voteHeader,
  preVoteResponse: voteResponseHeader,
  voteResponse: voteResponseHeader,
  append: appendHeader,
  appendResponse: appendResponseHeader,
  heartbeat: heartbeatHeader,
  heartbeatResponse: heartbeatResponseHeader,
  installSnapshot: snapshotHeader,
} as const satisfies Record<RaftMessage["type"], Schema<unknown>>;

type MessageType = keyof typeof HEADER_SCHEMAS;
const MESSAGE_TYPES = Object.keys(HEADER_SCHEMAS) as MessageType[];
const typeField = obj({ type: literal(...MESSAGE_TYPES) });

export type RaftWireHeader = Infer<(typeof HEADER_SCHEMAS)[MessageType]>;
export type RaftWireEntry = Infer<typeof wireEntry>;
export type RaftSnapshotHeader = Infer<typeof snapshotHeader>;

/** What one frame carries. `payload` may share memory with the encoded message's bytes. */
export interface RaftWirePart {
  readonly header: RaftWireHeader;
  readonly payload: Uint8Array;
}

/**
 * The header's shape and ranges. Rules across fields and the payload are checked by
 * decodeRaftMessage and SnapshotAssembler, which see the payload.
 */
export const raftWireHeaderSchema: Schema<RaftWireHeader> = {
  optional: false,
  spec: { kind: "oneOf", options: Object.values(HEADER_SCHEMAS).map((s) => s.spec ?? null) },
  decode(value: unknown, path: string): RaftWireHeader {
    const { type } = typeField.decode(value, path);
    return HEADER_SCHEMAS[type].decode(value, path);
  },
};

// ---- encoding ----

/** One frame's worth; an installSnapshot becomes a single part, however large its data. */
export function encodeRaftMessage(message: RaftMessage): RaftWirePart {
  return withFolder(encodeBody(message), message);
}

/** The sender's folder rides in every header that has one to say. */
function withFolder(part: RaftWirePart, message: RaftMessage): RaftWirePart {
  if (message.folder === undefined) return part;
  return { header: { ...part.header, folder: message.folder }, payload: part.payload };
}

function encodeBody(message: RaftMessage): RaftWirePart {
  const { from, to, term } = message;
  switch (message.type) {
    case "preVote":
    case "vote": {
      const { type, lastIndex, lastTerm } = message;
      return { header: { type, from, to, term, lastIndex, lastTerm }, payload: EMPTY };
    }
    case "preVoteResponse":
    case "voteResponse": {
      const { type, granted } = message;
      return { header: { type, from, to, term, granted }, payload: EMPTY };
    }
    case "append":
      return encodeAppend(message);
    case "appendResponse": {
      const { success, index, hintIndex } = message;
      const header = { type: message.type, from, to, term, success, index, hintIndex };
      return { header, payload: EMPTY };
    }
    case "heartbeat": {
      const { commit, readSeq } = message;
      return { header: { type: message.type, from, to, term, commit, readSeq }, payload: EMPTY };
    }
    case "heartbeatResponse": {
      const { readSeq } = message;
      return { header: { type: message.type, from, to, term, readSeq }, payload: EMPTY };
    }
    case "installSnapshot": {
      const header = snapshotPartHeader(message, { part: 0, parts: 1, offset: 0 });
      return { header, payload: message.snapshot.data };
    }
    default:
      return assertNever(message, "raft message type");
  }
}

function encodeAppend(message: Append): RaftWirePart {
  let totalBytes = 0;
  for (const entry of message.entries) totalBytes += entry.command?.length ?? 0;
  const payload = new Uint8Array(totalBytes);
  const entries: RaftWireEntry[] = [];
  let offset = 0;
  for (const { index, term, command, membership } of message.entries) {
    const bytes = command === null ? NULL_COMMAND_BYTES : command.length;
    entries.push({ index, term, bytes, ...(membership === undefined ? {} : { membership }) });
    if (command === null) continue;
    payload.set(command, offset);
    offset += command.length;
  }
  const { type, from, to, term, prevIndex, prevTerm, commit } = message;
  return { header: { type, from, to, term, prevIndex, prevTerm, commit, entries }, payload };
}

function snapshotPartHeader(
  message: InstallSnapshot,
  place: { part: number; parts: number; offset: number },
): RaftSnapshotHeader {
  const { from, to, term, snapshot } = message;
  const totalBytes = snapshot.data.length;
  assert(
    totalBytes <= RAFT_SNAPSHOT_BYTES_MAX,
    `snapshot of ${totalBytes} bytes is over RAFT_SNAPSHOT_BYTES_MAX; no peer would accept it`,
  );
  const identity = {
    index: snapshot.index,
    term: snapshot.term,
    ...(snapshot.membership === undefined ? {} : { membership: snapshot.membership }),
  };
  return { type: message.type, from, to, term, snapshot: identity, totalBytes, ...place };
}

/**
 * The frames for one message, in the order they must be sent: several for an installSnapshot
 * whose data exceeds `partBytesMax`, exactly one otherwise.
 */
export function splitRaftMessage(message: RaftMessage, partBytesMax: number): RaftWirePart[] {
  assert(
    Number.isSafeInteger(partBytesMax) && partBytesMax >= 1,
    `partBytesMax must be a positive integer, got ${partBytesMax}`,
  );
  if (message.type !== "installSnapshot" || message.snapshot.data.length <= partBytesMax) {
    return [encodeRaftMessage(message)];
  }
  const data = message.snapshot.data;
  const parts = Math.ceil(data.length / partBytesMax);
  const out: RaftWirePart[] = [];
  for (let part = 0; part < parts; part += 1) {
    const offset = part * partBytesMax;
    const header = snapshotPartHeader(message, { part, parts, offset });
    const end = Math.min(offset + partBytesMax, data.length);
    out.push(withFolder({ header, payload: data.subarray(offset, end) }, message));
  }
  return out;
}

// ---- decoding ----

function badRequest(message: string): { ok: false; error: FtfsError } {
  return fail("BAD_REQUEST", `raft: ${message}`);
}

function decodeHeader(header: unknown): Result<RaftWireHeader> {
  const decoded = tryDecode(raftWireHeaderSchema, header);
  return decoded.ok ? ok(decoded.value) : badRequest(decoded.message);
}

/**
 * A whole message from one frame. A part of a multi-part snapshot is refused: those go
 * through SnapshotAssembler, which also passes every other message straight through.
 */
export function decodeRaftMessage(header: unknown, payload: Uint8Array): Result<RaftMessage> {
  const decoded = decodeHeader(header);
  if (!decoded.ok) return decoded;
  const wire = decoded.value;
  if (wire.type === "installSnapshot" && wire.parts !== 1) {
    return badRequest(`part ${wire.part} of a ${wire.parts}-part snapshot needs an assembler`);
  }
  return fromHeader(wire, payload);
}

/** The message a checked header and its payload stand for; snapshots here are single-part. */
function fromHeader(wire: RaftWireHeader, payload: Uint8Array): Result<RaftMessage> {
  const message = bodyFromHeader(wire, payload);
  if (!message.ok || wire.folder === undefined) return message;
  return ok({ ...message.value, folder: wire.folder });
}

function bodyFromHeader(wire: RaftWireHeader, payload: Uint8Array): Result<RaftMessage> {
  if (wire.from === wire.to) return badRequest(`message from ${wire.from} to itself`);
  const from = raftId(wire.from);
  const to = raftId(wire.to);
  const term = wire.term;
  if (wire.type !== "append" && wire.type !== "installSnapshot" && payload.length !== 0) {
    return badRequest(`${wire.type} carries ${payload.length} payload bytes; it has none`);
  }
  switch (wire.type) {
    case "preVote":
    case "vote": {
      if (wire.lastTerm > term) return badRequest(`lastTerm ${wire.lastTerm} above term ${term}`);
      const { type, lastIndex, lastTerm } = wire;
      return ok({ type, from, to, term, lastIndex, lastTerm });
    }
    case "preVoteResponse":
    case "voteResponse":
      return ok({ type: wire.type, from, to, term, granted: wire.granted });
    case "append":
      return decodeAppend(wire, payload);
    case "appendResponse": {
      const { type, success, index, hintIndex } = wire;
      return ok({ type, from, to, term, success, index, hintIndex });
    }
    case "heartbeat":
      return ok({ type: wire.type, from, to, term, commit: wire.commit, readSeq: wire.readSeq });
    case "heartbeatResponse":
      return ok({ type: wire.type, from, to, term, readSeq: wire.readSeq });
    case "installSnapshot": {
      const problem = snapshotPartProblem(wire, payload.length);
      if (problem !== null) return badRequest(problem);
      return ok(snapshotMessage(wire, payload.slice()));
    }
    default:
      return assertNever(wire, "raft wire header type");
  }
}

type AppendHeader = Infer<typeof appendHeader>;

/**
 * The log trusts an append's entries to start at prevIndex + 1 without gaps and never to go
 * back in term (Log Matching), so a header breaking either is refused here.
 */
function appendProblem(wire: AppendHeader, payloadBytes: number): string | null {
  if (wire.prevTerm > wire.term) return `prevTerm ${wire.prevTerm} above term ${wire.term}`;
  let totalBytes = 0;
  let lastTerm = wire.prevTerm;
  for (const [position, entry] of wire.entries.entries()) {
    const expected = wire.prevIndex + 1 + position;
    if (entry.index !== expected) {
      return `entries[${position}].index is ${entry.index}, not ${expected}`;
    }
    if (entry.term < lastTerm || entry.term > wire.term) {
      return `entries[${position}].term ${entry.term} is outside ${lastTerm}..${wire.term}`;
    }
    lastTerm = entry.term;
    totalBytes += Math.max(entry.bytes, 0);
  }
  if (totalBytes !== payloadBytes) {
    return `entry commands add up to ${totalBytes} bytes but the payload has ${payloadBytes}`;
  }
  return null;
}

function decodeAppend(wire: AppendHeader, payload: Uint8Array): Result<RaftMessage> {
  const problem = appendProblem(wire, payload.length);
  if (problem !== null) return badRequest(problem);
  const entries: Entry[] = [];
  let offset = 0;
  for (const { index, term, bytes, membership } of wire.entries) {
    if (bytes === NULL_COMMAND_BYTES) {
      entries.push(
        membership === undefined
          ? { index, term, command: null }
          : { index, term, command: null, membership: asMembership(membership) },
      );
      continue;
    }
    // A copy: the payload may be a view into a socket buffer, and the log keeps entries long.
    entries.push({ index, term, command: payload.slice(offset, offset + bytes) });
    offset += bytes;
  }
  const { type, prevIndex, prevTerm, commit } = wire;
  const envelopeOf = { from: raftId(wire.from), to: raftId(wire.to), term: wire.term };
  return ok({ type, ...envelopeOf, prevIndex, prevTerm, commit, entries });
}

/** Rules of one part on its own; SnapshotAssembler checks that parts follow each other. */
function snapshotPartProblem(wire: RaftSnapshotHeader, payloadBytes: number): string | null {
  const { part, parts, offset, totalBytes } = wire;
  if (wire.snapshot.term > wire.term) {
    return `snapshot term ${wire.snapshot.term} above term ${wire.term}`;
  }
  if (part >= parts) return `part ${part} of ${parts}`;
  // Every part but the last carries a byte, so a peer cannot announce endless empty parts.
  if (parts > Math.max(1, totalBytes)) return `${parts} parts for ${totalBytes} bytes`;
  if (part === 0 && offset !== 0) return `part 0 starts at offset ${offset}`;
  const end = offset + payloadBytes;
  if (end > totalBytes) return `part ends at byte ${end} of ${totalBytes}`;
  if (part === parts - 1 && end !== totalBytes) {
    return `last part ends at byte ${end}, not at totalBytes ${totalBytes}`;
  }
  if (part < parts - 1 && payloadBytes === 0) return `part ${part} of ${parts} is empty`;
  return null;
}

/** A decoded configuration as the core's type (ids branded; shape checked by the schema). */
function asMembership(wire: Infer<typeof membershipField>): Membership {
  return {
    members: wire.members.map((member) => ({ ...member, id: raftId(member.id) })),
  };
}

function snapshotMessage(wire: RaftSnapshotHeader, data: Uint8Array): InstallSnapshot {
  const { index, term, membership } = wire.snapshot;
  const snapshot: Snapshot = {
    index,
    term,
    data,
    ...(membership === undefined ? {} : { membership: asMembership(membership) }),
  };
  return {
    type: "installSnapshot",
    from: raftId(wire.from),
    to: raftId(wire.to),
    term: wire.term,
    ...(wire.folder === undefined ? {} : { folder: wire.folder }),
    snapshot,
  };
}

// ---- reassembly ----

interface Assembly {
  /** Part 0's header: every later part must repeat its identity fields. */
  readonly first: RaftSnapshotHeader;
  readonly pieces: Uint8Array[];
  receivedBytes: number;
}

function sameSnapshot(a: RaftSnapshotHeader, b: RaftSnapshotHeader): boolean {
  return (
    a.to === b.to &&
    a.term === b.term &&
    a.snapshot.index === b.snapshot.index &&
    a.snapshot.term === b.snapshot.term &&
    a.totalBytes === b.totalBytes &&
    a.parts === b.parts
  );
}

/**
 * Joins snapshot parts back into one message, and passes every other message straight
 * through. Sans-I/O and bounded: a snapshot is at most RAFT_SNAPSHOT_BYTES_MAX, each sender has
 * at most one partial snapshot, and at most `sendersMax` senders have one (a new sender evicts
 * the partial started longest ago). Bytes are buffered as they arrive and joined only when the
 * last part came, so a header's claimed size never allocates by itself.
 *
 * A part that cannot continue its sender's partial (its start was lost with a broken link, or a
 * part is missing) is dropped, not refused: Raft resends the snapshot, and a refusal would
 * only make the sender tear down a link that works. Part 0 always starts afresh, abandoning
 * the sender's partial.
 */
export class SnapshotAssembler {
  private readonly partials = new Map<string, Assembly>();
  private readonly sendersMax: number;
  private dropped = 0;

  constructor(sendersMax: number = RAFT_SNAPSHOT_SENDERS_MAX) {
    assert(Number.isSafeInteger(sendersMax) && sendersMax >= 1, "sendersMax is a positive integer");
    this.sendersMax = sendersMax;
  }

  /** Parts discarded so far: abandoned partials' parts and parts that continued nothing. */
  get partsDropped(): number {
    return this.dropped;
  }

  /** Bytes held in partial snapshots: what peers currently cost this node. */
  get pendingBytes(): number {
    let total = 0;
    for (const assembly of this.partials.values()) total += assembly.receivedBytes;
    return total;
  }

  /** The whole message once complete; null while a snapshot still misses parts. */
  accept(header: unknown, payload: Uint8Array): Result<RaftMessage | null> {
    const decoded = decodeHeader(header);
    if (!decoded.ok) return decoded;
    const wire = decoded.value;
    if (wire.type !== "installSnapshot") return fromHeader(wire, payload);
    if (wire.from === wire.to) return badRequest(`message from ${wire.from} to itself`);
    const problem = snapshotPartProblem(wire, payload.length);
    if (problem !== null) return badRequest(problem);
    if (wire.parts === 1) {
      this.abandon(wire.from);
      return ok(snapshotMessage(wire, payload.slice()));
    }
    if (wire.part === 0) {
      this.start(wire, payload);
      return ok(null);
    }
    return ok(this.continue(wire, payload));
  }

  private start(wire: RaftSnapshotHeader, payload: Uint8Array): void {
    this.abandon(wire.from);
    if (this.partials.size >= this.sendersMax) {
      const oldest = this.partials.keys().next();
      if (oldest.done !== true) this.abandon(oldest.value);
    }
    // A copy: the payload may be a view into a socket buffer that is reused.
    const assembly = { first: wire, pieces: [payload.slice()], receivedBytes: payload.length };
    this.partials.set(wire.from, assembly);
  }

  private continue(wire: RaftSnapshotHeader, payload: Uint8Array): RaftMessage | null {
    const assembly = this.partials.get(wire.from);
    if (assembly === undefined || !sameSnapshot(assembly.first, wire)) {
      // An orphan of another snapshot says nothing about the partial we hold: keep it.
      this.dropped += 1;
      return null;
    }
    if (wire.part !== assembly.pieces.length || wire.offset !== assembly.receivedBytes) {
      // A part of this snapshot went missing, so it can never complete.
      this.abandon(wire.from);
      this.dropped += 1;
      return null;
    }
    assembly.pieces.push(payload.slice());
    assembly.receivedBytes += payload.length;
    if (wire.part < wire.parts - 1) return null;
    this.partials.delete(wire.from);
    return snapshotMessage(assembly.first, join(assembly.pieces, wire.totalBytes));
  }

  private abandon(sender: string): void {
    const assembly = this.partials.get(sender);
    if (assembly === undefined) return;
    this.dropped += assembly.pieces.length;
    this.partials.delete(sender);
  }
}

function join(pieces: readonly Uint8Array[], totalBytes: number): Uint8Array {
  const data = new Uint8Array(totalBytes);
  let offset = 0;
  for (const piece of pieces) {
    data.set(piece, offset);
    offset += piece.length;
  }
  assert(offset === totalBytes, "checked parts fill their snapshot exactly");
  return data;
}
