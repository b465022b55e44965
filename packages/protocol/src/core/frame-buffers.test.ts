/**
 * The frame buffer pool takes back only what it lent, each buffer once, keeps at most its bound
 * of free bytes, and lends a given-back buffer again; a decoder reading large frames into it
 * yields exact frames even in a buffer that held another frame before.
 */
import { expect, test } from "bun:test";
import { FrameBufferPool } from "./frame-buffers.ts";
import { encodeFrameBytes, FRAME_KIND, FrameDecoder } from "./frame.ts";
import { FRAME_BYTES_MAX, POOLED_FRAME_BYTES_MIN, POOLED_FRAME_STEP_BYTES } from "./limits.ts";

const LARGE_BYTES = POOLED_FRAME_BYTES_MIN * 2;
/** Decoder reads this size: large frames span reads and take a buffer when they start. */
const READ_BYTES = 64 * 1024;

test("a buffer given back is lent again; one not lent, or given twice, is refused", () => {
  const pool = new FrameBufferPool();
  const first = pool.take(LARGE_BYTES);
  expect(first.length).toBe(LARGE_BYTES);
  expect(pool.give(first.subarray(100, 200))).toBe(true);
  expect(pool.give(first)).toBe(false);
  expect(pool.give(new Uint8Array(LARGE_BYTES))).toBe(false);
  const again = pool.take(LARGE_BYTES - 7);
  expect(again.buffer).toBe(first.buffer);
  expect(again.length).toBe(LARGE_BYTES - 7);
  const other = pool.take(LARGE_BYTES);
  expect(other.buffer).not.toBe(first.buffer);
});

test("free buffers are kept up to the bound; past it they are left to the collector", () => {
  const pool = new FrameBufferPool(2 * LARGE_BYTES);
  const lent = [pool.take(LARGE_BYTES), pool.take(LARGE_BYTES), pool.take(LARGE_BYTES)];
  for (const view of lent) expect(pool.give(view)).toBe(true);
  expect(pool.freeBytesHeld).toBe(2 * LARGE_BYTES);
  pool.take(LARGE_BYTES);
  expect(pool.freeBytesHeld).toBe(LARGE_BYTES);
});

test("sizes come in steps: a frame a little larger than the step takes the next size", () => {
  const pool = new FrameBufferPool();
  const small = pool.take(POOLED_FRAME_STEP_BYTES);
  pool.give(small);
  expect(pool.take(POOLED_FRAME_STEP_BYTES + 1).buffer).not.toBe(small.buffer);
  expect(pool.take(POOLED_FRAME_STEP_BYTES - 1).buffer).toBe(small.buffer);
});

test("large frames decode exactly into reused buffers, small ones never take one", () => {
  const pool = new FrameBufferPool();
  const decoder = new FrameDecoder(FRAME_BYTES_MAX, READ_BYTES, pool);
  const payloads = [0x11, 0x22, 0x33].map((fill, index) =>
    new Uint8Array(LARGE_BYTES - index * 10).fill(fill),
  );
  const buffers = new Set<ArrayBufferLike>();
  for (const [index, payload] of payloads.entries()) {
    const bytes = encodeFrameBytes(FRAME_KIND.response, index + 1, { n: index }, payload);
    const frames = [];
    for (let at = 0; at < bytes.length; at += READ_BYTES) {
      frames.push(...decoder.push(bytes.subarray(at, at + READ_BYTES)).frames);
    }
    expect(frames).toHaveLength(1);
    const frame = frames[0];
    if (frame === undefined) throw new Error("no frame");
    expect(frame.payload).toEqual(payload);
    expect(frame.header).toEqual({ n: index });
    buffers.add(frame.payload.buffer);
    expect(pool.give(frame.payload)).toBe(true);
  }
  expect(buffers.size).toBe(1);
  const small = encodeFrameBytes(FRAME_KIND.response, 9, {}, new Uint8Array(READ_BYTES * 2));
  let smallFrame = null;
  for (let at = 0; at < small.length; at += READ_BYTES) {
    smallFrame = decoder.push(small.subarray(at, at + READ_BYTES)).frames[0] ?? smallFrame;
  }
  expect(smallFrame?.payload.length).toBe(READ_BYTES * 2);
  expect(pool.give(smallFrame?.payload ?? new Uint8Array(0))).toBe(false);
});
