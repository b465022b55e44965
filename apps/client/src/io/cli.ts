/**
 * The `ftfs` program: parse argv, run the command (or the shell), and turn failures into one
 * stderr line and an exit status. Also the process-facing CliIo: stdout with backpressure,
 * stderr, and stdin lines for the shell.
 */

import { createInterface } from "node:readline";
import { parseArgs } from "../core/args.ts";
import { CliState, type CliIo } from "./cli-state.ts";
import { execute } from "./commands.ts";
import { describeFailure, EXIT_OK, EXIT_USAGE } from "./report.ts";
import { runShell, type LineSource } from "./shell.ts";

const SHELL_PROMPT = "ftfs> ";

export async function runCli(
  argv: readonly string[],
  io: CliIo,
  lines: () => LineSource,
): Promise<number> {
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    io.err(`ftfs: ${parsed.message} (see ftfs --help)\n`);
    return EXIT_USAGE;
  }
  const state = await CliState.load(io);
  try {
    if (parsed.value.command.kind === "shell")
      return await runShell(state, parsed.value.options, lines());
    await execute(parsed.value, state);
    return EXIT_OK;
  } catch (error) {
    const failure = describeFailure(error, io.env);
    if (failure.message !== null) io.err(`ftfs: ${failure.message}\n`);
    return failure.status;
  } finally {
    state.close();
  }
}

/** The real process's streams. */
export function processIo(): CliIo {
  return {
    env: process.env,
    stdinIsTty: process.stdin.isTTY === true,
    stderrIsTty: process.stderr.isTTY === true,
    out: (data) => writeWithBackpressure(data),
    err: (text) => void process.stderr.write(text),
  };
}

function writeWithBackpressure(data: string | Uint8Array): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const flushed = process.stdout.write(data, (error) => (error ? reject(error) : undefined));
    if (flushed) resolve();
    else process.stdout.once("drain", () => resolve());
  });
}

/** stdin as shell lines, with line editing and a prompt when it is a terminal. */
export function stdinLines(): LineSource {
  const terminal = process.stdin.isTTY === true;
  const reader = createInterface({
    input: process.stdin,
    output: terminal ? process.stdout : undefined,
    terminal,
    prompt: SHELL_PROMPT,
  });
  return {
    lines: reader,
    prompt: () => {
      if (terminal) reader.prompt();
    },
    close: () => reader.close(),
  };
}
