#!/usr/bin/env bun
/**
 * `ftfs`: the FTFS command-line client (see `ftfs --help` and CONTRACT.md). This file only
 * wires the process to the CLI; everything else lives in core/ (pure) and io/.
 */

import { processIo, runCli, stdinLines } from "./io/cli.ts";

process.exitCode = await runCli(Bun.argv.slice(2), processIo(), stdinLines);
