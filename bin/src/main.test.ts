/**
 * The one program's dispatch, run from the checkout (`bunx ftfs` runs this file; the compiled
 * binary runs the same code, tested in tests/deploy): `--version` names version and commit;
 * `ftfs server <kind>` is that app's program with its config file, environment twins and
 * --print-config; a wrong kind or a bad config is a usage error (status 2) with every problem
 * on its own line; `cluster init` will not overwrite a cluster's key; everything else is the
 * client as it always was.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MAIN = join(import.meta.dir, "main.ts");
const folder = mkdtempSync(join(tmpdir(), "ftfs-bin-main-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

async function ftfs(args: readonly string[], env: Record<string, string> = {}) {
  const child = Bun.spawn([process.execPath, MAIN, ...args], {
    cwd: folder,
    env: { ...process.env, FTFS_CONFIG_DIR: folder, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { stdout, stderr, code };
}

describe("ftfs, the one program", () => {
  test("--version names the version, the commit and the protocol; --json too", async () => {
    const run = await ftfs(["--version"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^ftfs \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}\S*, run from a checkout; protocol \d+\)\n$/,
    );
    const json = await ftfs(["--version", "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({
      version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      commit: expect.stringMatching(/^[0-9a-f]{7,}/),
      protocol: expect.any(Number),
    });
  });

  test("server <kind> --print-config: file, environment over it, flag over both", async () => {
    const config = join(folder, "s1a.toml");
    writeFileSync(
      config,
      'node = "s1a"\ngroup = "s1"\nlisten = "127.0.0.1:7111"\ndata = "/tmp/x"\n' +
        'join = ["127.0.0.1:7101"]\ninsecure = true\ngc-grace = "2h"\nscrub-rate = "1MiB"\n',
    );
    const run = await ftfs(
      ["server", "storage", "--config", config, "--scrub-rate", "2MiB", "--print-config"],
      { FTFS_GC_GRACE: "3h" },
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('node = "s1a"  # config\n');
    expect(run.stdout).toContain('gc-grace = "3h"  # environment FTFS_GC_GRACE\n');
    expect(run.stdout).toContain('scrub-rate = "2MiB"  # flag\n');
    expect(run.stdout).toContain("insecure = true  # config\n");
  });

  test("a bad config: every wrong key and value on its own line, status 2", async () => {
    const config = join(folder, "bad.toml");
    writeFileSync(
      config,
      'node = "d1"\nlisten = "nowhere"\ndata = "/tmp/d"\nexpect = 2\n' +
        'lisen = "x"\ninsecure = true\n',
    );
    const run = await ftfs(["server", "directory", "--config", config]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toEqual([
      `ftfs server directory: config ${config}: unknown key 'lisen' (did you mean 'listen'?)`,
    ]);
    writeFileSync(
      config,
      'node = "d1"\nlisten = "nowhere"\ndata = "/tmp/d"\nexpect = 2\ninsecure = true\n',
    );
    const values = await ftfs(["server", "directory", "--config", config]);
    expect(values.code).toBe(2);
    expect(values.stderr.trim().split("\n")).toEqual([
      `ftfs server directory: flag --listen must be host:port, got 'nowhere' (from ${config})`,
      `ftfs server directory: flag --expect must be one of 1, 3, 5, got '2' (from ${config})`,
    ]);
  });

  test("an unknown server kind, or none, is a usage error; --help is not", async () => {
    const unknown = await ftfs(["server", "gateway"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toStartWith("ftfs: unknown server 'gateway'; usage: ftfs server ");
    expect((await ftfs(["server"])).code).toBe(2);
    const help = await ftfs(["server", "--help"]);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining("directory|storage|s3")]);
    const storageHelp = await ftfs(["server", "storage", "--help"]);
    expect(storageHelp.stdout).toContain("usage: ftfs server storage [flags]");
    expect(storageHelp.stdout).toContain("--config VALUE");
  });

  test("cluster init writes a key once and refuses to make a second one there", async () => {
    const out = join(folder, "cluster");
    const args = [
      "cluster",
      "init",
      "--directory",
      "10.0.0.1:7101",
      "--storage",
      "s1=10.0.0.2:7111",
    ];
    const first = await ftfs([...args, "--out", out]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("  ftfs server storage --config /etc/ftfs/s1a.toml\n");
    const again = await ftfs([...args, "--out", out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`${join(out, "cluster.key")} exists`);
  });

  test("anything else is the client: errors, help (servers after)", async () => {
    const usage = await ftfs(["alice", "x"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe(
      "ftfs: unknown action 'x' for user 'alice' (actions: c, a, r, d) (see ftfs --help)\n",
    );
    const help = await ftfs(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("ftfs <uid> c|a|r|d");
    expect(help.stdout).toContain("ftfs server directory|storage|s3");
  });
});
