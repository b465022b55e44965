/**
 * The fuzz runner: every `*.fuzz.test.ts` runs its fast-check properties through `fuzzTest`,
 * which bounds each property by runs and by wall-clock time, prints how many cases ran, and on
 * a failure prints the shrunk counterexample with the line that replays it. Not exported from
 * testing/index.ts, so code that only needs launchers never loads fast-check.
 *
 *   default (CI)          runsDefault cases per property, cut short at FUZZ_PROPERTY_MS_DEFAULT
 *   FTFS_FUZZ_RUNS=N      N cases per property (no time cut unless FTFS_FUZZ_SECONDS is set)
 *   FTFS_FUZZ_SECONDS=S   up to S seconds per property (unbounded runs unless FTFS_FUZZ_RUNS)
 *   FTFS_FUZZ_SEED=X      replay: the seed a failure printed (FTFS_FUZZ_PATH=P jumps straight to
 *                         the shrunk case); with `-t '<test name>'` so only that property runs
 */

import { test } from "bun:test";
import fc from "fast-check";

/**
 * Wall-clock cap of one property in a normal test run: about 20 properties share the suite's
 * 30-60 s fuzz budget on two busy cores; a quiet machine finishes runsDefault well before it.
 */
export const FUZZ_PROPERTY_MS_DEFAULT = 2_000;
/**
 * Cases a property runs even when the time cap cuts it short (a paused or overloaded machine):
 * below this a green run would mean little. Cheap enough to finish in well under a second.
 */
export const FUZZ_RUNS_MIN = 300;
/** Runs when only a time limit is given: the limit ends the run first. */
const FUZZ_RUNS_UNBOUNDED = 0x7fff_ffff;
/** bun test's own per-test deadline, beyond the property's time cap: a hang still fails. */
const FUZZ_TEST_SLACK_MS = 60_000;

export interface FuzzSettings {
  readonly runs: number;
  /** Per property; null runs all `runs` cases however long they take. */
  readonly timeLimitMs: number | null;
  readonly seed: number | null;
  readonly path: string | null;
}

function positiveNumber(name: string, text: string | undefined): number | null {
  if (text === undefined || text === "") return null;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name}=${text}: expected a positive number`);
  return value;
}

/** The settings for one property whose CI run count is `runsDefault`. */
export function fuzzSettings(
  runsDefault: number,
  env: Record<string, string | undefined> = process.env,
): FuzzSettings {
  const runs = positiveNumber("FTFS_FUZZ_RUNS", env.FTFS_FUZZ_RUNS);
  const seconds = positiveNumber("FTFS_FUZZ_SECONDS", env.FTFS_FUZZ_SECONDS);
  const seedText = env.FTFS_FUZZ_SEED;
  const seed = seedText === undefined || seedText === "" ? null : Number(seedText);
  if (seed !== null && !Number.isSafeInteger(seed))
    throw new RangeError(`FTFS_FUZZ_SEED=${seedText}: not an integer`);
  const path =
    env.FTFS_FUZZ_PATH === undefined || env.FTFS_FUZZ_PATH === "" ? null : env.FTFS_FUZZ_PATH;
  const long = runs !== null || seconds !== null;
  return {
    runs: Math.floor(runs ?? (seconds !== null ? FUZZ_RUNS_UNBOUNDED : runsDefault)),
    timeLimitMs:
      seconds !== null ? Math.round(seconds * 1000) : long ? null : FUZZ_PROPERTY_MS_DEFAULT,
    seed,
    path,
  };
}

export interface FuzzReport {
  readonly cases: number;
  readonly elapsedMs: number;
  readonly cutShort: boolean;
  readonly seed: number;
}

function parametersOf<Ts>(settings: FuzzSettings, runs: number, timed: boolean): fc.Parameters<Ts> {
  const parameters: fc.Parameters<Ts> = { numRuns: runs };
  const withTime =
    timed && settings.timeLimitMs !== null ? { interruptAfterTimeLimit: settings.timeLimitMs } : {};
  const withSeed = settings.seed !== null ? { seed: settings.seed } : {};
  const withPath = settings.path !== null ? { path: settings.path } : {};
  return { ...parameters, ...withTime, ...withSeed, ...withPath };
}

function failure<Ts>(name: string, details: fc.RunDetails<Ts>): Error {
  const report = fc.defaultReportMessage(details) ?? "property failed";
  const path =
    details.counterexamplePath === null ? "" : ` FTFS_FUZZ_PATH=${details.counterexamplePath}`;
  const replay = `FTFS_FUZZ_SEED=${details.seed}${path} bun test <this file> -t '${name}'`;
  return new Error(`fuzz ${name} failed\n${report}\nreplay: ${replay}`);
}

/**
 * Runs one property: up to `settings.runs` cases within the time limit, and at least
 * FUZZ_RUNS_MIN whatever the clock says. Throws the replayable report on a failure.
 */
export function runFuzz<Ts>(
  name: string,
  property: fc.IProperty<Ts>,
  settings: FuzzSettings,
): FuzzReport {
  const started = performance.now();
  const first = fc.check(property, parametersOf<Ts>(settings, settings.runs, true));
  if (first.failed && !first.interrupted) throw failure(name, first);
  let cases = first.numRuns;
  const floor = Math.min(FUZZ_RUNS_MIN, settings.runs);
  if (first.interrupted && cases < floor) {
    // The clock cut the run before it meant anything: finish the floor on a fresh seed.
    const rest = fc.check(property, {
      ...parametersOf<Ts>(settings, floor - cases, false),
      seed: first.seed + 1,
    });
    if (rest.failed) throw failure(name, rest);
    cases += rest.numRuns;
  }
  const elapsedMs = Math.round(performance.now() - started);
  const report = { cases, elapsedMs, cutShort: first.interrupted, seed: first.seed };
  const cut = report.cutShort ? " (time limit reached)" : "";
  console.log(`fuzz ${name}: ${cases} cases in ${elapsedMs} ms${cut}, seed ${first.seed}`);
  return report;
}

/** A bun test running one property under the environment's settings. */
export function fuzzTest<Ts>(
  name: string,
  runsDefault: number,
  property: () => fc.IProperty<Ts>,
): void {
  const settings = fuzzSettings(runsDefault);
  const timeoutMs =
    settings.timeLimitMs === null ? 24 * 3_600_000 : settings.timeLimitMs + FUZZ_TEST_SLACK_MS;
  test(
    name,
    () => {
      runFuzz(name, property(), settings);
    },
    timeoutMs,
  );
}
