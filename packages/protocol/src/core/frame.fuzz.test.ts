/**
 * Fuzzing the frame decoder, the first thing every byte from a TCP peer meets. Properties:
 * valid frames come out exactly as they went in however the stream is split into reads; any
 * byte stream (random, or valid frames with bits flipped, lengths set to 0/huge/u32 max,
 * truncated, header garbage, wrong version or kind) gives frames or one typed error and never
 * a throw; the decoder holds at most its cap, answers the same whatever the split, and once
 * failed stays failed. Run counts and time limits: testing/fuzz.ts.
 */

import { expect } from "bun:test";
import fc from "fast-check";
import { fuzzTest } from "../testing/fuzz.ts";
import {
  byteMutation,
  concatBytes,
  lengthEdges,
  mutateBytes,
  splitAt,
} from "../testing/fuzz-values.ts";
import type { ErrorCode } from "./errors.ts";
import {
  encodeFrameBytes,
  FRAME_KIND,
  FrameDecoder,
  type Frame,
  type FrameDecodeError,
  type FrameKind,
} from "./frame.ts";
import { FRAME_PREFIX_BYTES, PROTOCOL_VERSION } from "./limits.ts";

/** The only codes a frame decoder may answer with. */
const DECODER_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "BAD_FRAME",
  "FRAME_TOO_LARGE",
  "UNSUPPORTED_VERSION",
]);
/** Bytes after the header and payload (the MAC tag), measured so this test follows the format. */
const TRAILER_BYTES =
  encodeFrameBytes(FRAME_KIND.request, 0, null).length - FRAME_PREFIX_BYTES - "null".length;
const utf8 = new TextEncoder();

interface FrameInput {
  readonly kind: FrameKind;
  readonly requestId: number;
  readonly header: unknown;
  readonly payload: Uint8Array;
}

const frameInput: fc.Arbitrary<FrameInput> = fc.record({
  kind: fc.constantFrom(FRAME_KIND.request, FRAME_KIND.response, FRAME_KIND.error),
  requestId: fc.nat({ max: 0xffff_ffff }),
  header: fc.jsonValue({ maxDepth: 3 }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

/** Small caps and preallocation thresholds, so both the gathering and the filling paths run. */
const decoderShape = fc.record({
  capBytes: fc.integer({ min: 64, max: 70_000 }),
  preallocateAfterBytes: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(64 * 1024)),
});

interface Outcome {
  readonly frames: Frame[];
  readonly error: FrameDecodeError | null;
}

/** Pushes every read, checking the invariants that must hold after each one. */
function decodeReads(
  decoder: FrameDecoder,
  reads: readonly Uint8Array[],
  capBytes: number,
): Outcome {
  const frames: Frame[] = [];
  let error: FrameDecodeError | null = null;
  for (const read of reads) {
    const result = decoder.push(read);
    if (error !== null) {
      // Once failed, stays failed: the same error, no more frames.
      expect(result.frames).toHaveLength(0);
      expect(result.error).toEqual(error);
    }
    frames.push(...result.frames);
    error = result.error;
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(capBytes);
    if (error !== null) {
      expect(DECODER_CODES.has(error.code)).toBe(true);
      expect(
        error.requestId === null || (Number.isInteger(error.requestId) && error.requestId >= 0),
      ).toBe(true);
      expect(decoder.bufferedBytes).toBe(0);
    }
  }
  for (const frame of frames) {
    expect([FRAME_KIND.request, FRAME_KIND.response, FRAME_KIND.error]).toContain(frame.kind);
    expect(frame.payload.length).toBeLessThanOrEqual(capBytes);
  }
  return { frames, error };
}

/** Only what the stream says: frames compared by content, errors by code and request id. */
function summary(outcome: Outcome): unknown {
  const frames = outcome.frames.map((frame) => ({
    kind: frame.kind,
    requestId: frame.requestId,
    header: JSON.stringify(frame.header),
    payload: Array.from(frame.payload),
  }));
  const error =
    outcome.error === null
      ? null
      : { code: outcome.error.code, requestId: outcome.error.requestId };
  return { frames, error };
}

/** The stream pushed whole and split at `cuts` must decode the same, within every invariant. */
function checkStream(
  stream: Uint8Array,
  cuts: readonly number[],
  shape: { capBytes: number; preallocateAfterBytes: number },
): Outcome {
  const whole = decodeReads(
    new FrameDecoder(shape.capBytes, shape.preallocateAfterBytes),
    [stream],
    shape.capBytes,
  );
  const split = decodeReads(
    new FrameDecoder(shape.capBytes, shape.preallocateAfterBytes),
    splitAt(stream, cuts),
    shape.capBytes,
  );
  expect(summary(split)).toEqual(summary(whole));
  const after = new FrameDecoder(shape.capBytes, shape.preallocateAfterBytes);
  after.push(stream);
  // Bytes after a failure change nothing.
  if (whole.error !== null) expect(after.push(stream).error?.code).toBe(whole.error.code);
  return split;
}

const splitCuts = fc.array(fc.nat(), { maxLength: 12 });

fuzzTest("frames: valid frames round-trip exactly, split into reads anywhere", 10_000, () =>
  fc.property(
    fc.array(frameInput, { minLength: 1, maxLength: 5 }),
    splitCuts,
    fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(64 * 1024)),
    (inputs, cuts, preallocateAfterBytes) => {
      const stream = concatBytes(
        inputs.map((f) => encodeFrameBytes(f.kind, f.requestId, f.header, f.payload)),
      );
      const decoder = new FrameDecoder(undefined, preallocateAfterBytes);
      const frames: Frame[] = [];
      for (const read of splitAt(stream, cuts)) {
        const result = decoder.push(read);
        expect(result.error).toBeNull();
        frames.push(...result.frames);
      }
      expect(decoder.bufferedBytes).toBe(0);
      expect(frames).toHaveLength(inputs.length);
      for (const [index, frame] of frames.entries()) {
        const input = inputs[index];
        expect(frame.kind).toBe(input?.kind as FrameKind);
        expect(frame.requestId).toBe(input?.requestId as number);
        expect(JSON.stringify(frame.header)).toBe(JSON.stringify(input?.header));
        expect(Array.from(frame.payload)).toEqual(Array.from(input?.payload ?? []));
      }
    },
  ),
);

fuzzTest("frames: random byte streams give frames or one typed error, within the cap", 50_000, () =>
  fc.property(fc.uint8Array({ maxLength: 400 }), splitCuts, decoderShape, (stream, cuts, shape) => {
    checkStream(stream, cuts, shape);
  }),
);

fuzzTest(
  "frames: mutated valid streams (bit flips, lengths, truncation) never break the decoder",
  10_000,
  () =>
    fc.property(
      fc.array(frameInput, { minLength: 1, maxLength: 4 }),
      fc.array(byteMutation(lengthEdges(70_000)), { minLength: 1, maxLength: 4 }),
      splitCuts,
      decoderShape,
      (inputs, changes, cuts, shape) => {
        const valid = concatBytes(
          inputs.map((f) => encodeFrameBytes(f.kind, f.requestId, f.header, f.payload)),
        );
        checkStream(mutateBytes(valid, changes), cuts, shape);
      },
    ),
);

/** A frame assembled field by field, so version, kind and header bytes can be anything. */
const rawFrame = fc.record({
  version: fc.oneof(fc.constant(PROTOCOL_VERSION), fc.nat({ max: 255 })),
  kind: fc.oneof(fc.constantFrom(0, 1, 2), fc.nat({ max: 255 })),
  requestId: fc.nat({ max: 0xffff_ffff }),
  header: fc.oneof(
    fc.jsonValue({ maxDepth: 2 }).map((value) => utf8.encode(JSON.stringify(value))),
    fc.string({ unit: "binary", maxLength: 40 }).map((text) => utf8.encode(text)),
    fc.uint8Array({ maxLength: 40 }),
  ),
  payload: fc.uint8Array({ maxLength: 64 }),
});

function assemble(raw: {
  version: number;
  kind: number;
  requestId: number;
  header: Uint8Array;
  payload: Uint8Array;
}): Uint8Array {
  const total = FRAME_PREFIX_BYTES + raw.header.length + raw.payload.length + TRAILER_BYTES;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, total - 4);
  view.setUint8(4, raw.version);
  view.setUint8(5, raw.kind);
  view.setUint32(6, raw.requestId);
  view.setUint32(10, raw.header.length);
  bytes.set(raw.header, FRAME_PREFIX_BYTES);
  bytes.set(raw.payload, FRAME_PREFIX_BYTES + raw.header.length);
  return bytes;
}

/** What a frame decoder must make of one raw frame, worked out independently. */
function expectedCode(raw: {
  version: number;
  kind: number;
  header: Uint8Array;
}): ErrorCode | null {
  if (raw.version !== PROTOCOL_VERSION) return "UNSUPPORTED_VERSION";
  if (raw.kind > FRAME_KIND.error) return "BAD_FRAME";
  try {
    JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw.header));
    return null;
  } catch {
    return "BAD_FRAME";
  }
}

fuzzTest(
  "frames: header garbage, wrong version or kind is refused with the right code",
  15_000,
  () =>
    fc.property(rawFrame, splitCuts, (raw, cuts) => {
      const outcome = checkStream(assemble(raw), cuts, {
        capBytes: 70_000,
        preallocateAfterBytes: 64 * 1024,
      });
      const expected = expectedCode(raw);
      expect(outcome.error?.code ?? null).toBe(expected);
      if (expected !== null) {
        expect(outcome.error?.requestId).toBe(raw.requestId);
        return;
      }
      expect(outcome.frames).toHaveLength(1);
      expect(Array.from(outcome.frames[0]?.payload ?? [])).toEqual(Array.from(raw.payload));
    }),
);
