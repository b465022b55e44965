/** `bun run bench:limits`: print this machine's disk and loopback limits (median of 3 runs). */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measureMachineLimits, type MachineLimits } from "./machine-limits.ts";

const RUNS = 3;
const TOTAL_BYTES = 512 * 1024 * 1024;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const runs: MachineLimits[] = [];
for (let run = 0; run < RUNS; run += 1) {
  runs.push(await measureMachineLimits(join(tmpdir(), `ftfs-limits-${process.pid}`), TOTAL_BYTES));
}
for (const key of Object.keys(runs[0] ?? {}) as Array<keyof MachineLimits>) {
  const values = runs.map((run) => run[key]);
  console.log(`${key.padEnd(28)} median ${median(values).toFixed(0).padStart(7)}   runs ${values.map((v) => v.toFixed(0)).join(", ")}`);
}
