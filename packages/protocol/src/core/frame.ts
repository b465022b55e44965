/**
 * Frames on a TCP stream, sans-I/O. Layout (big-endian):
 *
 *   u32 length      bytes after this field (so the whole frame is length + 4)
 *   u8  version     PROTOCOL_VERSION
 *   u8  kind        0 request, 1 response, 2 error
 *   u32 requestId   chosen by the requester; a response carries its request's id
 *   u32 headerBytes length of the JSON header that follows
 *   ... header      UTF-8 JSON
 *   ... payload     raw bytes (file data)
 *   ... tag         FRAME_TAG_BYTES: the connection's MAC of the frame (zeros when unauthenticated)
 *
 * The decoder checks every length against its limit before it allocates, and once it has
 * failed it stays failed: a stream that lost framing cannot be trusted again.
 */

import {
  FRAME_BYTES_MAX,
  FRAME_HEADER_BYTES_MAX,
  FRAME_PREFIX_BYTES,
  FRAME_TAG_BYTES,
  POOLED_FRAME_BYTES_MIN,
  PROTOCOL_VERSION,
} from "./limits.ts";
import type { FrameBufferPool } from "./frame-buffers.ts";
import type { ErrorCode } from "./errors.ts";
import { assert } from "./assert.ts";

export const FRAME_KIND = { request: 0, response: 1, error: 2 } as const;
export type FrameKind = (typeof FRAME_KIND)[keyof typeof FRAME_KIND];

export interface Frame {
  readonly kind: FrameKind;
  readonly requestId: number;
  readonly header: unknown;
  readonly payload: Uint8Array;
  /** Prefix and header as received: with the payload, what the tag covers. */
  readonly head: Uint8Array;
  readonly tag: Uint8Array;
}

const LENGTH_FIELD_BYTES = 4;
const EMPTY = new Uint8Array(0);
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export const REQUEST_ID_MAX = 0xffff_ffff;

/**
 * Encode a frame as two buffers (prefix+header, payload) so a payload of file bytes is never
 * copied; the transport writes both in order, then FRAME_TAG_BYTES of tag (counted in the
 * length already).
 */
export function encodeFrame(
  kind: FrameKind,
  requestId: number,
  header: unknown,
  payload: Uint8Array = EMPTY,
): [Uint8Array, Uint8Array] {
  const headerBytes = utf8Encoder.encode(JSON.stringify(header));
  if (headerBytes.length > FRAME_HEADER_BYTES_MAX) {
    throw new RangeError(
      `frame header of ${headerBytes.length} bytes exceeds ${FRAME_HEADER_BYTES_MAX}`,
    );
  }
  const total = FRAME_PREFIX_BYTES + headerBytes.length + payload.length + FRAME_TAG_BYTES;
  if (total > FRAME_BYTES_MAX)
    throw new RangeError(`frame of ${total} bytes exceeds ${FRAME_BYTES_MAX}`);
  const head = new Uint8Array(FRAME_PREFIX_BYTES + headerBytes.length);
  const view = new DataView(head.buffer);
  view.setUint32(0, total - LENGTH_FIELD_BYTES);
  view.setUint8(4, PROTOCOL_VERSION);
  view.setUint8(5, kind);
  view.setUint32(6, requestId);
  view.setUint32(10, headerBytes.length);
  head.set(headerBytes, FRAME_PREFIX_BYTES);
  return [head, payload];
}

/** The whole frame as one buffer, with `tag` (zeros: unauthenticated); for tests and tools. */
export function encodeFrameBytes(
  kind: FrameKind,
  requestId: number,
  header: unknown,
  payload?: Uint8Array,
  tag?: Uint8Array,
): Uint8Array {
  const [head, body] = encodeFrame(kind, requestId, header, payload);
  const out = new Uint8Array(head.length + body.length + FRAME_TAG_BYTES);
  out.set(head, 0);
  out.set(body, head.length);
  if (tag !== undefined) out.set(tag.subarray(0, FRAME_TAG_BYTES), head.length + body.length);
  return out;
}

export interface FrameDecodeError {
  readonly code: ErrorCode;
  readonly message: string;
  /** The request id, when the prefix was read far enough to know it, so the error can answer it. */
  readonly requestId: number | null;
  /** The bytes are another protocol's (a web server, TLS): what people should be told. */
  readonly foreign?: ForeignProtocol;
}

/** Protocols whose first bytes are recognised where a frame's length should be. */
export type ForeignProtocol = "HTTP" | "TLS" | "SSH";

/** Big-endian first four bytes of what those protocols send first. */
const FOREIGN_PREFIXES: ReadonlyMap<number, ForeignProtocol> = new Map([
  [0x48545450, "HTTP"], // "HTTP": a response
  [0x47455420, "HTTP"], // "GET "
  [0x504f5354, "HTTP"], // "POST"
  [0x50555420, "HTTP"], // "PUT "
  [0x48454144, "HTTP"], // "HEAD"
  [0x5353482d, "SSH"], // "SSH-"
]);
const TLS_RECORD_ALERT = 0x15;
const TLS_RECORD_HANDSHAKE = 0x16;
const TLS_MAJOR_VERSION = 0x03;

/**
 * Which protocol, if any, begins with these four bytes (read as a frame's length): a frame
 * length that is really "HTTP" (1213486160) says a web server answered, which is what a person
 * needs to hear, not the number.
 */
export function foreignProtocolOf(prefix: number): ForeignProtocol | null {
  const known = FOREIGN_PREFIXES.get(prefix);
  if (known !== undefined) return known;
  const first = prefix >>> 24;
  const second = (prefix >>> 16) & 0xff;
  const tlsRecord = first === TLS_RECORD_ALERT || first === TLS_RECORD_HANDSHAKE;
  return tlsRecord && second === TLS_MAJOR_VERSION ? "TLS" : null;
}

export type FrameDecodeResult = {
  readonly frames: Frame[];
  readonly error: FrameDecodeError | null;
};

/**
 * A frame still arriving after this many of its bytes gets its whole buffer allocated at once
 * (its length is known and was checked against the cap): each later read is copied straight
 * into place and dropped, instead of every read being held until the end and copied then.
 * Below it, a frame that spans reads is gathered piecewise, so a sender must have sent this
 * much before it can make us allocate up to the cap.
 */
export const FRAME_PREALLOCATE_AFTER_BYTES = 64 * 1024;

/** A frame whose buffer is allocated and being filled as its bytes arrive. */
interface FrameInProgress {
  readonly bytes: Uint8Array;
  filled: number;
}

/** Incremental decoder: push bytes as they arrive, get whole frames out. */
export class FrameDecoder {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private filling: FrameInProgress | null = null;
  private failed: FrameDecodeError | null = null;
  private readonly frameBytesMax: number;
  private readonly preallocateAfterBytes: number;
  /** Where frames of POOLED_FRAME_BYTES_MIN and up are read into; null: fresh buffers. */
  private readonly pool: FrameBufferPool | null;

  constructor(
    frameBytesMax = FRAME_BYTES_MAX,
    preallocateAfterBytes = FRAME_PREALLOCATE_AFTER_BYTES,
    pool: FrameBufferPool | null = null,
  ) {
    this.frameBytesMax = frameBytesMax;
    this.preallocateAfterBytes = preallocateAfterBytes;
    this.pool = pool;
  }

  /** Bytes held for a frame not yet complete: what a slow sender costs this node. */
  get bufferedBytes(): number {
    return this.filling === null ? this.pendingBytes : this.filling.bytes.length;
  }

  push(bytes: Uint8Array): FrameDecodeResult {
    if (this.failed !== null) return { frames: [], error: this.failed };
    const frames: Frame[] = [];
    let rest = bytes;
    if (this.filling !== null) {
      rest = this.fill(this.filling, bytes);
      if (this.filling.filled < this.filling.bytes.length) return { frames, error: null };
      const whole = this.filling.bytes;
      this.filling = null;
      const decoded = decodeWholeFrame(whole);
      if ("code" in decoded) return this.fail(decoded, frames);
      frames.push(decoded);
    }
    if (rest.length > 0) {
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
    return this.decodePending(frames);
  }

  /** Whole frames out of `pending`; a large frame still arriving moves to `filling`. */
  private decodePending(frames: Frame[]): FrameDecodeResult {
    for (;;) {
      if (this.pendingBytes < LENGTH_FIELD_BYTES) break;
      const length = this.peekUint32();
      const frameBytes = LENGTH_FIELD_BYTES + length;
      if (
        length < FRAME_PREFIX_BYTES + FRAME_TAG_BYTES - LENGTH_FIELD_BYTES ||
        frameBytes > this.frameBytesMax
      ) {
        const foreign = foreignProtocolOf(length);
        if (foreign !== null) {
          const message = `these bytes are ${foreign}, not FTFS frames`;
          return this.fail({ code: "BAD_FRAME", message, requestId: null, foreign }, frames);
        }
        const code: ErrorCode = frameBytes > this.frameBytesMax ? "FRAME_TOO_LARGE" : "BAD_FRAME";
        return this.fail(
          { code, message: `frame length ${length} is outside the allowed range`, requestId: null },
          frames,
        );
      }
      if (this.pendingBytes < frameBytes) {
        if (this.pendingBytes >= this.preallocateAfterBytes) this.startFilling(frameBytes);
        break;
      }
      const bytesOfFrame = this.take(frameBytes);
      const decoded = decodeWholeFrame(bytesOfFrame);
      if ("code" in decoded) return this.fail(decoded, frames);
      frames.push(decoded);
    }
    return { frames, error: null };
  }

  /** Allocate the frame (its length was checked by the caller) and move what is pending in. */
  private startFilling(frameBytes: number): void {
    const count = this.pendingBytes;
    const pooled = this.pool !== null && frameBytes >= POOLED_FRAME_BYTES_MIN;
    const bytes = pooled
      ? (this.pool as FrameBufferPool).take(frameBytes)
      : new Uint8Array(frameBytes);
    const frame: FrameInProgress = { bytes, filled: 0 };
    for (const part of this.pending) {
      frame.bytes.set(part, frame.filled);
      frame.filled += part.length;
    }
    assert(frame.filled === count && count < frameBytes, "pending bytes overflow their frame");
    this.pending = [];
    this.pendingBytes = 0;
    this.filling = frame;
  }

  /** Copy as much of `bytes` as the frame still needs; returns what belongs to later frames. */
  private fill(frame: FrameInProgress, bytes: Uint8Array): Uint8Array {
    const used = Math.min(bytes.length, frame.bytes.length - frame.filled);
    frame.bytes.set(used === bytes.length ? bytes : bytes.subarray(0, used), frame.filled);
    frame.filled += used;
    return bytes.subarray(used);
  }

  private fail(error: FrameDecodeError, frames: Frame[]): FrameDecodeResult {
    if (this.filling !== null) this.pool?.give(this.filling.bytes);
    this.failed = error;
    this.pending = [];
    this.pendingBytes = 0;
    this.filling = null;
    return { frames, error };
  }

  private peekUint32(): number {
    const first = this.pending[0];
    if (first !== undefined && first.length >= LENGTH_FIELD_BYTES) {
      return new DataView(first.buffer, first.byteOffset, first.byteLength).getUint32(0);
    }
    const prefix = this.copyOut(LENGTH_FIELD_BYTES, false);
    return new DataView(prefix.buffer).getUint32(0);
  }

  /** Remove `count` bytes from the front; zero-copy when one pushed buffer holds them all. */
  private take(count: number): Uint8Array {
    const first = this.pending[0];
    if (first !== undefined && first.length >= count) {
      const out = first.subarray(0, count);
      if (first.length === count) this.pending.shift();
      else this.pending[0] = first.subarray(count);
      this.pendingBytes -= count;
      return out;
    }
    return this.copyOut(count, true);
  }

  private copyOut(count: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(count);
    let filled = 0;
    let index = 0;
    while (filled < count) {
      const part = this.pending[index];
      if (part === undefined) throw new RangeError("frame decoder underrun");
      const used = Math.min(part.length, count - filled);
      out.set(part.subarray(0, used), filled);
      filled += used;
      if (consume && used < part.length) {
        this.pending[index] = part.subarray(used);
      } else {
        index += 1;
      }
    }
    if (consume) {
      this.pending.splice(0, index);
      this.pendingBytes -= count;
    }
    return out;
  }
}

function decodeWholeFrame(bytes: Uint8Array): Frame | FrameDecodeError {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(4);
  const kind = view.getUint8(5);
  const requestId = view.getUint32(6);
  const headerBytes = view.getUint32(10);
  if (version !== PROTOCOL_VERSION) {
    return {
      code: "UNSUPPORTED_VERSION",
      message: `protocol version ${version}, expected ${PROTOCOL_VERSION}`,
      requestId,
    };
  }
  if (kind !== FRAME_KIND.request && kind !== FRAME_KIND.response && kind !== FRAME_KIND.error) {
    return { code: "BAD_FRAME", message: `unknown frame kind ${kind}`, requestId };
  }
  const tagAt = bytes.length - FRAME_TAG_BYTES;
  if (headerBytes > FRAME_HEADER_BYTES_MAX || FRAME_PREFIX_BYTES + headerBytes > tagAt) {
    return {
      code: "BAD_FRAME",
      message: `header length ${headerBytes} does not fit the frame`,
      requestId,
    };
  }
  let header: unknown;
  try {
    header = JSON.parse(
      utf8Decoder.decode(bytes.subarray(FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + headerBytes)),
    );
  } catch {
    return { code: "BAD_FRAME", message: "frame header is not UTF-8 JSON", requestId };
  }
  const headEnd = FRAME_PREFIX_BYTES + headerBytes;
  return {
    kind,
    requestId,
    header,
    payload: bytes.subarray(headEnd, tagAt),
    head: bytes.subarray(0, headEnd),
    tag: bytes.subarray(tagAt),
  };
}
