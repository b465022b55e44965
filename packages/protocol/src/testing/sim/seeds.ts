/**
 * Seeds for simulation tests: a fixed list in CI, or exactly one when FTFS_SEED is set, so a
 * failure prints `FTFS_SEED=<n>` and `FTFS_SEED=<n> bun test <file>` replays it exactly.
 */

const SEED_ENV = "FTFS_SEED";

/** The seed FTFS_SEED names, or null; a malformed value is the person's mistake, said plainly. */
export function seedFromEnv(): number | null {
  const raw = process.env[SEED_ENV];
  if (raw === undefined || raw === "") return null;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`${SEED_ENV} must be an integer, got "${raw}"`);
  return seed;
}

/** `count` seeds from `first` on, unless FTFS_SEED picks one. */
export function seedList(count: number, first = 1): number[] {
  const chosen = seedFromEnv();
  if (chosen !== null) return [chosen];
  return Array.from({ length: count }, (_, index) => first + index);
}

export class SeedFailure extends Error {
  override readonly name = "SeedFailure";
  readonly seed: number;

  constructor(property: string, seed: number, problems: readonly string[]) {
    const shown = problems.slice(0, 10).join("\n  ");
    super(`${property} failed: ${SEED_ENV}=${seed}\n  ${shown}`);
    this.seed = seed;
  }
}

/**
 * Runs `check` for every seed; the first seed with problems throws a SeedFailure naming it
 * (and logs the replay line, which survives test runners that truncate messages).
 */
export function forEachSeed(
  property: string,
  seeds: readonly number[],
  check: (seed: number) => readonly string[],
): void {
  for (const seed of seeds) {
    const problems = check(seed);
    if (problems.length === 0) continue;
    const failure = new SeedFailure(property, seed, problems);
    console.error(`${failure.message}\nreplay: ${SEED_ENV}=${seed} bun test <this file>`);
    throw failure;
  }
}

/** What a seeded scenario reports: its property violations and the durations it measured. */
export interface SeededOutcome {
  readonly problems: readonly string[];
  readonly measuredMs: Readonly<Record<string, number>>;
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * Runs a property over its seeds (the first failing seed throws, naming its replay), then
 * prints the median and max of each duration the scenarios measured.
 */
export function checkSeededProperty(
  name: string,
  seeds: readonly number[],
  run: (seed: number) => SeededOutcome,
): void {
  const measured: Record<string, number[]> = {};
  forEachSeed(name, seeds, (seed) => {
    const outcome = run(seed);
    for (const [key, value] of Object.entries(outcome.measuredMs)) {
      const samples = measured[key] ?? [];
      samples.push(value);
      measured[key] = samples;
    }
    return outcome.problems;
  });
  const summary = Object.entries(measured).map(
    ([key, values]) => `${key} median ${medianOf(values)} ms, max ${Math.max(...values)} ms`,
  );
  console.log(`${name} over ${seeds.length} seeds: ${summary.join("; ")}`);
}
