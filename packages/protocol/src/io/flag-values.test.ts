/**
 * Where a server's values come from: a flag beats its environment twin, which beats the config
 * file, which beats the default, key by key; a config file is TOML (or JSON by its name), its
 * keys the flags' names, and every wrong key or value in it is its own line, all at once; what
 * `--print-config` prints is itself a config file that gives the same values back, secrets
 * left out.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FlagSpec, parseIntegerFlag, UsageError, UsageProblems } from "./cli-flags.ts";
import {
  CONFIG_FLAGS,
  configEntries,
  explainSource,
  formatResolvedConfig,
  parseFlags,
  readFlags,
} from "./flag-values.ts";

const SPECS: readonly FlagSpec[] = [
  { name: "node", description: "" },
  { name: "join", description: "", default: "" },
  { name: "gc-grace", description: "", default: "1h" },
  { name: "spare", description: "", boolean: true, default: "false" },
  { name: "cluster-key", description: "", default: "", secret: true },
  ...CONFIG_FLAGS,
];

const folder = mkdtempSync(join(tmpdir(), "ftfs-flag-values-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(folder, name);
  writeFileSync(path, text);
  return path;
}

function problems(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof UsageError) return error.problems;
    throw error;
  }
  throw new Error("expected a UsageError");
}

describe("flag values", () => {
  test("a flag beats its environment twin, which beats the default", () => {
    const specs = [{ name: "gc-grace", description: "", default: "1h" }];
    expect(parseFlags(["--gc-grace", "5s"], specs, { FTFS_GC_GRACE: "9s" })["gc-grace"]).toBe("5s");
    expect(parseFlags([], specs, { FTFS_GC_GRACE: "9s" })["gc-grace"]).toBe("9s");
    expect(parseFlags([], specs, {})["gc-grace"]).toBe("1h");
  });

  test("the config file sits under flags and environment, key by key, over defaults", () => {
    const path = file(
      "a.toml",
      'node = "d1"\njoin = ["a:1", "b:2"]\ngc-grace = "2h"\nspare = true\n',
    );
    const flags = readFlags(["--config", path, "--node", "d9"], SPECS, { FTFS_GC_GRACE: "3s" });
    expect(flags.values).toMatchObject({ node: "d9", join: "a:1,b:2", "gc-grace": "3s" });
    expect(flags.values.spare).toBe("true");
    expect(flags.sources).toMatchObject({
      node: "flag",
      join: "config",
      "gc-grace": "environment",
      "cluster-key": "default",
    });
    // FTFS_CONFIG names the file as --config does.
    expect(readFlags([], SPECS, { FTFS_CONFIG: path }).values.node).toBe("d1");
  });

  test("JSON by the file's name, numbers written out", () => {
    const path = file("a.json", JSON.stringify({ node: "d2", "gc-grace": 90 }));
    expect(readFlags(["--config", path], SPECS, {}).values).toMatchObject({
      node: "d2",
      "gc-grace": "90",
    });
  });

  test("every wrong key and value in a file is its own line, all at once", () => {
    const path = file(
      "bad.toml",
      'nod = "d1"\nspare = "yes"\njoin = { a = 1 }\nconfig = "x.toml"\nfrobnicate = 1\n',
    );
    expect(problems(() => readFlags(["--config", path], SPECS, {}))).toEqual([
      `config ${path}: unknown key 'nod' (did you mean 'node'?)`,
      `config ${path}: key 'spare' must be true or false, not string "yes"`,
      `config ${path}: key 'join' must be a string, a number or a list of them, not a table`,
      `config ${path}: key 'config' belongs on the command line, not in a config file`,
      `config ${path}: unknown key 'frobnicate' (keys are the flags' names: see --help)`,
      "flag --node (or FTFS_NODE, or key 'node' in the config file) is required",
    ]);
  });

  test("a file that is missing or not TOML is one clear line", () => {
    const missing = join(folder, "nowhere.toml");
    expect(problems(() => readFlags(["--config", missing], SPECS, {}))).toEqual([
      `config ${missing}: no such file`,
      "flag --node (or FTFS_NODE, or key 'node' in the config file) is required",
    ]);
    const broken = file("broken.toml", "node = \n");
    expect(problems(() => readFlags(["--config", broken], SPECS, {}))[0]).toStartWith(
      `config ${broken}: not valid TOML`,
    );
    expect(configEntries([1, 2], SPECS).problems).toEqual([
      "the file must hold keys and values (a TOML table, a JSON object)",
    ]);
  });

  test("a bad value says where it came from, and all of them are collected", () => {
    const path = file("values.toml", 'node = "d1"\njoin = "x"\n');
    const flags = readFlags(["--config", path], SPECS, { FTFS_GC_GRACE: "soon" });
    const collected = new UsageProblems(explainSource(flags));
    collected.take(() => parseIntegerFlag("join", flags.values.join ?? "", 0, 1), 0);
    collected.take(() => parseIntegerFlag("gc-grace", flags.values["gc-grace"] ?? "", 0, 1), 0);
    expect(problems(() => collected.throwIfAny())).toEqual([
      `flag --join must be an integer in 0..1, got 'x' (from ${path})`,
      "flag --gc-grace must be an integer in 0..1, got 'soon' (from FTFS_GC_GRACE)",
    ]);
  });

  test("--print-config's output is a config file giving the same values, secrets unsaid", () => {
    const key = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
    const flags = readFlags(["--node", "d1", "--join", "a:1,b:2", "--spare"], SPECS, {
      FTFS_CLUSTER_KEY: key,
    });
    const printed = formatResolvedConfig("ftfs server storage", SPECS, flags);
    expect(printed).not.toContain(key);
    expect(printed).toContain("# cluster-key = (set by environment FTFS_CLUSTER_KEY; not shown)");
    expect(printed).toContain('node = "d1"  # flag');
    const again = readFlags(["--config", file("printed.toml", printed)], SPECS, {});
    for (const name of ["node", "join", "gc-grace", "spare"]) {
      expect(again.values[name]).toBe(flags.values[name] ?? "");
    }
  });
});
