/**
 * Structured logs: one JSON object per line on stderr (level, time, node, msg, fields), as the
 * contract promises. Level from FTFS_LOG_LEVEL (debug, info, warn, error; default info).
 */

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

function levelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}

function parseLevel(value: string | undefined): LogLevel {
  const found = LOG_LEVELS.find((level) => level === value);
  return found ?? "info";
}

export function createLogger(node: string, sink: (line: string) => void = writeStderr): Logger {
  const threshold = levelRank(parseLevel(process.env.FTFS_LOG_LEVEL));
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (levelRank(level) < threshold) return;
    sink(`${JSON.stringify({ level, time: new Date().toISOString(), node, msg, ...fields })}\n`);
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
  };
}

function writeStderr(line: string): void {
  process.stderr.write(line);
}

/** For tests: a logger that keeps lines in memory. */
export function createMemoryLogger(node = "test"): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  return Object.assign(
    createLogger(node, (line) => lines.push(line)),
    { lines },
  );
}

/** An error for a log field: its name, message and stack; anything else as text. */
export function describeError(error: unknown): string {
  if (error instanceof Error)
    return `${error.name}: ${error.message}${error.stack ? `\n${error.stack}` : ""}`;
  return String(error);
}
