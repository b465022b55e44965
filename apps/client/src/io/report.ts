/**
 * Turning any failure into what the CLI prints and its exit status: one line, never a stack
 * trace for a user's or the cluster's error. Status 2 for misuse, 1 for everything else. Only
 * an unexpected exception (our bug) offers more detail, and only under FTFS_DEBUG.
 */

import { FtfsError } from "@ftfs/protocol/core";
import { UsageError } from "@ftfs/protocol/io";
import { OutputClosedError } from "./cli-state.ts";
import { ReportedError } from "./upload-command.ts";
import type { Env } from "./session.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGPIPE: what `cat` and `git` report when their reader goes away. */
export const EXIT_BROKEN_PIPE = 141;

export interface Failure {
  /** The line to print after `ftfs: `, or null if it was already printed. */
  readonly message: string | null;
  readonly status: number;
}

export function describeFailure(error: unknown, env: Env): Failure {
  if (error instanceof ReportedError) return { message: null, status: EXIT_FAILURE };
  if (error instanceof OutputClosedError) return { message: null, status: EXIT_BROKEN_PIPE };
  if (error instanceof UsageError)
    return { message: `${error.message} (see ftfs --help)`, status: EXIT_USAGE };
  if (error instanceof FtfsError) return { message: userMessage(error), status: EXIT_FAILURE };
  const detail =
    error instanceof Error
      ? env.FTFS_DEBUG
        ? (error.stack ?? error.message)
        : error.message
      : String(error);
  const hint = env.FTFS_DEBUG ? "" : " (set FTFS_DEBUG=1 for details)";
  return { message: `internal error: ${detail}${hint}`, status: EXIT_FAILURE };
}

/** The error's own line, plus what to do about it where that is not obvious. */
function userMessage(error: FtfsError): string {
  const oneLine = error.message.replace(/\s*\n\s*/g, " ");
  switch (error.code) {
    case "NO_SUCH_USER":
      // The servers may already say how; do not say it twice.
      return oneLine.includes(" c`") ? oneLine : `${oneLine} (connect first: ftfs <uid> c)`;
    case "FORBIDDEN":
      // A secure cluster refused a caller with no session: say how to get one.
      return oneLine.includes("anonymous") ? `${oneLine} (log in first: ftfs <uid> c)` : oneLine;
    default:
      return oneLine;
  }
}
