/**
 * Tab completion in the interactive shell: the command words where a command begins, the
 * seed's actions after a uid, flags after `-`, and the user's remote names where a command
 * takes one (get, rm, `<uid> r`). Pure: the caller supplies the names it listed.
 */

import { assertNever } from "@ftfs/protocol/core";

const COMMAND_WORDS = [
  "put",
  "get",
  "ls",
  "rm",
  "status",
  "whoami",
  "logout",
  "rebalance",
  "admin",
  "key",
  "help",
  "exit",
] as const;
const SEED_ACTIONS = ["c", "a", "r", "d"] as const;
const FLAGS = [
  "--as",
  "--cluster",
  "--force",
  "--from",
  "--json",
  "--help",
  "--output",
  "--recursive",
  "--stale",
  "--user",
  "--version",
  "--watch",
] as const;
/** Commands whose first operand is a remote name. */
const TAKES_NAME: ReadonlySet<string> = new Set(["get", "rm"]);

/** What the word being typed is: decides what to offer. */
export type CompletionSlot = "command" | "action" | "flag" | "name" | "other";

/** The word under the cursor (the line's last, unquoted) and what kind of word it is. */
export function completionSlot(line: string): {
  readonly word: string;
  readonly slot: CompletionSlot;
} {
  const words = line
    .split(/\s+/)
    .filter((word, index, all) => word !== "" || index === all.length - 1);
  const word = words.at(-1) ?? "";
  const before = words.slice(0, -1).filter((previous) => !previous.startsWith("-"));
  if (word.startsWith("-")) return { word, slot: "flag" };
  if (before.length === 0) return { word, slot: "command" };
  const first = before[0] ?? "";
  const isCommand = (COMMAND_WORDS as readonly string[]).includes(first);
  if (before.length === 1 && TAKES_NAME.has(first)) return { word, slot: "name" };
  if (!isCommand && before.length === 1) return { word, slot: "action" };
  if (!isCommand && before.length === 2 && before[1] === "r") return { word, slot: "name" };
  return { word, slot: "other" };
}

/**
 * readline's answer: the candidates that start with the word, and the word. A single one ends
 * with a space, as a shell completes: the word is whole, the cursor moves on, and a second Tab
 * offers what comes next instead of listing that one word again.
 */
export function completeLine(line: string, names: readonly string[]): [string[], string] {
  const { word, slot } = completionSlot(line);
  const pool = candidates(slot, names);
  const matching = pool.filter((candidate) => candidate.startsWith(word));
  const only = matching.length === 1 ? matching[0] : undefined;
  return [only === undefined ? matching : [`${only} `], word];
}

function candidates(slot: CompletionSlot, names: readonly string[]): readonly string[] {
  switch (slot) {
    case "command":
      return COMMAND_WORDS;
    case "action":
      return SEED_ACTIONS;
    case "flag":
      return FLAGS;
    case "name":
      // A name with spaces or quotes is offered quoted, as the shell's reader takes it.
      return names.map((name) =>
        /[\s'"\\]/.test(name) ? `"${name.replace(/["\\]/g, "\\$&")}"` : name,
      );
    case "other":
      return [];
    default:
      return assertNever(slot);
  }
}
