/**
 * The `ftfs` program: parse argv, run the command (or the shell), and turn failures into one
 * stderr line and an exit status. Also the process-facing CliIo: stdout with backpressure,
 * stderr, and stdin lines for the shell.
 */

import { createInterface } from "node:readline";
import { UsageError } from "@ftfs/protocol/io";
import { commandLabel, parseArgs } from "../core/args.ts";
import { CliState, invokedAs, OutputClosedError, type CliIo } from "./cli-state.ts";
import { execute } from "./commands.ts";
import { describeFailure, EXIT_OK, EXIT_USAGE, failureLine, USAGE_CODE } from "./report.ts";
import { runShell, shellCompleter, type Completer, type LineSource } from "./shell.ts";

const SHELL_PROMPT = "ftfs> ";
const SHELL_EXIT_HINT = "Ctrl-D or `exit` leaves the shell";

export async function runCli(
  argv: readonly string[],
  io: CliIo,
  lines: (completer: Completer) => LineSource,
): Promise<number> {
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    const message = `${parsed.message} (see ${invokedAs(io.env)} --help)`;
    const failure = { message, code: USAGE_CODE, status: EXIT_USAGE };
    io.err(failureLine(failure, argv.includes("--json")) ?? "");
    return EXIT_USAGE;
  }
  const state = await CliState.load(io);
  try {
    if (parsed.value.command.kind === "shell") {
      const completer = shellCompleter(state, parsed.value.options);
      return await runShell(state, parsed.value.options, lines(completer));
    }
    state.command = commandLabel(parsed.value.command);
    await execute(parsed.value, state);
    return EXIT_OK;
  } catch (error) {
    const failure = describeFailure(error, io.env, state.failureContext);
    io.err(failureLine(failure, parsed.value.options.json) ?? "");
    return failure.status;
  } finally {
    state.close();
  }
}

/** The real process's streams. */
export function processIo(): CliIo {
  const stdout = new StdoutWriter();
  return {
    env: process.env,
    stdinIsTty: process.stdin.isTTY === true,
    stdoutIsTty: process.stdout.isTTY === true,
    stderrIsTty: process.stderr.isTTY === true,
    out: (data) => stdout.write(data),
    err: (text) => void process.stderr.write(text),
    readSecret: promptSecret,
    stdin: () => Bun.stdin.stream(),
  };
}

const CTRL_C = "\u0003";

/** A line from the terminal with echo off (raw mode), so the secret is not shown. */
function promptSecret(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let typed = "";
    const stdin = process.stdin;
    const done = (error: Error | null): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (error === null) resolve(typed);
      else reject(error);
    };
    const onData = (data: Buffer): void => {
      for (const char of data.toString("utf8")) {
        if (char === "\r" || char === "\n") return done(null);
        if (char === CTRL_C) return done(new UsageError("login cancelled"));
        typed = char === "\u007f" ? typed.slice(0, -1) : typed + char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}

/**
 * stdout with backpressure: a write that fills the pipe waits for "drain". A reader that goes
 * away (`ftfs r big | head`) turns every later write into OutputClosedError, which ends the
 * command quietly, instead of an unhandled EPIPE with a stack trace.
 */
class StdoutWriter {
  private closed = false;
  /** Writes waiting for "drain"; all fail at once if the reader goes away instead. */
  private readonly waiting = new Set<{ resolve: () => void; reject: (error: Error) => void }>();

  constructor() {
    process.stdout.on("drain", () => this.settleAll(null));
    // EPIPE and friends: the reader is gone. Bun may emit this during write() itself, before
    // a waiter could listen, so the state lives here and every waiter is failed from here.
    process.stdout.on("error", () => {
      this.closed = true;
      this.settleAll(new OutputClosedError());
    });
  }

  write(data: string | Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new OutputClosedError());
    return new Promise<void>((resolve, reject) => {
      let flushed: boolean;
      try {
        flushed = process.stdout.write(data);
      } catch {
        this.closed = true;
        reject(new OutputClosedError());
        return;
      }
      if (this.closed) reject(new OutputClosedError());
      else if (flushed) resolve();
      else this.waiting.add({ resolve, reject });
    });
  }

  private settleAll(error: Error | null): void {
    const waiters = [...this.waiting];
    this.waiting.clear();
    for (const waiter of waiters) {
      if (error === null) waiter.resolve();
      else waiter.reject(error);
    }
  }
}

/** stdin as shell lines, with line editing, a prompt and Tab completion on a terminal. */
export function stdinLines(completer: Completer): LineSource {
  const terminal = process.stdin.isTTY === true;
  const reader = createInterface({
    input: process.stdin,
    output: terminal ? process.stdout : undefined,
    terminal,
    prompt: SHELL_PROMPT,
    ...(terminal
      ? {
          completer: (line: string, done: (error: null, answer: [string[], string]) => void) =>
            void completer(line).then(
              (answer) => done(null, answer),
              () => done(null, [[], line]),
            ),
        }
      : {}),
  });
  // Between a line and the next prompt a command runs. Ctrl-C then is meant for it: the
  // terminal is in raw mode, so readline, not the kernel, sees the key; it is passed on as the
  // signal a command outside the shell would get (an upload says what it kept, and exits).
  // At the prompt, Ctrl-C drops the line typed so far and prompts again, as a shell does.
  let commandRunning = false;
  reader.on("line", () => {
    commandRunning = true;
  });
  reader.on("SIGINT", () => {
    if (commandRunning) {
      process.kill(process.pid, "SIGINT");
      return;
    }
    const typed = reader.line;
    reader.write(null, { ctrl: true, name: "e" });
    reader.write(null, { ctrl: true, name: "u" });
    const hint = typed === "" ? `\n(${SHELL_EXIT_HINT})` : "";
    process.stdout.write(`${typed}^C${hint}\n`);
    reader.prompt();
  });
  return {
    lines: reader,
    prompt: () => {
      commandRunning = false;
      if (terminal) reader.prompt();
    },
    close: () => reader.close(),
  };
}
