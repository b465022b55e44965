/** What the load benches record of each operation that the shared measures read. */
export interface Completion {
  readonly ok: boolean;
  readonly endMs: number;
}

/** Longest silence between two consecutive successful completions, and when it began. */
export function longestGap(records: readonly Completion[]): { gapMs: number; atMs: number } {
  const ends = records.filter((record) => record.ok).map((record) => record.endMs);
  ends.sort((a, b) => a - b);
  let gapMs = 0;
  let atMs = 0;
  for (let index = 1; index < ends.length; index += 1) {
    const gap = (ends[index] ?? 0) - (ends[index - 1] ?? 0);
    if (gap > gapMs) {
      gapMs = gap;
      atMs = ends[index - 1] ?? 0;
    }
  }
  return { gapMs, atMs };
}
