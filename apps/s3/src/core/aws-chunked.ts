/**
 * aws-chunked bodies (Content-Encoding: aws-chunked), decoded as they arrive, with no I/O: each
 * chunk is `hex-size[;chunk-signature=sig]\r\n` + bytes + `\r\n`, a chunk of size 0 ends the
 * data, and trailing headers may follow (checksums; the signed variant signs them too). In a
 * signed body every chunk's signature links to the one before it, from the request's own
 * ("seed") signature, so a chunk changed, dropped, reordered or added breaks the chain.
 *
 * push() takes bytes in any split and answers the payload bytes ready so far; end() checks
 * that the body ended where it should. A refusal is an S3 error, and nothing after it counts.
 */

import type { Hashes } from "@ftfs/protocol/core";
import { s3Error, type S3Error } from "./s3-error.ts";
import {
  chunkSignature,
  EMPTY_PAYLOAD_SHA256,
  trailerSignature,
  type VerifiedSignature,
} from "./sigv4.ts";

/** A chunk header line (size, signature) is short; a longer one is not aws-chunked. */
const CHUNK_HEADER_BYTES_MAX = 256;
/** SDKs send 64 KiB chunks; a chunk this large would be held whole to check its signature. */
export const AWS_CHUNK_BYTES_MAX = 16 * 1024 * 1024;
/** Trailing headers: a few checksums and their signature. */
const TRAILER_BYTES_MAX = 4096;
/** The trailing header that signs the others in a signed body. */
const TRAILER_SIGNATURE_HEADER = "x-amz-trailer-signature";

export interface ChunkedOptions {
  /** The request's checked signature: chunks are signed in a chain from it. Null: unsigned. */
  readonly signed: VerifiedSignature | null;
  readonly hashes: Hashes;
  /** Trailing headers are expected after the last chunk. */
  readonly trailer: boolean;
}

type Phase = "header" | "data" | "data-end" | "trailer" | "done";

export class AwsChunkedDecoder {
  private readonly options: ChunkedOptions;
  private phase: Phase = "header";
  /** Bytes received and not yet consumed, kept as they came: joined only when needed. */
  private parts: Uint8Array[] = [];
  private buffered = 0;
  private chunkBytes = 0;
  private chunkSignatureClaimed: string | null = null;
  private previousSignature: string;
  private failure: S3Error | null = null;
  /** Trailing header lines, as sent (name: value). */
  readonly trailers: string[] = [];

  constructor(options: ChunkedOptions) {
    this.options = options;
    this.previousSignature = options.signed?.claim.signature ?? "";
  }

  /** The payload bytes these input bytes complete (signed chunks: only once verified). */
  push(bytes: Uint8Array): Uint8Array[] | S3Error {
    if (this.failure !== null) return this.failure;
    if (bytes.length > 0) {
      this.parts.push(bytes);
      this.buffered += bytes.length;
    }
    const out: Uint8Array[] = [];
    for (;;) {
      const step = this.step(out);
      if (step === "more") return out;
      if (step !== "next") {
        this.failure = step;
        return step;
      }
    }
  }

  /** The body is over: it must have ended after its last chunk (and trailers). */
  end(): S3Error | null {
    if (this.failure !== null) return this.failure;
    if (this.phase === "done" && this.buffered === 0) return null;
    if (this.phase === "done") return malformed("bytes follow the last chunk");
    return s3Error("IncompleteBody", "the aws-chunked body ended before its last chunk");
  }

  private step(out: Uint8Array[]): "next" | "more" | S3Error {
    switch (this.phase) {
      case "header":
        return this.readHeader();
      case "data":
        return this.readData(out);
      case "data-end":
        return this.readCrlf(this.chunkBytes === 0 ? this.afterLast() : "header");
      case "trailer":
        return this.readTrailer();
      case "done":
        return "more";
    }
  }

  private readHeader(): "next" | "more" | S3Error {
    const line = this.takeLine(CHUNK_HEADER_BYTES_MAX);
    if (line === null) return "more";
    if (typeof line !== "string") return line;
    const [sizeText = "", ...extensions] = line.split(";");
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText))
      return malformed(`chunk size '${sizeText.slice(0, 16)}'`);
    const size = Number.parseInt(sizeText, 16);
    if (size > AWS_CHUNK_BYTES_MAX) {
      return s3Error(
        "EntityTooLarge",
        `an aws-chunked chunk is at most ${AWS_CHUNK_BYTES_MAX} bytes`,
      );
    }
    const signature = extensions
      .map((part) => /^chunk-signature=([0-9a-f]{64})$/.exec(part.trim())?.[1])
      .find((value) => value !== undefined);
    if (this.options.signed !== null && signature === undefined) {
      return s3Error("SignatureDoesNotMatch", "a chunk of a signed aws-chunked body is not signed");
    }
    this.chunkBytes = size;
    this.chunkSignatureClaimed = signature ?? null;
    this.phase = "data";
    return "next";
  }

  private readData(out: Uint8Array[]): "next" | "more" | S3Error {
    if (this.buffered < this.chunkBytes) return "more";
    const data = this.take(this.chunkBytes);
    const { signed, hashes } = this.options;
    if (signed !== null) {
      const hash = data.length === 0 ? EMPTY_PAYLOAD_SHA256 : toHex(hashes.sha256(data));
      const expected = chunkSignature(signed, this.previousSignature, hash, hashes);
      if (expected !== this.chunkSignatureClaimed) {
        return s3Error("SignatureDoesNotMatch", "an aws-chunked chunk's signature does not match");
      }
      this.previousSignature = expected;
    }
    if (data.length > 0) out.push(data);
    this.phase = "data-end";
    return "next";
  }

  private afterLast(): Phase {
    return this.options.trailer ? "trailer" : "done";
  }

  private readCrlf(next: Phase): "next" | "more" | S3Error {
    // The last chunk of a body with trailers goes straight on to them (no blank line first).
    if (next === "trailer") {
      this.phase = "trailer";
      return "next";
    }
    if (this.buffered < 2) return "more";
    const crlf = this.take(2);
    if (crlf[0] !== 13 || crlf[1] !== 10) return malformed("a chunk does not end in CRLF");
    this.phase = next;
    return "next";
  }

  private readTrailer(): "next" | "more" | S3Error {
    const line = this.takeLine(TRAILER_BYTES_MAX);
    if (line === null) return "more";
    if (typeof line !== "string") return line;
    if (line === "") {
      if (this.trailers.length === 0) return "next"; // the CRLF that ends the last chunk
      this.phase = "done";
      return this.checkTrailerSignature();
    }
    if (this.trailers.join("").length + line.length > TRAILER_BYTES_MAX) {
      return malformed("trailing headers are too long");
    }
    this.trailers.push(line);
    return "next";
  }

  /** A signed body's trailers must carry their signature, chained from the final chunk's. */
  private checkTrailerSignature(): "next" | S3Error {
    const { signed, hashes } = this.options;
    if (signed === null) return "next";
    const values = trailerValues(this.trailers);
    const claimed = values.get(TRAILER_SIGNATURE_HEADER);
    values.delete(TRAILER_SIGNATURE_HEADER);
    const expected = trailerSignature(signed, this.previousSignature, values, hashes);
    if (claimed !== expected) {
      return s3Error("SignatureDoesNotMatch", "the trailing headers' signature does not match");
    }
    return "next";
  }

  /** One CRLF-ended line (without it), null until it is all here, or a refusal. */
  private takeLine(bytesMax: number): string | null | S3Error {
    // A line is short: look at no more than its bound (and the CRLF) of what is buffered.
    const head = this.peek(Math.min(this.buffered, bytesMax + 2));
    const end = indexOfCrlf(head);
    if (end < 0) return head.length > bytesMax ? malformed("a chunk header is too long") : null;
    const line = new TextDecoder().decode(this.take(end));
    this.take(2);
    return line;
  }

  /** The first `count` buffered bytes, joined, left in place. */
  private peek(count: number): Uint8Array {
    const first = this.parts[0];
    if (first !== undefined && first.length >= count) return first.subarray(0, count);
    const out = new Uint8Array(count);
    let filled = 0;
    for (const part of this.parts) {
      if (filled === count) break;
      const piece = part.subarray(0, count - filled);
      out.set(piece, filled);
      filled += piece.length;
    }
    return out;
  }

  /** The first `count` buffered bytes, consumed. */
  private take(count: number): Uint8Array {
    const out = this.peek(count).slice();
    let left = count;
    while (left > 0) {
      const first = this.parts[0];
      if (first === undefined) break;
      if (first.length <= left) {
        this.parts.shift();
        left -= first.length;
      } else {
        this.parts[0] = first.subarray(left);
        left = 0;
      }
    }
    this.buffered -= count;
    return out;
  }
}

/** The trailing checksum headers a body declared (x-amz-trailer), by lower name. */
export function trailerValues(lines: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0)
      values.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return values;
}

function malformed(why: string): S3Error {
  return s3Error("IncompleteBody", `the aws-chunked body is malformed: ${why}`);
}

function indexOfCrlf(bytes: Uint8Array): number {
  for (let at = 0; at + 1 < bytes.length; at += 1) {
    if (bytes[at] === 13 && bytes[at + 1] === 10) return at;
  }
  return -1;
}

function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}
