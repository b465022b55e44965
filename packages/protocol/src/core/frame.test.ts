/**
 * The frame decoder: every split of a valid byte stream yields the same frames (fed one byte at a
 * time or all at once); hostile lengths, versions, kinds and headers are refused with a typed
 * error before allocation, and a failed decoder stays failed.
 */
import { describe, expect, test } from "bun:test";
import {
  encodeFrameBytes,
  foreignProtocolOf,
  FRAME_KIND,
  FrameDecoder,
  type ForeignProtocol,
  type Frame,
} from "./frame.ts";
import { FRAME_BYTES_MAX, FRAME_PREFIX_BYTES } from "./limits.ts";

/** Thresholds that make small test frames take the preallocating path, including at once. */
const PREALLOCATE_THRESHOLDS = [1, 5, 20] as const;

function sampleStream(): {
  bytes: Uint8Array;
  frames: Array<{ requestId: number; header: unknown; payload: number[] }>;
} {
  const frames = [
    { requestId: 1, header: { op: "getChunk", epoch: 0, body: { chunkId: "x" } }, payload: [] },
    { requestId: 2, header: { body: { ok: true, text: "héllo ✓" } }, payload: [1, 2, 3, 255] },
    {
      requestId: 0xffff_ffff,
      header: null,
      payload: Array.from({ length: 300 }, (_, i) => i % 256),
    },
  ];
  const parts = frames.map((frame) =>
    encodeFrameBytes(
      FRAME_KIND.response,
      frame.requestId,
      frame.header,
      new Uint8Array(frame.payload),
    ),
  );
  return { bytes: new Uint8Array(Buffer.concat(parts)), frames };
}

function simplify(
  frames: Frame[],
): Array<{ requestId: number; header: unknown; payload: number[] }> {
  return frames.map((frame) => ({
    requestId: frame.requestId,
    header: frame.header,
    payload: [...frame.payload],
  }));
}

describe("FrameDecoder", () => {
  test("decodes a stream fed one byte at a time", () => {
    const { bytes, frames } = sampleStream();
    const decoder = new FrameDecoder();
    const out: Frame[] = [];
    for (const byte of bytes) {
      const result = decoder.push(new Uint8Array([byte]));
      expect(result.error).toBeNull();
      out.push(...result.frames);
    }
    expect(simplify(out)).toEqual(frames);
    expect(decoder.bufferedBytes).toBe(0);
  });

  test("decodes the same stream under every two-way split", () => {
    const { bytes, frames } = sampleStream();
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      const decoder = new FrameDecoder();
      const first = decoder.push(bytes.slice(0, cut));
      const second = decoder.push(bytes.slice(cut));
      expect(simplify([...first.frames, ...second.frames])).toEqual(frames);
    }
  });

  test("preallocating after any threshold decodes the same, byte at a time or split in two", () => {
    const { bytes, frames } = sampleStream();
    for (const threshold of PREALLOCATE_THRESHOLDS) {
      const decoder = new FrameDecoder(FRAME_BYTES_MAX, threshold);
      const out: Frame[] = [];
      for (const byte of bytes) {
        const result = decoder.push(new Uint8Array([byte]));
        expect(result.error).toBeNull();
        out.push(...result.frames);
      }
      expect(simplify(out)).toEqual(frames);
      expect(decoder.bufferedBytes).toBe(0);
      for (let cut = 0; cut <= bytes.length; cut += 1) {
        const split = new FrameDecoder(FRAME_BYTES_MAX, threshold);
        const first = split.push(bytes.slice(0, cut));
        const second = split.push(bytes.slice(cut));
        expect(simplify([...first.frames, ...second.frames])).toEqual(frames);
      }
    }
  });

  test("a large frame over many reads is allocated once, after the threshold, and filled", () => {
    const payload = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256);
    const bytes = encodeFrameBytes(FRAME_KIND.response, 9, { n: 1 }, payload);
    const tail = encodeFrameBytes(FRAME_KIND.response, 10, { n: 2 });
    const stream = new Uint8Array(Buffer.concat([bytes, tail]));
    const threshold = 50_000;
    const readBytes = 40_000;
    const decoder = new FrameDecoder(FRAME_BYTES_MAX, threshold);
    const out: Frame[] = [];
    const buffered: number[] = [];
    for (let at = 0; at < stream.length; at += readBytes) {
      out.push(...decoder.push(stream.slice(at, at + readBytes)).frames);
      buffered.push(decoder.bufferedBytes);
    }
    // One read is gathered piecewise; from the second the whole frame is held, then nothing.
    expect(buffered[0]).toBe(readBytes);
    expect(buffered[1]).toBe(bytes.length);
    expect(buffered.at(-1)).toBe(0);
    expect(out.map((frame) => frame.requestId)).toEqual([9, 10]);
    expect(out[0]?.payload).toEqual(payload);
  });

  test("refuses an oversize length before allocating, even past the preallocation threshold", () => {
    const frameBytesMax = 1_000;
    const decoder = new FrameDecoder(frameBytesMax, 8);
    const bytes = new Uint8Array(64);
    new DataView(bytes.buffer).setUint32(0, frameBytesMax);
    const result = decoder.push(bytes);
    expect(result.error?.code).toBe("FRAME_TOO_LARGE");
    expect(decoder.bufferedBytes).toBe(0);
  });

  test("refuses a length over the cap from the first four bytes", () => {
    const decoder = new FrameDecoder();
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, FRAME_BYTES_MAX);
    const result = decoder.push(prefix);
    expect(result.error?.code).toBe("FRAME_TOO_LARGE");
    expect(decoder.bufferedBytes).toBe(0);
  });

  test("refuses a length too short to hold the prefix", () => {
    const result = new FrameDecoder().push(new Uint8Array([0, 0, 0, 3, 1, 0, 0]));
    expect(result.error?.code).toBe("BAD_FRAME");
  });

  test("refuses another protocol version, an unknown kind, a bad header length and non-JSON", () => {
    const valid = encodeFrameBytes(FRAME_KIND.request, 7, { a: 1 });
    const cases: Array<[string, (bytes: Uint8Array) => void]> = [
      ["UNSUPPORTED_VERSION", (bytes) => bytes.set([9], 4)],
      ["BAD_FRAME", (bytes) => bytes.set([7], 5)],
      ["BAD_FRAME", (bytes) => new DataView(bytes.buffer).setUint32(10, 10_000)],
      ["BAD_FRAME", (bytes) => bytes.set([0x7b + 1], FRAME_PREFIX_BYTES)],
    ];
    for (const [code, mutate] of cases) {
      const bytes = valid.slice();
      mutate(bytes);
      const result = new FrameDecoder().push(bytes);
      expect(result.error?.code).toBe(code as "BAD_FRAME");
      expect(result.error?.requestId).toBe(7);
    }
  });

  test("stays failed after an error, even if valid frames follow", () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(new Uint8Array([0, 0, 0, 1])).error).not.toBeNull();
    const next = decoder.push(encodeFrameBytes(FRAME_KIND.request, 1, {}));
    expect(next.frames).toHaveLength(0);
    expect(next.error).not.toBeNull();
  });

  test("a payload delivered in one push is not copied", () => {
    const payload = new Uint8Array(100_000).fill(5);
    const bytes = encodeFrameBytes(FRAME_KIND.request, 1, {}, payload);
    const result = new FrameDecoder().push(bytes);
    expect(result.frames[0]?.payload.buffer).toBe(bytes.buffer);
  });
});

describe("another protocol's bytes", () => {
  test("a web server's answer, a TLS alert or an SSH banner is named, not a frame length", () => {
    const cases: Array<[string, ForeignProtocol]> = [
      ["HTTP/1.1 400 Bad Request\r\n\r\n", "HTTP"],
      ["GET / HTTP/1.1\r\n\r\n", "HTTP"],
      ["\u0015\u0003\u0003\u0000\u0002\u0002\u0032", "TLS"],
      ["SSH-2.0-OpenSSH_9.2\r\n", "SSH"],
    ];
    for (const [text, protocol] of cases) {
      const bytes = Uint8Array.from(text, (char) => char.charCodeAt(0));
      const result = new FrameDecoder().push(bytes);
      expect({ code: result.error?.code, foreign: result.error?.foreign }).toEqual({
        code: "BAD_FRAME",
        foreign: protocol,
      });
      expect(result.error?.message).toBe(`these bytes are ${protocol}, not FTFS frames`);
    }
    expect(foreignProtocolOf(0x00001000)).toBeNull();
  });
});
