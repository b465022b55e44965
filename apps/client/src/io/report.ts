/**
 * Turning any failure into what the CLI prints and its exit status: one line, never a stack
 * trace for a user's or the cluster's error, explained in the user's terms (core/explain.ts);
 * with --json, one JSON object `{"error": {"code", "message"}}` instead, with the same status.
 * Status 2 for misuse, 1 for everything else. Only an unexpected exception (our bug) offers
 * more detail, and only under FTFS_DEBUG.
 */

import { FtfsError } from "@ftfs/protocol/core";
import { connectFailureOf, UsageError } from "@ftfs/protocol/io";
import { errorJson, explainFailure, type FailureContext } from "../core/explain.ts";
import { OutputClosedError } from "./cli-state.ts";
import type { Env } from "./session.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGPIPE: what `cat` and `git` report when their reader goes away. */
export const EXIT_BROKEN_PIPE = 141;
/** The code a usage error has in --json output (not a wire code: the CLI refused it). */
export const USAGE_CODE = "USAGE";
/** The code of our own bug in --json output. */
const INTERNAL_CODE = "INTERNAL";

/** An error already printed; it only sets the exit status. */
export class ReportedError extends Error {
  override readonly name = "ReportedError";
  readonly original: FtfsError;
  constructor(original: FtfsError) {
    super(original.message);
    this.original = original;
  }
}

export interface Failure {
  /** The line to print after `ftfs: `, or null if it was already printed. */
  readonly message: string | null;
  /** What --json reports as the error's code. */
  readonly code: string;
  readonly status: number;
}

export function describeFailure(
  error: unknown,
  env: Env,
  context: FailureContext | null = null,
): Failure {
  if (error instanceof ReportedError) {
    return { message: null, code: error.original.code, status: EXIT_FAILURE };
  }
  if (error instanceof OutputClosedError) {
    return { message: null, code: INTERNAL_CODE, status: EXIT_BROKEN_PIPE };
  }
  if (error instanceof UsageError) {
    return { message: `${error.message} (see ftfs --help)`, code: USAGE_CODE, status: EXIT_USAGE };
  }
  if (error instanceof FtfsError) {
    const facts = {
      code: error.code,
      message: error.message,
      connectFailure: connectFailureOf(error),
      role: error.hint?.role ?? null,
    };
    return { message: explainFailure(facts, context), code: error.code, status: EXIT_FAILURE };
  }
  const detail =
    error instanceof Error
      ? env.FTFS_DEBUG
        ? (error.stack ?? error.message)
        : error.message
      : String(error);
  const hint = env.FTFS_DEBUG ? "" : " (set FTFS_DEBUG=1 for details)";
  return { message: `internal error: ${detail}${hint}`, code: INTERNAL_CODE, status: EXIT_FAILURE };
}

/** The failure's line on stderr: `ftfs: …`, or with --json the error object. */
export function failureLine(failure: Failure, json: boolean): string | null {
  if (failure.message === null) return null;
  return json ? `${errorJson(failure.code, failure.message)}\n` : `ftfs: ${failure.message}\n`;
}
