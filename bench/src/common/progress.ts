/**
 * One progress line for the long benches, rewritten in place (\r) about once a second while a
 * run goes on, so a person at a terminal sees it is alive and how it fares. Only on a
 * terminal: piped or redirected output (CI, `> log`) gets none of it, so logs and parsers see
 * only the results. The line's text is a pure function (formatProgress); the bench says what
 * goes in it and this owns the timer and the terminal codes.
 */

/** Often enough to look alive, rarely enough to cost nothing and not flicker. */
export const PROGRESS_INTERVAL_MS = 1_000;
/** Without a known width a line this long fits the classic 80-column terminal. */
const COLUMNS_DEFAULT = 80;
/** Carriage return, then erase to the end of the line: the next text replaces the last. */
const REWRITE_LINE = "\r\x1b[K";
const MS_PER_S = 1000;

export interface ProgressFields {
  readonly elapsedMs: number;
  /** How long the run is planned to take; null when it ends by itself. */
  readonly totalMs: number | null;
  /** Operations completed successfully so far. */
  readonly ok: number;
  readonly errors: number;
  /** What the bench adds: the next fault, who is primary, which cell runs. */
  readonly detail?: string;
}

/** "12 s of 100 s  4,210 ok  350.8 ops/s  0 errors  next: kill s1 in 3 s" (pure). */
export function formatProgress(fields: ProgressFields): string {
  const elapsedS = Math.max(0, fields.elapsedMs) / MS_PER_S;
  const time =
    fields.totalMs === null
      ? `${elapsedS.toFixed(0)} s`
      : `${elapsedS.toFixed(0)} s of ${(fields.totalMs / MS_PER_S).toFixed(0)} s`;
  // No rate before the first tenth of a second: a handful of ops over ~0 s is no rate.
  const rate = elapsedS < 0.1 ? "-" : (fields.ok / elapsedS).toFixed(1);
  const parts = [
    time,
    `${fields.ok} ok`,
    `${rate} ops/s`,
    `${fields.errors} ${fields.errors === 1 ? "error" : "errors"}`,
  ];
  if (fields.detail !== undefined && fields.detail !== "") parts.push(fields.detail);
  return parts.join("  ");
}

/**
 * A line cut to one column less than the terminal: a line that wraps cannot be rewritten
 * with \r, and the last column would wrap on some terminals.
 */
export function fitToColumns(line: string, columns: number | undefined): string {
  const width = Math.max(1, (columns ?? COLUMNS_DEFAULT) - 1);
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

/** The part of a terminal stream the progress line needs (process.stdout has it). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface Progress {
  /** Clear the line and stop; the stream is left as it was before the first line. */
  stop(): void;
}

/**
 * Shows render()'s line every PROGRESS_INTERVAL_MS until stop(), when `stream` (stdout by
 * default) is a terminal; otherwise does nothing at all. The timer is unref'd: a bench that
 * forgets to stop it still exits.
 */
export function startProgress(
  render: () => string,
  stream: ProgressStream = process.stdout,
  intervalMs: number = PROGRESS_INTERVAL_MS,
): Progress {
  if (stream.isTTY !== true) return { stop: () => undefined };
  let shown = false;
  const draw = (): void => {
    stream.write(`${REWRITE_LINE}${fitToColumns(render(), stream.columns)}`);
    shown = true;
  };
  const timer = setInterval(draw, intervalMs);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      if (shown) stream.write(REWRITE_LINE);
      shown = false;
    },
  };
}
