/**
 * Snapshots without a ceiling, sans I/O. A driver whose state machine lives in a file keeps the
 * snapshot's bytes (its "image") on its own disk and puts only a small descriptor in the Raft
 * snapshot's `data`: the image's size and SHA-256. The Raft core carries that descriptor like
 * any snapshot data; it never sees the image. A follower pulls the image in parts, each checked
 * against its hash, keeping what it has on disk so a dropped link resumes where it stopped, and
 * installs it only once the whole file matches the descriptor's hash.
 *
 * Owns: the descriptor's codec, and ImagePull, the receiver's side of one transfer (which part
 * to ask for next, what to write, when the image is whole). Must not touch disks, sockets or
 * clocks: the driver reads and writes the bytes and tells ImagePull what became durable.
 */

import { assert } from "../assert.ts";

const MIB = 1024 * 1024;

/**
 * Image bytes per part: one part is what either side holds in memory for a transfer, and
 * what a dropped link can cost to resend. 4 MiB is the default chunk size.
 */
export const SNAPSHOT_IMAGE_PART_BYTES = 4 * MIB;

/** Descriptor bytes on the wire and on disk: a few numbers and a hash, far below this. */
export const SNAPSHOT_IMAGE_DESCRIPTOR_BYTES_MAX = 1024;

/** An image's size and hash: all the Raft core's snapshot carries for a file-backed state. */
export interface SnapshotImage {
  readonly bytes: number;
  /** SHA-256 of the whole image, lowercase hex. */
  readonly sha256: string;
}

/** The tag that tells a descriptor from a state machine's inline snapshot data. */
const DESCRIPTOR_TAG = "ftfsSnapshotImage";
const DESCRIPTOR_VERSION = 1;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const OPEN_BRACE = 0x7b;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeSnapshotImage(image: SnapshotImage): Uint8Array {
  assert(Number.isSafeInteger(image.bytes) && image.bytes >= 0, "image size is a byte count");
  assert(SHA256_HEX.test(image.sha256), "image hash is SHA-256 hex");
  const text = JSON.stringify({
    [DESCRIPTOR_TAG]: DESCRIPTOR_VERSION,
    bytes: image.bytes,
    sha256: image.sha256,
  });
  return encoder.encode(text);
}

/**
 * The descriptor `data` holds, or null when `data` is not one (inline snapshot data, such as
 * an older node's gzipped export, which never starts with '{').
 */
export function decodeSnapshotImage(data: Uint8Array): SnapshotImage | null {
  if (data.length === 0 || data.length > SNAPSHOT_IMAGE_DESCRIPTOR_BYTES_MAX) return null;
  if (data[0] !== OPEN_BRACE) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch {
    // Not JSON, so not a descriptor: the caller treats it as inline data.
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const fields = parsed as Record<string, unknown>;
  const { bytes, sha256 } = fields;
  if (fields[DESCRIPTOR_TAG] !== DESCRIPTOR_VERSION) return null;
  if (typeof bytes !== "number" || !Number.isSafeInteger(bytes) || bytes < 0) return null;
  if (typeof sha256 !== "string" || !SHA256_HEX.test(sha256)) return null;
  return { bytes, sha256 };
}

/** Bytes [offset, offset + bytes) of the image, which the driver asks its sender for. */
export interface ImagePartRequest {
  readonly offset: number;
  readonly bytes: number;
}

/** What a part that came back means for the driver. */
export type ImagePartVerdict =
  /** Write these bytes at `offset` and make them durable, then call durable(). */
  | { readonly kind: "write"; readonly offset: number; readonly bytes: number }
  /** Not the part asked for (late, duplicated, or from an earlier request): ignore it. */
  | { readonly kind: "stale" }
  /** Its bytes do not match its hash or its place: ask again (a hostile or torn part). */
  | { readonly kind: "refused"; readonly reason: string };

/**
 * The receiver's side of one image transfer: one part in flight at a time, so memory stays at
 * one part on either side however large the image. It starts from what the driver found on
 * disk (whole parts only), asks for the next part, and moves on only once a checked part is
 * durable. A link that drops loses nothing durable: the driver calls `linkLost()` and the next
 * request repeats the part in flight. `complete` says every byte is durable; the driver then
 * hashes the whole file and installs it only if it matches `image.sha256`.
 */
export class ImagePull {
  readonly image: SnapshotImage;
  private readonly partBytes: number;
  private durableBytes: number;
  private inFlight: ImagePartRequest | null = null;
  private writing: ImagePartRequest | null = null;
  private refusedParts = 0;

  /** `durableBytes`: the image prefix already on disk; whole parts of it are kept. */
  constructor(image: SnapshotImage, durableBytes: number, partBytes = SNAPSHOT_IMAGE_PART_BYTES) {
    assert(Number.isSafeInteger(partBytes) && partBytes >= 1, "part size is a positive count");
    assert(Number.isSafeInteger(durableBytes) && durableBytes >= 0, "durable bytes is a count");
    this.image = image;
    this.partBytes = partBytes;
    // A prefix longer than the image, or a torn last part, is not trusted: start at a part.
    const kept = Math.min(durableBytes, image.bytes);
    this.durableBytes = kept === image.bytes ? kept : kept - (kept % partBytes);
  }

  /** Bytes of the image on disk and checked part by part: where a transfer resumes. */
  get resumeOffset(): number {
    return this.durableBytes;
  }

  get complete(): boolean {
    return this.durableBytes === this.image.bytes;
  }

  /** Parts whose bytes did not match their hash or place, and were asked for again. */
  get refused(): number {
    return this.refusedParts;
  }

  /** The next part to ask for; null while one is in flight or being written, or when done. */
  nextRequest(): ImagePartRequest | null {
    if (this.complete || this.inFlight !== null || this.writing !== null) return null;
    const offset = this.durableBytes;
    const bytes = Math.min(this.partBytes, this.image.bytes - offset);
    this.inFlight = { offset, bytes };
    return this.inFlight;
  }

  /**
   * A part came back: `offset` and `bytes` as the sender says, `hashMatches` whether its bytes
   * hash to the sender's part hash (the driver computes it; a mismatch is a torn part).
   */
  received(offset: number, bytes: number, hashMatches: boolean): ImagePartVerdict {
    const asked = this.inFlight;
    if (asked === null || offset !== asked.offset) return { kind: "stale" };
    this.inFlight = null;
    if (bytes !== asked.bytes || !hashMatches) {
      this.refusedParts += 1;
      const reason = hashMatches
        ? `part at ${offset} has ${bytes} bytes, not ${asked.bytes}`
        : `part at ${offset} does not match its hash`;
      return { kind: "refused", reason };
    }
    this.writing = asked;
    return { kind: "write", offset, bytes };
  }

  /** The part `received` told the driver to write is on disk (fsync'd). */
  durable(offset: number): void {
    const part = this.writing;
    assert(part !== null && part.offset === offset, `no write at ${offset} was outstanding`);
    this.writing = null;
    this.durableBytes = offset + part.bytes;
  }

  /** Writing the part failed: nothing of it counts; it is asked for again. */
  writeFailed(offset: number): void {
    assert(this.writing !== null && this.writing.offset === offset, `no write at ${offset}`);
    this.writing = null;
  }

  /**
   * The link broke, or the answer never came: the part in flight is forgotten and asked for
   * again; a part being written stays the driver's to finish or to lose in a crash.
   */
  linkLost(): void {
    this.inFlight = null;
  }
}
