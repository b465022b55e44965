#!/usr/bin/env bun
/**
 * `ftfs`: the FTFS command-line client (see `ftfs --help` and CONTRACT.md). This file only
 * wires the process to the CLI; everything else lives in core/ (pure) and io/.
 */

import { processIo, runCli, stdinLines } from "./io/cli.ts";
import { EXIT_BROKEN_PIPE } from "./io/report.ts";

const status = await runCli(Bun.argv.slice(2), processIo(), stdinLines);
// With its reader gone, stdout holds bytes it can never flush, and would keep the process
// alive trying; there is nothing left to say, so leave now. Otherwise exit naturally, which
// lets stdout drain completely first.
if (status === EXIT_BROKEN_PIPE) process.exit(status);
process.exitCode = status;
