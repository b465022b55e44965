/**
 * The interactive prompt (`ftfs` with no arguments, or `ftfs shell`), as the seed's client had:
 * each line is a command without the leading `ftfs` (`alice c`, `alice a x.txt`, `ls`), run
 * over one CliState so connections and the session carry from line to line. An error prints
 * one line and the prompt continues; `exit`, `quit` or end of input ends it.
 */

import {
  commandLabel,
  parseArgs,
  splitLine,
  type GlobalOptions,
  type Invocation,
} from "../core/args.ts";
import type { CliState } from "./cli-state.ts";
import { completeLine, completionSlot } from "../core/completion.ts";
import { execute } from "./commands.ts";
import { describeFailure, EXIT_BROKEN_PIPE, failureLine } from "./report.ts";

export interface LineSource {
  readonly lines: AsyncIterable<string>;
  /** Show the prompt (interactive terminals only). */
  prompt(): void;
  close(): void;
}

/** Tab completion for a line: the candidates for its last word, and that word. */
export type Completer = (line: string) => Promise<[string[], string]>;

const EXIT_WORDS = new Set(["exit", "quit", "q"]);
/** Remote names offered by Tab are listed again after this long. */
const COMPLETION_NAMES_FRESH_MS = 10_000;
const SHELL_BANNER =
  "ftfs shell: commands as on the command line without `ftfs` (try `help`); `exit` quits.";

/** Runs until exit or end of input; the status is 0, or 1 if the last command failed. */
export async function runShell(
  state: CliState,
  shellOptions: GlobalOptions,
  source: LineSource,
): Promise<number> {
  if (state.io.stdinIsTty) await state.io.out(`${SHELL_BANNER}\n`);
  let status = 0;
  let exited = false;
  source.prompt();
  for await (const raw of source.lines) {
    const line = raw.trim();
    exited = EXIT_WORDS.has(line);
    if (exited) break;
    if (line !== "" && !line.startsWith("#")) status = await runLine(state, shellOptions, line);
    if (status === EXIT_BROKEN_PIPE) break; // nobody is reading any more
    source.prompt();
  }
  source.close();
  // End of input (Ctrl-D) leaves the cursor after the prompt: end that line for the next one.
  if (!exited && state.io.stdinIsTty && status !== EXIT_BROKEN_PIPE) await state.io.out("\n");
  return status;
}

/**
 * Completion as the shell's session sees it: the acting user's remote names are listed once
 * and kept a while (a listing per Tab would be slow and noisy); a failure offers no names.
 */
export function shellCompleter(state: CliState, shellOptions: GlobalOptions): Completer {
  let cached: { readonly atMs: number; readonly names: readonly string[] } | null = null;
  const names = async (): Promise<readonly string[]> => {
    if (cached !== null && Date.now() - cached.atMs < COMPLETION_NAMES_FRESH_MS)
      return cached.names;
    const uid = state.session?.uid ?? null;
    if (uid === null) return [];
    const listed = await state
      .client(shellOptions, { kind: "user", uid })
      .list(uid, { stale: true })
      .catch(() => []);
    cached = { atMs: Date.now(), names: listed.map((file) => file.name) };
    return cached.names;
  };
  return async (line) => {
    const { slot } = completionSlot(line);
    return completeLine(line, slot === "name" ? await names() : []);
  };
}

async function runLine(
  state: CliState,
  shellOptions: GlobalOptions,
  line: string,
): Promise<number> {
  const words = splitLine(line);
  if (!words.ok) return reportUsage(state, words.message);
  const argv = words.value[0] === "ftfs" ? words.value.slice(1) : words.value;
  const parsed = parseArgs(argv);
  if (!parsed.ok) return reportUsage(state, parsed.message);
  if (parsed.value.command.kind === "shell") return reportUsage(state, "already in the shell");
  const invocation: Invocation = {
    command: parsed.value.command,
    options: {
      json: parsed.value.options.json || shellOptions.json,
      cluster: parsed.value.options.cluster ?? shellOptions.cluster,
      clusterKeyFile: parsed.value.options.clusterKeyFile ?? shellOptions.clusterKeyFile,
      tlsCa: parsed.value.options.tlsCa ?? shellOptions.tlsCa,
    },
  };
  try {
    state.command = commandLabel(invocation.command);
    state.failureContext = null;
    await execute(invocation, state);
    return 0;
  } catch (error) {
    const failure = describeFailure(error, state.io.env, state.failureContext);
    state.io.err(failureLine(failure, invocation.options.json) ?? "");
    return failure.status;
  }
}

function reportUsage(state: CliState, message: string): number {
  state.io.err(`ftfs: ${message} (try \`help\`)\n`);
  return 2;
}
