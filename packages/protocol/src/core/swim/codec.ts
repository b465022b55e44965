/**
 * The gossip wire format: a datagram is the two bytes "S1" followed by a JSON array of messages
 * with one-letter keys (compact, still readable in a capture). The decoder checks the length
 * before it reads, validates every field with schema.ts, and returns a value error for anything
 * foreign, truncated, oversize or malformed; it never throws past this boundary. The encoder
 * measures exactly, so a packet built here always fits GOSSIP_PAYLOAD_BYTES_MAX.
 */

import { assert, assertNever } from "../assert.ts";
import { fail, ok, type FtfsError, type Result } from "../errors.ts";
import { epochField, groupField, nodeIdField } from "../messages.ts";
import type { Infer, Schema } from "../schema.ts";
import { arr, bool, int, literal, nullable, obj, opt, str, tryDecode } from "../schema.ts";
import { GOSSIP_MESSAGES_PER_DATAGRAM_MAX, GOSSIP_PAYLOAD_BYTES_MAX } from "./config.ts";
import type { SwimMessage, SyncMessage } from "./messages.ts";
import type { MemberMeta, MemberState, MemberView } from "./types.ts";
import { memberId } from "./types.ts";

/** Marks our datagrams (and their format version) so stray traffic is rejected cheaply. */
const DATAGRAM_MAGIC = "S1";
const DATAGRAM_MAGIC_BYTES = [0x53, 0x31] as const;
/** "S1[" + "]": what an empty datagram costs. */
const DATAGRAM_FRAME_BYTES = DATAGRAM_MAGIC.length + 2;
const SEQ_MAX = 0xffff_ffff;
const GOSSIP_ADDRESS_BYTES_MAX = 64;
const SYNC_MEMBERS_PER_MESSAGE_MAX = 64;

const seqField = int({ min: 0, max: SEQ_MAX });
const incarnationField = int({ min: 0, max: Number.MAX_SAFE_INTEGER });
const countField = int({ min: 0, max: Number.MAX_SAFE_INTEGER });
const gossipAddressField = str({
  bytesMin: 3,
  bytesMax: GOSSIP_ADDRESS_BYTES_MAX,
  pattern: /^[^\s/]+:[0-9]{1,5}$/,
});
const serviceAddressField = str({ bytesMin: 3, bytesMax: GOSSIP_ADDRESS_BYTES_MAX });

const wireMeta = obj({
  r: literal("directory", "storage"),
  g: nullable(groupField),
  a: serviceAddressField,
  p: bool,
  e: epochField,
  u: countField,
  c: countField,
  v: countField,
});

const WIRE_STATES = { alive: "a", suspect: "s", dead: "d", left: "l" } as const;
type WireState = (typeof WIRE_STATES)[MemberState];
const STATE_OF_WIRE: Record<WireState, MemberState> = {
  a: "alive",
  s: "suspect",
  d: "dead",
  l: "left",
};

const wireMember = obj({
  i: nodeIdField,
  a: gossipAddressField,
  s: literal("a", "s", "d", "l"),
  n: incarnationField,
  m: wireMeta,
});

const wireSync = (tag: string) =>
  obj({
    t: literal(tag),
    y: seqField,
    f: nodeIdField,
    m: arr(wireMember, { itemsMax: SYNC_MEMBERS_PER_MESSAGE_MAX }),
  });

/** Wire tags are short; their list is as append-only as SWIM_MESSAGE_TYPES. */
const WIRE_SCHEMAS = {
  ping: obj({ t: literal("ping"), s: seqField, f: nodeIdField, d: nodeIdField }),
  ack: obj({ t: literal("ack"), s: seqField, f: nodeIdField, u: opt(literal("1")) }),
  preq: obj({
    t: literal("preq"),
    s: seqField,
    f: nodeIdField,
    d: nodeIdField,
    a: gossipAddressField,
  }),
  nack: obj({ t: literal("nack"), s: seqField, f: nodeIdField }),
  alive: obj({
    t: literal("alive"),
    i: nodeIdField,
    n: incarnationField,
    a: gossipAddressField,
    m: wireMeta,
  }),
  susp: obj({ t: literal("susp"), i: nodeIdField, n: incarnationField, f: nodeIdField }),
  dead: obj({ t: literal("dead"), i: nodeIdField, n: incarnationField, f: nodeIdField }),
  leave: obj({ t: literal("leave"), i: nodeIdField, n: incarnationField }),
  sreq: wireSync("sreq"),
  sres: wireSync("sres"),
  join: obj({ t: literal("join"), y: seqField, m: wireMember }),
} as const;

type WireTag = keyof typeof WIRE_SCHEMAS;
type WireOf<T extends WireTag> = Infer<(typeof WIRE_SCHEMAS)[T]>;

function isWireTag(value: unknown): value is WireTag {
  return typeof value === "string" && Object.hasOwn(WIRE_SCHEMAS, value);
}

function metaToWire(meta: MemberMeta): WireOf<"alive">["m"] {
  return {
    r: meta.role,
    g: meta.group,
    a: meta.address,
    p: meta.primary,
    e: meta.epoch,
    u: meta.usedBytes,
    c: meta.capacityBytes,
    v: meta.metaVersion,
  };
}

function metaFromWire(wire: Infer<typeof wireMeta>): MemberMeta {
  return {
    role: wire.r,
    group: wire.g,
    address: wire.a,
    primary: wire.p,
    epoch: wire.e,
    usedBytes: wire.u,
    capacityBytes: wire.c,
    metaVersion: wire.v,
  };
}

function memberToWire(member: MemberView): Infer<typeof wireMember> {
  return {
    i: member.id,
    a: member.address,
    s: WIRE_STATES[member.state],
    n: member.incarnation,
    m: metaToWire(member.meta),
  };
}

function memberFromWire(wire: Infer<typeof wireMember>): MemberView {
  return {
    id: memberId(wire.i),
    address: wire.a,
    state: STATE_OF_WIRE[wire.s],
    incarnation: wire.n,
    meta: metaFromWire(wire.m),
  };
}

function toWire(message: SwimMessage): unknown {
  switch (message.type) {
    case "ping":
      return { t: "ping", s: message.seq, f: message.from, d: message.target };
    case "ack":
      return message.unknownSender === true
        ? { t: "ack", s: message.seq, f: message.from, u: "1" }
        : { t: "ack", s: message.seq, f: message.from };
    case "ping-req":
      return {
        t: "preq",
        s: message.seq,
        f: message.from,
        d: message.target,
        a: message.targetAddress,
      };
    case "nack":
      return { t: "nack", s: message.seq, f: message.from };
    case "alive":
      return {
        t: "alive",
        i: message.id,
        n: message.incarnation,
        a: message.address,
        m: metaToWire(message.meta),
      };
    case "suspect":
      return { t: "susp", i: message.id, n: message.incarnation, f: message.from };
    case "dead":
      return { t: "dead", i: message.id, n: message.incarnation, f: message.from };
    case "leave":
      return { t: "leave", i: message.id, n: message.incarnation };
    case "sync-request":
    case "sync-response":
      return syncToWire(message);
    case "join":
      return { t: "join", y: message.syncId, m: memberToWire(message.member) };
    default:
      return assertNever(message, "swim message type");
  }
}

function syncToWire(message: SyncMessage): unknown {
  const tag = message.type === "sync-request" ? "sreq" : "sres";
  return { t: tag, y: message.syncId, f: message.from, m: message.members.map(memberToWire) };
}

/** Turns one validated wire object into a message; a switch so every tag is handled. */
function fromWire(tag: WireTag, value: unknown): SwimMessage {
  switch (tag) {
    case "ping": {
      const w = WIRE_SCHEMAS.ping.decode(value, "");
      return { type: "ping", seq: w.s, from: memberId(w.f), target: memberId(w.d) };
    }
    case "ack": {
      const w = WIRE_SCHEMAS.ack.decode(value, "");
      const ack = { type: "ack", seq: w.s, from: memberId(w.f) } as const;
      return w.u === undefined ? ack : { ...ack, unknownSender: true };
    }
    case "preq": {
      const w = WIRE_SCHEMAS.preq.decode(value, "");
      const target = memberId(w.d);
      return { type: "ping-req", seq: w.s, from: memberId(w.f), target, targetAddress: w.a };
    }
    case "nack": {
      const w = WIRE_SCHEMAS.nack.decode(value, "");
      return { type: "nack", seq: w.s, from: memberId(w.f) };
    }
    case "alive": {
      const w = WIRE_SCHEMAS.alive.decode(value, "");
      const meta = metaFromWire(w.m);
      return { type: "alive", id: memberId(w.i), incarnation: w.n, address: w.a, meta };
    }
    case "susp": {
      const w = WIRE_SCHEMAS.susp.decode(value, "");
      return { type: "suspect", id: memberId(w.i), incarnation: w.n, from: memberId(w.f) };
    }
    case "dead": {
      const w = WIRE_SCHEMAS.dead.decode(value, "");
      return { type: "dead", id: memberId(w.i), incarnation: w.n, from: memberId(w.f) };
    }
    case "leave": {
      const w = WIRE_SCHEMAS.leave.decode(value, "");
      return { type: "leave", id: memberId(w.i), incarnation: w.n };
    }
    case "sreq":
    case "sres":
      return syncFromWire(tag, WIRE_SCHEMAS[tag].decode(value, ""));
    case "join": {
      const w = WIRE_SCHEMAS.join.decode(value, "");
      return { type: "join", syncId: w.y, member: memberFromWire(w.m) };
    }
    default:
      return assertNever(tag, "swim wire tag");
  }
}

function syncFromWire(tag: "sreq" | "sres", w: WireOf<"sreq">): SyncMessage {
  return {
    type: tag === "sreq" ? "sync-request" : "sync-response",
    syncId: w.y,
    from: memberId(w.f),
    members: w.m.map(memberFromWire),
  };
}

const messageSchema: Schema<SwimMessage> = {
  optional: false,
  spec: { kind: "oneOf", options: Object.values(WIRE_SCHEMAS).map((s) => s.spec ?? null) },
  decode(value: unknown, path: string): SwimMessage {
    const tag =
      typeof value === "object" && value !== null ? (value as { t?: unknown }).t : undefined;
    if (!isWireTag(tag)) {
      // Reuse the schema error path so the message names where it failed.
      literal(...(Object.keys(WIRE_SCHEMAS) as WireTag[])).decode(tag, `${path}.t`);
    }
    return fromWire(tag as WireTag, value);
  },
};

const datagramSchema = arr(messageSchema, { itemsMax: GOSSIP_MESSAGES_PER_DATAGRAM_MAX });

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
// biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of ASCII, controls too
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** UTF-8 length of a string, cheap for the common all-ASCII case. */
export function utf8Length(text: string): number {
  return ASCII_ONLY.test(text) ? text.length : utf8Encoder.encode(text).length;
}

/** One message as it appears inside a datagram (cached by callers that resend it). */
export function encodeMessage(message: SwimMessage): string {
  return JSON.stringify(toWire(message));
}

/** Bytes of a datagram holding messages whose encodings are `encoded`. */
export function datagramBytes(encoded: readonly string[]): number {
  let bytes = DATAGRAM_FRAME_BYTES;
  for (const text of encoded) bytes += utf8Length(text);
  return bytes + Math.max(0, encoded.length - 1);
}

/** The bytes of one datagram. Over the payload limit is our bug: builders measure first. */
export function encodeDatagram(messages: readonly SwimMessage[]): Uint8Array {
  return encodeEncoded(messages.map(encodeMessage));
}

export function encodeEncoded(encoded: readonly string[]): Uint8Array {
  assert(encoded.length <= GOSSIP_MESSAGES_PER_DATAGRAM_MAX, "too many messages for a datagram");
  const bytes = utf8Encoder.encode(`${DATAGRAM_MAGIC}[${encoded.join(",")}]`);
  assert(bytes.length <= GOSSIP_PAYLOAD_BYTES_MAX, `datagram of ${bytes.length} bytes is too big`);
  return bytes;
}

/** Reads one datagram. Every failure is a BAD_FRAME value for the driver to count and drop. */
export function decodeDatagram(bytes: Uint8Array): Result<SwimMessage[], FtfsError> {
  if (bytes.length > GOSSIP_PAYLOAD_BYTES_MAX) {
    return fail("BAD_FRAME", `gossip datagram of ${bytes.length} bytes is over the limit`);
  }
  if (bytes[0] !== DATAGRAM_MAGIC_BYTES[0] || bytes[1] !== DATAGRAM_MAGIC_BYTES[1]) {
    return fail("BAD_FRAME", "not a gossip datagram of this version");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8Decoder.decode(bytes.subarray(DATAGRAM_MAGIC_BYTES.length)));
  } catch {
    return fail("BAD_FRAME", "gossip datagram is not valid UTF-8 JSON");
  }
  const decoded = tryDecode(datagramSchema, parsed);
  if (!decoded.ok) return fail("BAD_FRAME", `gossip datagram: ${decoded.message}`);
  return ok([...decoded.value]);
}

/**
 * Accumulates messages for one datagram while tracking its exact size, so the node can fill
 * the space left after its own messages with piggybacked rumors.
 */
export class PacketBuilder {
  private readonly parts: string[] = [];
  private readonly list: SwimMessage[] = [];
  private used = DATAGRAM_FRAME_BYTES;
  private readonly limitBytes: number;

  constructor(limitBytes: number = GOSSIP_PAYLOAD_BYTES_MAX) {
    this.limitBytes = limitBytes;
  }

  /** Adds the message if it fits; callers that cached its encoding (and size) pass them. */
  tryAdd(
    message: SwimMessage,
    encoded: string = encodeMessage(message),
    encodedBytes: number = utf8Length(encoded),
  ): boolean {
    if (this.list.length >= GOSSIP_MESSAGES_PER_DATAGRAM_MAX) return false;
    const cost = encodedBytes + (this.list.length > 0 ? 1 : 0);
    if (this.used + cost > this.limitBytes) return false;
    this.parts.push(encoded);
    this.list.push(message);
    this.used += cost;
    return true;
  }

  /** Bytes still free for one more message (after its separating comma). */
  get freeBytes(): number {
    return this.limitBytes - this.used - (this.list.length > 0 ? 1 : 0);
  }

  get bytes(): number {
    return this.used;
  }

  get messages(): readonly SwimMessage[] {
    return this.list;
  }

  get isEmpty(): boolean {
    return this.list.length === 0;
  }

  encode(): Uint8Array {
    return encodeEncoded(this.parts);
  }
}

/**
 * Splits a member list into sync messages that each fit one datagram by themselves. Exact:
 * the size of `{...,"m":[]}` plus each member's encoding plus the commas between them.
 */
export function buildSyncMessages(
  type: SyncMessage["type"],
  syncId: number,
  from: SyncMessage["from"],
  members: readonly MemberView[],
  limitBytes: number = GOSSIP_PAYLOAD_BYTES_MAX,
): SyncMessage[] {
  const baseBytes =
    DATAGRAM_FRAME_BYTES + utf8Length(encodeMessage({ type, syncId, from, members: [] }));
  const out: SyncMessage[] = [];
  let batch: MemberView[] = [];
  let used = baseBytes;
  for (const member of members) {
    const entryBytes = utf8Length(JSON.stringify(memberToWire(member)));
    assert(baseBytes + entryBytes <= limitBytes, "one member entry must fit a datagram");
    const full = batch.length >= SYNC_MEMBERS_PER_MESSAGE_MAX;
    if (batch.length > 0 && (full || used + 1 + entryBytes > limitBytes)) {
      out.push({ type, syncId, from, members: batch });
      batch = [];
      used = baseBytes;
    }
    used += entryBytes + (batch.length > 0 ? 1 : 0);
    batch.push(member);
  }
  if (batch.length > 0 || out.length === 0) out.push({ type, syncId, from, members: batch });
  return out;
}
