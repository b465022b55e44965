/**
 * The command line parses to exactly the commands of CONTRACT.md: the seed's `<uid> c|a|r|d`,
 * the friendly forms, flags anywhere, and a clear usage error (with the right help topic) for
 * everything else. Shell lines split like a POSIX shell's plain words.
 */
import { describe, expect, test } from "bun:test";
import { parseArgs, splitLine, type Command } from "./args.ts";

function command(argv: string[]): Command {
  const parsed = parseArgs(argv);
  if (!parsed.ok) throw new Error(`unexpected usage error: ${parsed.message}`);
  return parsed.value.command;
}

function usageError(argv: string[]): string {
  const parsed = parseArgs(argv);
  if (parsed.ok) throw new Error(`expected a usage error for ${argv.join(" ")}`);
  return parsed.message;
}

describe("seed commands", () => {
  test("c, a, r, d and d --from storage", () => {
    expect(command(["alice", "c"])).toEqual({ kind: "connect", uid: "alice", secretFile: null });
    expect(command(["alice", "a", "x.txt", "y.txt"])).toEqual({
      kind: "upload",
      uid: "alice",
      files: ["x.txt", "y.txt"],
      as: null,
      recursive: false,
    });
    expect(command(["alice", "r", "x.txt"])).toEqual({
      kind: "read",
      uid: "alice",
      name: "x.txt",
      target: { kind: "stdout" },
      version: null,
      force: false,
    });
    expect(command(["alice", "d"])).toEqual({
      kind: "list",
      uid: "alice",
      from: "directory",
      stale: false,
    });
    expect(command(["alice", "d", "--from", "storage"])).toEqual({
      kind: "list",
      uid: "alice",
      from: "storage",
      stale: false,
    });
    expect(command(["alice", "d", "--from=storage"])).toEqual({
      kind: "list",
      uid: "alice",
      from: "storage",
      stale: false,
    });
  });

  test("d and ls --stale ask for a stale directory listing; --stale elsewhere is refused", () => {
    const stale: Command = { kind: "list", uid: "alice", from: "directory", stale: true };
    expect(command(["alice", "d", "--stale"])).toEqual(stale);
    expect(command(["--stale", "alice", "d", "--from", "directory"])).toEqual(stale);
    expect(command(["ls", "--stale", "-u", "alice"])).toEqual(stale);
    expect(command(["ls", "--stale"])).toEqual({ ...stale, uid: null });
    const refused = "--stale applies only to listings (`ls`, `<uid> d`)";
    expect(usageError(["u", "x", "--stale"])).toContain("unknown action 'x'");
    expect(usageError(["u", "r", "x", "--stale"])).toBe(refused);
    expect(usageError(["u", "c", "--stale"])).toBe(refused);
    expect(usageError(["ls", "--stale", "--from", "storage"])).toContain("does not combine");
    expect(usageError(["status", "--stale"])).toBe(refused);
    expect(usageError(["--stale"])).toBe(refused);
    expect(usageError(["alice", "d", "--stale", "--from", "storage"])).toContain(
      "does not combine with --from storage",
    );
  });

  test("--version alone is the program's; after a command, a file's version", () => {
    expect(command(["--version"])).toEqual({ kind: "version" });
    expect(command(["--version", "--json"])).toEqual({ kind: "version" });
    expect(command(["get", "n", "--version", "2"])).toMatchObject({ kind: "read", version: 2 });
    expect(usageError(["--version", "3"])).toBe("--version does not apply to this command");
  });

  test("wrong arity and unknown actions are usage errors", () => {
    expect(usageError(["alice", "a"])).toContain("at least one");
    expect(usageError(["alice", "r"])).toContain("exactly one");
    expect(usageError(["alice", "r", "a", "b"])).toContain("exactly one");
    expect(usageError(["alice", "x"])).toContain("unknown action 'x'");
    expect(usageError(["alice"])).toContain("unknown command 'alice'");
    expect(usageError(["alice", "d", "--from", "disk"])).toContain("--from");
    expect(usageError(["alice", "c", "--as", "n"])).toContain("--as does not apply");
  });
});

describe("friendly forms", () => {
  test("put, get, ls, rm, status, shell", () => {
    expect(command(["put", "a", "b"])).toEqual({
      kind: "upload",
      uid: null,
      files: ["a", "b"],
      as: null,
      recursive: false,
    });
    expect(command(["put", "a", "--as", "b", "--user", "bob"])).toEqual({
      kind: "upload",
      uid: "bob",
      files: ["a"],
      as: "b",
      recursive: false,
    });
    expect(command(["get", "n"])).toEqual({
      kind: "read",
      uid: null,
      name: "n",
      target: { kind: "file", path: "n" },
      version: null,
      force: false,
    });
    expect(command(["get", "n", "-o", "-"])).toEqual({
      kind: "read",
      uid: null,
      name: "n",
      target: { kind: "stdout" },
      version: null,
      force: false,
    });
    expect(command(["alice", "r", "x.txt", "--version", "v2"])).toMatchObject({ version: 2 });
    expect(command(["get", "n", "--version", "7", "-o", "-"])).toMatchObject({
      version: 7,
      target: { kind: "stdout" },
    });
    expect(() => command(["get", "n", "--version", "latest"])).toThrow(
      /--version takes a version number/,
    );
    expect(() => command(["get", "n", "--version", "0"])).toThrow(
      /--version takes a version number/,
    );
    expect(() => command(["ls", "--version", "2"])).toThrow(/--version does not apply/);
    expect(command(["get", "n", "-o", "out.bin"])).toEqual({
      kind: "read",
      uid: null,
      name: "n",
      target: { kind: "file", path: "out.bin" },
      version: null,
      force: false,
    });
    expect(command(["ls", "--from", "storage"])).toEqual({
      kind: "list",
      uid: null,
      from: "storage",
      stale: false,
    });
    expect(command(["rm", "n", "-u", "carol"])).toEqual({
      kind: "remove",
      uid: "carol",
      name: "n",
    });
    expect(command(["status"])).toEqual({ kind: "status", watch: false });
    expect(command(["status", "--watch"])).toEqual({ kind: "status", watch: true });
    expect(command([])).toEqual({ kind: "shell" });
    expect(command(["shell"])).toEqual({ kind: "shell" });
  });

  test("--as with several files, stray flags and bad clusters are usage errors", () => {
    expect(usageError(["put", "a", "b", "--as", "c"])).toContain("--as");
    expect(usageError(["ls", "--bogus"])).toContain("unknown flag --bogus");
    expect(usageError(["status", "--cluster"])).toContain("needs a value");
    expect(usageError(["ls", "--watch"])).toContain("--watch applies only to `ftfs status`");
    expect(usageError(["status", "--cluster", "nohost"])).toContain("not host:port");
    expect(usageError(["alice", "c", "--user", "bob"])).toContain("--user");
  });

  test("global flags anywhere; -- ends flags; empty names stay names", () => {
    const parsed = parseArgs(["--json", "ls", "--cluster", "127.0.0.1:1,127.0.0.1:2"]);
    expect(parsed.ok && parsed.value.options).toEqual({
      json: true,
      cluster: ["127.0.0.1:1", "127.0.0.1:2"],
      clusterKeyFile: null,
      tlsCa: null,
    });
    expect(command(["put", "--", "--weird"])).toEqual({
      kind: "upload",
      uid: null,
      files: ["--weird"],
      as: null,
      recursive: false,
    });
    expect(command(["put", "x", "--as", ""])).toEqual({
      kind: "upload",
      uid: null,
      files: ["x"],
      as: "",
      recursive: false,
    });
  });

  test("rebalance takes a threshold in percent, or the directory's default", () => {
    expect(command(["rebalance"])).toEqual({ kind: "rebalance", thresholdBasisPoints: null });
    expect(command(["rebalance", "--threshold", "5"])).toEqual({
      kind: "rebalance",
      thresholdBasisPoints: 500,
    });
    expect(command(["--json", "rebalance", "--threshold=0.25"])).toEqual({
      kind: "rebalance",
      thresholdBasisPoints: 25,
    });
    expect(command(["rebalance", "--threshold", "100"])).toMatchObject({
      thresholdBasisPoints: 10_000,
    });
    for (const bad of ["0", "0.001", "101", "-1", "1e2", "five", ""]) {
      expect(usageError(["rebalance", "--threshold", bad])).toContain("0.01 to 100");
    }
    expect(usageError(["rebalance", "now"])).toContain("no arguments");
    expect(usageError(["ls", "--threshold", "5"])).toContain("--threshold does not apply");
    expect(command(["rebalance", "--help"])).toEqual({ kind: "help", topic: "rebalance" });
  });

  test("--help everywhere picks the command's topic", () => {
    expect(command(["--help"])).toEqual({ kind: "help", topic: "main" });
    expect(command(["put", "--help"])).toEqual({ kind: "help", topic: "put" });
    expect(command(["alice", "a", "-h"])).toEqual({ kind: "help", topic: "a" });
    expect(command(["help", "status"])).toEqual({ kind: "help", topic: "status" });
    expect(command(["alice", "--help"])).toEqual({ kind: "help", topic: "main" });
  });
});

describe("shell lines", () => {
  test("split on blanks, with quotes and escapes", () => {
    expect(splitLine("alice a x.txt  y.txt")).toEqual({
      ok: true,
      value: ["alice", "a", "x.txt", "y.txt"],
    });
    expect(splitLine(`put "my file.txt" --as 'a b'`)).toEqual({
      ok: true,
      value: ["put", "my file.txt", "--as", "a b"],
    });
    expect(splitLine(`put x --as ""`)).toEqual({ ok: true, value: ["put", "x", "--as", ""] });
    expect(splitLine("put a\\ b")).toEqual({ ok: true, value: ["put", "a b"] });
    expect(splitLine("   ")).toEqual({ ok: true, value: [] });
    expect(splitLine(`put "x`).ok).toBe(false);
  });
});
