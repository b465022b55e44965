/** `bun run bench:limits`: print this machine's disk and loopback limits (median of 3 runs). */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measureMachineLimitsMedian, type MachineLimits } from "./limits.ts";

const RUNS = 3;
const TOTAL_BYTES = 512 * 1024 * 1024;

const limits = await measureMachineLimitsMedian(
  join(tmpdir(), `ftfs-limits-${process.pid}`),
  TOTAL_BYTES,
  RUNS,
);
for (const key of Object.keys(limits.median) as Array<keyof MachineLimits>) {
  const values = limits.runs.map((run) => run[key].toFixed(0)).join(", ");
  console.log(
    `${key.padEnd(28)} median ${limits.median[key].toFixed(0).padStart(7)}   runs ${values}`,
  );
}
