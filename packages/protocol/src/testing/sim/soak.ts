/**
 * Long runs of the gossip properties over many seeds (the CI test runs a fixed few hundred).
 *
 *   bun packages/protocol/src/testing/sim/soak.ts [--seeds 2000] [--from 100000] [--only pauses]
 *
 * Prints, per property, failures with their replay line and the spread of what was measured;
 * exits 1 if any seed failed. Replay one: FTFS_SEED=<n> bun test packages/protocol/src/testing/sim
 */

import {
  crashDetection,
  cutLinkDetection,
  gracefulLeave,
  lossWithoutFalsePositives,
  median,
  metadataSpreads,
  partitionHeals,
  pauses,
  percentile,
  sluggishMembers,
  type ScenarioResult,
} from "./swim-properties.ts";

const PROPERTIES: Record<string, (seed: number) => ScenarioResult> = {
  crashDetection,
  cutLinkDetection,
  lossWithoutFalsePositives: (seed) => lossWithoutFalsePositives(seed),
  pauses,
  partitionHeals,
  gracefulLeave,
  metadataSpreads,
  sluggishMembers: (seed) => sluggishMembers(seed),
};

interface SoakOptions {
  readonly seeds: number;
  readonly from: number;
  readonly only: string | null;
}

function parseArgs(argv: readonly string[]): SoakOptions {
  let seeds = 2000;
  let from = 100_000;
  let only: string | null = null;
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1] ?? "";
    if (flag === "--seeds") seeds = Number(value);
    else if (flag === "--from") from = Number(value);
    else if (flag === "--only") only = value;
    else throw new Error(`unknown flag ${flag}; use --seeds N, --from S, --only PROPERTY`);
  }
  if (only !== null && !(only in PROPERTIES)) {
    throw new Error(`no property ${only}; choose from ${Object.keys(PROPERTIES).join(", ")}`);
  }
  return { seeds, from, only };
}

/** Runs one property over the seeds; returns how many failed. */
function soakProperty(name: string, run: (seed: number) => ScenarioResult, options: SoakOptions) {
  const startedMs = performance.now();
  const measured: Record<string, number[]> = {};
  let failures = 0;
  for (let seed = options.from; seed < options.from + options.seeds; seed += 1) {
    const outcome = run(seed);
    for (const [key, value] of Object.entries(outcome.measuredMs)) {
      const samples = measured[key] ?? [];
      samples.push(value);
      measured[key] = samples;
    }
    if (outcome.problems.length === 0) continue;
    failures += 1;
    console.log(`  FAIL ${name} FTFS_SEED=${seed}: ${outcome.problems.slice(0, 3).join("; ")}`);
  }
  const wallS = ((performance.now() - startedMs) / 1000).toFixed(1);
  console.log(`${name}: ${options.seeds - failures}/${options.seeds} passed in ${wallS} s`);
  for (const [key, values] of Object.entries(measured)) {
    const spread = [0.5, 0.9, 0.99].map((q) => `p${q * 100} ${percentile(values, q)}`);
    console.log(
      `  ${key}: median ${median(values)} ms, ${spread.slice(1).join(", ")}, n ${values.length}`,
    );
  }
  return failures;
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  let failures = 0;
  for (const [name, run] of Object.entries(PROPERTIES)) {
    if (options.only === null || options.only === name)
      failures += soakProperty(name, run, options);
  }
  if (failures > 0) {
    console.log(
      `${failures} failing seeds; replay: FTFS_SEED=<n> bun test packages/protocol/src/testing/sim`,
    );
    process.exit(1);
  }
}

main();
