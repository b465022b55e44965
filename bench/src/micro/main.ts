/**
 * `bun run bench:micro`: tinybench micro-benchmarks of the hot paths that every byte crosses:
 * frame encode/decode of a chunk-sized frame and SHA-256 of a chunk. Printed beside a plain
 * memcpy of the same bytes, measured in the same run, so the ratio means something on a noisy
 * machine.
 */

import { Bench } from "tinybench";
import {
  CHUNK_BYTES_DEFAULT,
  encodeFrameBytes,
  FRAME_KIND,
  FrameDecoder,
} from "@ftfs/protocol/core";

const BENCH_TIME_MS = 1_000;
const MIB = 1024 * 1024;

const chunk = new Uint8Array(CHUNK_BYTES_DEFAULT);
for (let index = 0; index < chunk.length; index += 4096) chunk[index] = index & 0xff;
const header = {
  op: "putChunk",
  epoch: 3,
  body: { chunkId: "a".repeat(64), owner: { uid: "alice", name: "x", uploadId: "u" } },
};
const encoded = encodeFrameBytes(FRAME_KIND.request, 1, header, chunk);
const smallFrame = encodeFrameBytes(FRAME_KIND.request, 1, header);
const copyTarget = new Uint8Array(CHUNK_BYTES_DEFAULT);
const SPLIT_BYTES = 64 * 1024; // what a TCP read typically delivers

const bench = new Bench({ time: BENCH_TIME_MS });
bench
  .add("memcpy 4 MiB (reference)", () => {
    copyTarget.set(chunk);
  })
  .add("encode 4 MiB frame", () => {
    encodeFrameBytes(FRAME_KIND.request, 1, header, chunk);
  })
  .add("decode 4 MiB frame, one push", () => {
    new FrameDecoder().push(encoded);
  })
  .add("decode 4 MiB frame, 64 KiB pushes", () => {
    const decoder = new FrameDecoder();
    for (let offset = 0; offset < encoded.length; offset += SPLIT_BYTES) {
      decoder.push(encoded.subarray(offset, offset + SPLIT_BYTES));
    }
  })
  .add("sha256 4 MiB (Bun.CryptoHasher)", () => {
    new Bun.CryptoHasher("sha256").update(chunk).digest("hex");
  })
  .add("encode+decode header-only frame", () => {
    new FrameDecoder().push(encodeFrameBytes(FRAME_KIND.request, 1, header));
  });

await bench.run();

/** Median latency of a task in ms (medians resist the noise of a shared machine). */
function medianMs(task: (typeof bench.tasks)[number] | undefined): number {
  const result = task?.result;
  return result !== undefined && "latency" in result ? result.latency.p50 : Number.NaN;
}

const memcpyMedianMs = medianMs(bench.tasks[0]);
console.log(
  `tinybench, ${BENCH_TIME_MS} ms per task, chunk ${CHUNK_BYTES_DEFAULT / MIB} MiB, header frame ${smallFrame.length} B`,
);
console.log(
  "task (median)".padEnd(38) +
    "ops/s".padStart(12) +
    "MiB/s".padStart(10) +
    "× memcpy time".padStart(15),
);
for (const task of bench.tasks) {
  const meanMs = medianMs(task);
  const opsPerSecond = 1000 / meanMs;
  const isChunkTask = !task.name.includes("header-only");
  const mibPerSecond = isChunkTask ? (opsPerSecond * CHUNK_BYTES_DEFAULT) / MIB : NaN;
  console.log(
    task.name.padEnd(38) +
      opsPerSecond.toFixed(0).padStart(12) +
      (Number.isNaN(mibPerSecond) ? "-" : mibPerSecond.toFixed(0)).padStart(10) +
      (meanMs / memcpyMedianMs).toFixed(2).padStart(15),
  );
}
