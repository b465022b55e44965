/**
 * What this machine can do, measured in the same run as FTFS so ratios mean something on a
 * shared, drifting machine: disk write with fsync (one big file, and chunk-sized files each
 * fsynced as storage nodes do), disk read, small write+fsync rate, and loopback TCP through
 * Bun sockets between two processes.
 */

import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";

const MIB = 1024 * 1024;
const WRITE_BLOCK_BYTES = 4 * MIB;
const FSYNC_PROBE_BYTES = 4096;
const FSYNC_PROBE_MS = 1_000;
const TCP_SINK_MAIN = join(import.meta.dir, "tcp-sink.ts");
const TCP_SINK_READY_TIMEOUT_MS = 5_000;

export interface MachineLimits {
  readonly diskWriteFsyncMiBps: number;
  readonly diskChunkFilesFsyncMiBps: number;
  readonly diskReadMiBps: number;
  readonly fsyncsPerSecond: number;
  readonly loopbackTcpMiBps: number;
}

function fillPattern(bytes: Uint8Array): Uint8Array {
  for (let index = 0; index < bytes.length; index += 1)
    bytes[index] = (index * 2_654_435_761) >>> 24;
  return bytes;
}

function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}

/** One file written in 4 MiB blocks, fsynced at the end. */
export function measureDiskWrite(path: string, totalBytes: number): number {
  const block = fillPattern(new Uint8Array(WRITE_BLOCK_BYTES));
  const start = performance.now();
  const fd = openSync(path, "w");
  for (let written = 0; written < totalBytes; written += block.length) writeSync(fd, block);
  fsyncSync(fd);
  closeSync(fd);
  return totalBytes / MIB / secondsSince(start);
}

/** As storage writes chunks: one file per 4 MiB block, each fsynced before the next. */
export function measureChunkFiles(dir: string, totalBytes: number): number {
  const block = fillPattern(new Uint8Array(WRITE_BLOCK_BYTES));
  const start = performance.now();
  for (let index = 0; index * block.length < totalBytes; index += 1) {
    const fd = openSync(join(dir, `chunk-${index}`), "w");
    writeSync(fd, block);
    fsyncSync(fd);
    closeSync(fd);
  }
  return totalBytes / MIB / secondsSince(start);
}

export async function measureDiskRead(path: string): Promise<number> {
  const start = performance.now();
  let bytes = 0;
  for await (const part of Bun.file(path).stream()) bytes += part.byteLength;
  return bytes / MIB / secondsSince(start);
}

export function measureFsyncRate(path: string): number {
  const block = fillPattern(new Uint8Array(FSYNC_PROBE_BYTES));
  const fd = openSync(path, "w");
  const start = performance.now();
  let count = 0;
  while (performance.now() - start < FSYNC_PROBE_MS) {
    writeSync(fd, block);
    fsyncSync(fd);
    count += 1;
  }
  closeSync(fd);
  return count / secondsSince(start);
}

/** Stream bytes to a sink in another process over loopback with Bun sockets. */
export async function measureLoopbackTcp(totalBytes: number): Promise<number> {
  const sink = Bun.spawn([process.execPath, TCP_SINK_MAIN, String(totalBytes)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = sink.stdout.getReader();
  const first = await Promise.race([
    reader.read(),
    Bun.sleep(TCP_SINK_READY_TIMEOUT_MS).then(() => null),
  ]);
  if (first === null || first.value === undefined) throw new Error("tcp sink did not start");
  const port = Number(new TextDecoder().decode(first.value).trim().split("\n")[0]);
  const block = fillPattern(new Uint8Array(WRITE_BLOCK_BYTES));
  const done = Promise.withResolvers<void>();
  let sent = 0;
  let offset = 0;
  const start = performance.now();
  // Writes resume where a short write stopped; `offset` is the position inside the block.
  const pump = (socket: import("bun").Socket<undefined>): void => {
    while (sent < totalBytes) {
      const remaining = block.length - offset;
      const written = socket.write(block, offset, remaining);
      if (written <= 0) return;
      sent += written;
      offset = written < remaining ? offset + written : 0;
      if (written < remaining) return; // the kernel buffer is full: wait for drain
    }
  };
  await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      open: pump,
      drain: pump,
      data: () => done.resolve(), // the sink answers one byte once it has everything
      close: () => done.resolve(),
    },
  });
  await done.promise;
  const seconds = secondsSince(start);
  await sink.exited;
  return totalBytes / MIB / seconds;
}

export async function measureMachineLimits(
  scratchDir: string,
  totalBytes: number,
): Promise<MachineLimits> {
  await mkdir(scratchDir, { recursive: true });
  const bigFile = join(scratchDir, "sequential.bin");
  const chunkDir = join(scratchDir, "chunks");
  await mkdir(chunkDir, { recursive: true });
  try {
    const diskWriteFsyncMiBps = measureDiskWrite(bigFile, totalBytes);
    const diskReadMiBps = await measureDiskRead(bigFile);
    const diskChunkFilesFsyncMiBps = measureChunkFiles(chunkDir, totalBytes);
    const fsyncsPerSecond = measureFsyncRate(join(scratchDir, "fsync.bin"));
    const loopbackTcpMiBps = await measureLoopbackTcp(totalBytes);
    return {
      diskWriteFsyncMiBps,
      diskChunkFilesFsyncMiBps,
      diskReadMiBps,
      fsyncsPerSecond,
      loopbackTcpMiBps,
    };
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}

const LIMIT_KEYS = [
  "diskWriteFsyncMiBps",
  "diskChunkFilesFsyncMiBps",
  "diskReadMiBps",
  "fsyncsPerSecond",
  "loopbackTcpMiBps",
] as const satisfies ReadonlyArray<keyof MachineLimits>;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * The machine's limits as the median of several probes: one probe is noisy (the first write of
 * a run is often 3-5x slower than the next), and a ratio to a bad probe means nothing.
 */
export async function measureMachineLimitsMedian(
  scratchDir: string,
  totalBytes: number,
  runs: number,
): Promise<{ median: MachineLimits; runs: MachineLimits[] }> {
  const all: MachineLimits[] = [];
  for (let run = 0; run < runs; run += 1)
    all.push(await measureMachineLimits(scratchDir, totalBytes));
  const entries = LIMIT_KEYS.map((key) => [key, median(all.map((limits) => limits[key]))] as const);
  return { median: Object.fromEntries(entries) as unknown as MachineLimits, runs: all };
}
