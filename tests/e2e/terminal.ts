/**
 * The real `ftfs` on a pseudo-terminal (Bun's own PTY), for what only a terminal shows: the
 * progress line, the interactive shell's line editing and Tab completion, Ctrl-C and Ctrl-D as
 * keys. Everything the program writes is kept, escape codes and all, so a test can check the
 * order of what appeared, not only the final screen.
 */

import { resolve } from "node:path";
import { FTFS_MAIN } from "@ftfs/protocol/testing";
import { POLL_DEADLINE_MS, pollUntil } from "./helpers.ts";

const REPO_ROOT = resolve(import.meta.dir, "../..");
/** Wide enough that no line the tests look at wraps. */
const TERMINAL_COLUMNS = 250;
const TERMINAL_ROWS = 40;

/** Keys as a terminal sends them. */
export const KEY = {
  tab: "\t",
  enter: "\r",
  ctrlC: "\u0003",
  ctrlD: "\u0004",
  ctrlU: "\u0015",
} as const;

/** The escape character that starts a terminal's control sequences. */
const ESC = "\u001b";
/** Back to the line's start, and erase it: how a progress line is taken down. */
export const CLEAR_LINE = `\r${ESC}[2K`;

/**
 * A pattern for `source` (a regular expression's text) last on the terminal, where readline
 * may have moved the cursor after it with an escape sequence, followed only by `then`.
 */
export function atEnd(source: string, then = ""): RegExp {
  return new RegExp(`${source}(?:${ESC}\\[\\d+G)?${then}$`);
}

/** The shell's prompt, last on the terminal. */
export const PROMPT_AT_END = atEnd("ftfs> ");

export interface TerminalRun {
  /** Everything written to the terminal so far. */
  output(): string;
  /** Type `keys` (one write: a terminal sends each key press as its own read). */
  type(keys: string): void;
  /** Until the output (from `from` on) matches; answers the match. */
  waitFor(pattern: RegExp, from?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<number>;
  readonly pid: number;
  kill(): void;
}

export interface TerminalOptions {
  readonly env: Readonly<Record<string, string>>;
  /** `bunx ftfs` (bun launching the CLI as a child) instead of `bun apps/client/src/main.ts`. */
  readonly viaBunx?: boolean;
}

export function ftfsInTerminal(args: readonly string[], options: TerminalOptions): TerminalRun {
  let output = "";
  const decoder = new TextDecoder();
  const program =
    options.viaBunx === true ? [process.execPath, "x", "ftfs"] : [process.execPath, FTFS_MAIN];
  const child = Bun.spawn([...program, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    terminal: {
      cols: TERMINAL_COLUMNS,
      rows: TERMINAL_ROWS,
      data: (_terminal, data) => {
        output += decoder.decode(data, { stream: true });
      },
    },
  });
  const terminal = child.terminal;
  if (terminal === undefined) throw new Error("Bun gave the child no terminal");
  const exited = child.exited.then(async (status) => {
    await Bun.sleep(0); // the last bytes may arrive a tick after the exit
    terminal.close();
    return status;
  });
  return {
    output: () => output,
    type: (keys) => void terminal.write(keys),
    waitFor: (pattern, from = 0) =>
      pollUntil(
        `${pattern} on the terminal`,
        async () => output.slice(from).match(pattern) ?? undefined,
        POLL_DEADLINE_MS,
      ).catch((error: unknown) => {
        throw new Error(`${error}; it shows ${JSON.stringify(output.slice(from))}`);
      }),
    exited,
    pid: child.pid,
    kill: () => child.kill("SIGKILL"),
  };
}
