#!/usr/bin/env bun
/**
 * `ftfs`: the FTFS command-line client (see `ftfs --help` and CONTRACT.md). This file only
 * wires the process to the CLI; everything else lives in core/ (pure) and io/. The one binary
 * (`bun run build`) calls `main` for every command that is not `server` or `cluster`.
 */

import { processIo, runCli, stdinLines } from "./io/cli.ts";
import { EXIT_BROKEN_PIPE } from "./io/report.ts";

/** What a build bakes into the binary (`bun run build`): the version and the commit. */
export { buildInfo } from "./io/build-info.ts";

/** Runs one command (or the shell) and sets the process's exit status. */
export async function main(argv: readonly string[]): Promise<void> {
  const status = await runCli(argv, processIo(), stdinLines);
  // With its reader gone, stdout holds bytes it can never flush, and would keep the process
  // alive trying; there is nothing left to say, so leave now. Otherwise exit naturally, which
  // lets stdout drain completely first.
  if (status === EXIT_BROKEN_PIPE) process.exit(status);
  process.exitCode = status;
}

if (import.meta.main) await main(Bun.argv.slice(2));
