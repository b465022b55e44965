/**
 * What every server program (directory, storage, S3 gateway) does before and around its node,
 * the same whether it runs from a checkout (`bun run apps/storage`) or as `ftfs server storage`
 * in the one binary: flags, environment and config file resolved (flag-values.ts), `--help`,
 * `--print-config`, every usage problem printed one per line with exit status 2, the stop
 * signals, and systemd's readiness messages. The node itself is each app's.
 */

import type { FlagSpec } from "./cli-flags.ts";
import { UsageError, UsageProblems, usage } from "./cli-flags.ts";
import { explainSource, type FlagValues, formatResolvedConfig, readFlags } from "./flag-values.ts";
import type { Logger } from "./logger.ts";
import { sdNotify } from "./sd-notify.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export type Env = Readonly<Record<string, string | undefined>>;

export interface ProgramOutput {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export const PROCESS_OUTPUT: ProgramOutput = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

export interface ServerProgram<Config> {
  /** How the user started it, for messages: `ftfs server storage`, `bun run apps/storage`. */
  readonly program: string;
  readonly summary: string;
  readonly specs: readonly FlagSpec[];
  /** Turns the resolved values into the node's config; problems go to `problems`. */
  readonly parse: (flags: FlagValues, problems: UsageProblems) => Config;
}

/** Start the node with this config, or leave now with this exit status. */
export type Prepared<Config> =
  | { readonly start: true; readonly config: Config }
  | { readonly start: false; readonly status: number };

/** Resolve a server's configuration from argv, env and its config file: see the file's top. */
export function prepareServer<Config>(
  definition: ServerProgram<Config>,
  argv: readonly string[],
  env: Env,
  output: ProgramOutput = PROCESS_OUTPUT,
): Prepared<Config> {
  try {
    const flags = readFlags(argv, definition.specs, env);
    if (flags.help) {
      output.out(usage(definition.program, definition.summary, definition.specs));
      return { start: false, status: EXIT_OK };
    }
    const config = parseWithProblems(definition, flags);
    if (flags.values["print-config"] === "true") {
      output.out(formatResolvedConfig(definition.program, definition.specs, flags));
      return { start: false, status: EXIT_OK };
    }
    return { start: true, config };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    for (const problem of error.problems) output.err(`${definition.program}: ${problem}\n`);
    return { start: false, status: EXIT_USAGE };
  }
}

/** The definition's config from resolved values; throws every problem found at once. */
export function parseWithProblems<Config>(
  definition: Pick<ServerProgram<Config>, "parse">,
  flags: FlagValues,
): Config {
  const problems = new UsageProblems(explainSource(flags));
  const config = definition.parse(flags, problems);
  problems.throwIfAny();
  return config;
}

/** Resolves with the first SIGTERM or SIGINT; listen before starting, so none is missed. */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => resolve(signal));
    }
  });
}

/**
 * Tell systemd (when it started us with Type=notify) that the node serves, or that it is
 * leaving. A failure is logged, not thrown: the node works without systemd's knowing.
 */
export function notifySystemd(
  state: "ready" | "stopping",
  detail: string,
  logger: Logger,
  env: Env = process.env,
): void {
  const fields = state === "ready" ? `READY=1\nSTATUS=${detail}` : `STOPPING=1\nSTATUS=${detail}`;
  try {
    sdNotify(fields, env);
  } catch (error) {
    logger.warn("cannot tell systemd", {
      state,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
}
