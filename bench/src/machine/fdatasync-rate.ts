/**
 * The machine's small synchronous write rate: 4 KiB appended then fdatasync, in a loop, on the
 * filesystem the cluster's data lives on. A directory commit is one WAL append synced per
 * batch on each of a majority of nodes, so this is the yardstick its commit rate is divided
 * by. Owns only its probe file, removed afterwards.
 */

import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { median } from "./limits.ts";

const PROBE_WRITE_BYTES = 4096;
const PROBE_FILE = "fdatasync-probe.bin";

/** Writes and fdatasyncs per second over one window of `windowMs`. */
export function measureFdatasyncRate(dir: string, windowMs: number): number {
  const path = join(dir, PROBE_FILE);
  const block = crypto.getRandomValues(new Uint8Array(PROBE_WRITE_BYTES));
  const fd = openSync(path, "w");
  try {
    const startMs = performance.now();
    let count = 0;
    while (performance.now() - startMs < windowMs) {
      writeSync(fd, block);
      fdatasyncSync(fd);
      count += 1;
    }
    return count / ((performance.now() - startMs) / 1000);
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

/** The median of several windows: one probe on a shared disk is noisy. */
export function measureFdatasyncRateMedian(
  dir: string,
  windowMs: number,
  runs: number,
): { median: number; runs: number[] } {
  const all: number[] = [];
  for (let run = 0; run < runs; run += 1) all.push(measureFdatasyncRate(dir, windowMs));
  return { median: median(all), runs: all };
}
