/**
 * The CLI in-process against a fake cluster, with captured streams: each command prints what
 * CONTRACT.md promises, the session carries the user and cluster, errors are one line with
 * the right exit status, and the shell keeps going after an error.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeCluster } from "@ftfs/client/testing";
import type { CliIo } from "./cli-state.ts";
import { runCli } from "./cli.ts";
import { loadSession, parseSession, sessionPath } from "./session.ts";
import type { Completer, LineSource } from "./shell.ts";

interface Captured {
  readonly io: CliIo;
  readonly stdout: () => string;
  readonly stderr: () => string;
}

function capture(env: Record<string, string>): Captured {
  const out: Uint8Array[] = [];
  let err = "";
  const encoder = new TextEncoder();
  return {
    io: {
      env,
      stdinIsTty: false,
      stdoutIsTty: false,
      stderrIsTty: false,
      out: async (data) =>
        void out.push(typeof data === "string" ? encoder.encode(data) : data.slice()),
      err: (text) => {
        err += text;
      },
    },
    stdout: () => new TextDecoder().decode(Buffer.concat(out)),
    stderr: () => err,
  };
}

function lines(...input: string[]): () => LineSource {
  return () => ({
    lines: (async function* () {
      yield* input;
    })(),
    prompt: () => undefined,
    close: () => undefined,
  });
}

const noShell = lines();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(): Promise<{
  cluster: FakeCluster;
  folder: string;
  run: (
    argv: string[],
    shell?: () => LineSource,
    moreEnv?: Record<string, string>,
  ) => Promise<{ status: number; stdout: string; stderr: string }>;
}> {
  const cluster = FakeCluster.start({ chunkBytes: 4096 });
  const folder = await mkdtemp(join(tmpdir(), "ftfs-cli-test-"));
  cleanups.push(
    () => cluster.stop(),
    () => rm(folder, { recursive: true, force: true }),
  );
  const env = { FTFS_CONFIG_DIR: join(folder, "config"), HOME: folder };
  const run = async (argv: string[], shell = noShell, moreEnv: Record<string, string> = {}) => {
    const captured = capture({ ...env, ...moreEnv });
    const status = await runCli(argv, captured.io, shell);
    return { status, stdout: captured.stdout(), stderr: captured.stderr() };
  };
  return { cluster, folder, run };
}

describe("ftfs commands", () => {
  test("c saves a 0600 session; later commands use its user and cluster", async () => {
    const { cluster, folder, run } = await setUp();
    const connected = await run(["alice", "c", "--cluster", cluster.directoryAddresses.join(",")]);
    expect(connected).toMatchObject({ status: 0, stderr: "" });
    expect(connected.stdout).toContain(
      `primary directory node d1 at ${cluster.directoryAddresses[0]}`,
    );
    const env = { FTFS_CONFIG_DIR: join(folder, "config") };
    expect(await loadSession(env)).toEqual({
      uid: "alice",
      cluster: cluster.directoryAddresses,
      primary: cluster.directoryAddresses[0] ?? null,
      logins: {},
    });
    expect((await stat(sessionPath(env))).mode & 0o777).toBe(0o600);
    const path = join(folder, "n.txt");
    await writeFile(path, "hello\n");
    expect((await run(["put", path])).stdout).toMatch(
      /^uploaded n\.txt {2}v1 {2}6 B {2}sha256:[0-9a-f]{8}… {2}\(as alice\)\n$/,
    );
    expect((await run(["alice", "r", "n.txt"])).stdout).toBe("hello\n");
    expect((await run(["get", "n.txt", "-o", "-"])).stdout).toBe("hello\n");
    expect(JSON.parse((await run(["ls", "--json"])).stdout)).toMatchObject([
      { name: "n.txt", version: 1, bytes: 6 },
    ]);
  });

  test("friendly forms without a session or --user are a usage error (exit 2)", async () => {
    const { cluster, run } = await setUp();
    const result = await run(["ls", "--cluster", cluster.directoryAddresses.join(",")]);
    expect(result).toEqual({
      status: 2,
      stdout: "",
      stderr:
        "ftfs: no user: connect first with `ftfs <uid> c`, or pass --user <uid> (see ftfs --help)\n",
    });
  });

  test("errors are one line with exit status 1", async () => {
    const { cluster, run } = await setUp();
    const where = ["--cluster", cluster.directoryAddresses.join(",")];
    expect(await run(["bob", "d", ...where])).toEqual({
      status: 1,
      stdout: "",
      stderr: "ftfs: no user 'bob' (connect first: ftfs <uid> c)\n",
    });
    await run(["bob", "c", ...where]);
    expect((await run(["bob", "r", "../x", ...where])).stderr).toBe(
      "ftfs: name '../x': file name '..' is not allowed\n",
    );
    expect((await run(["bob", "a", "/nope", ...where])).stderr).toBe("ftfs: /nope: no such file\n");
  });

  test("get -o writes the file whole, via a temporary file that does not linger", async () => {
    const { cluster, folder, run } = await setUp();
    const where = ["--cluster", cluster.directoryAddresses.join(",")];
    await run(["bob", "c", ...where]);
    const bytes = new Uint8Array(20_000).map((_, index) => index % 251);
    await writeFile(join(folder, "src.bin"), bytes);
    await run(["put", join(folder, "src.bin"), ...where]);
    const out = join(folder, "copy.bin");
    const result = await run(["get", "src.bin", "-o", out, ...where]);
    expect(result.stdout).toMatch(
      /^saved src\.bin {2}v1 {2}19\.5 KiB {2}sha256:[0-9a-f]{8}… {2}to /,
    );
    expect(new Uint8Array(await Bun.file(out).arrayBuffer())).toEqual(bytes);
    const leftovers = [...new Bun.Glob(".*.part").scanSync({ cwd: folder, dot: true })];
    expect(leftovers).toEqual([]);
  });

  test("d --stale prints exactly what d prints (text, --json, shell)", async () => {
    const { cluster, folder, run } = await setUp();
    const where = ["--cluster", cluster.directoryAddresses.join(",")];
    await run(["bob", "c", ...where]);
    await writeFile(join(folder, "n.txt"), "hello\n");
    await run(["bob", "a", join(folder, "n.txt"), ...where]);
    const linearizable = await run(["bob", "d", ...where]);
    expect(linearizable.stdout).toContain("n.txt");
    expect(await run(["bob", "d", "--stale", ...where])).toEqual(linearizable);
    const json = await run(["bob", "d", "--json", ...where]);
    expect(await run(["bob", "d", "--stale", "--json", ...where])).toEqual(json);
    const shell = await run(["shell", ...where], lines("bob d --stale"));
    expect(shell).toEqual({ status: 0, stdout: linearizable.stdout, stderr: "" });
    expect(cluster.listRequests.map((request) => request.body)).toEqual([
      { uid: "bob" },
      { uid: "bob", stale: true },
      { uid: "bob" },
      { uid: "bob", stale: true },
      { uid: "bob", stale: true },
    ]);
  });

  test("the shell runs line after line over one client, reports errors, and stops at exit", async () => {
    const { cluster, run } = await setUp();
    const shell = lines("alice c", "ls", "bogus", `alice r "missing file"`, "exit", "status");
    const result = await run(["shell", "--cluster", cluster.directoryAddresses.join(",")], shell);
    expect(result.status).toBe(1); // as a POSIX shell: the status of the last command run
    expect(result.stdout).toContain("connected as alice (new user)");
    expect(result.stdout).toContain("no files");
    expect(result.stdout).not.toContain("answered by"); // `status` came after `exit`
    expect(result.stderr.split("\n").filter(Boolean)).toEqual([
      expect.stringMatching(/^ftfs: unknown command 'bogus'/),
      "ftfs: no file 'missing file'",
    ]);
  });
});

describe("the shell", () => {
  test("Tab offers the session user's remote names; Ctrl-D ends the prompt's line", async () => {
    const { cluster, folder, run } = await setUp();
    const where = ["--cluster", cluster.directoryAddresses.join(",")];
    await run(["alice", "c", ...where]);
    await writeFile(join(folder, "notes.txt"), "hi\n");
    await run(["put", join(folder, "notes.txt")]);
    let completer: Completer | null = null;
    const captured = capture({ FTFS_CONFIG_DIR: join(folder, "config"), HOME: folder });
    const io = { ...captured.io, stdinIsTty: true };
    const status = await runCli(["shell"], io, (given) => {
      completer = given;
      return lines()();
    });
    expect(status).toBe(0);
    // The banner, then end of input: the last prompt's line is ended.
    expect(captured.stdout()).toEndWith("\n\n");
    const offered = await (completer as Completer | null)?.("get no");
    expect(offered).toEqual([["notes.txt "], "no"]);
  });
});

describe("errors people can act on", () => {
  test("with --json, errors are a JSON object on stderr, with the same exit status", async () => {
    const { cluster, run } = await setUp();
    const where = ["--cluster", cluster.directoryAddresses.join(",")];
    const usage = await run(["carol", "x", "--json"]);
    expect(usage.status).toBe(2);
    expect(JSON.parse(usage.stderr)).toEqual({
      error: {
        code: "USAGE",
        message: "unknown action 'x' for user 'carol' (actions: c, a, r, d) (see ftfs --help)",
      },
    });
    const missing = await run(["bob", "d", "--json", ...where]);
    expect(missing.status).toBe(1);
    expect(JSON.parse(missing.stderr)).toEqual({
      error: { code: "NO_SUCH_USER", message: "no user 'bob' (connect first: ftfs <uid> c)" },
    });
    expect(missing.stdout).toBe("");
  });

  test("an unreachable cluster says where its address came from: the saved session", async () => {
    const { cluster, folder, run } = await setUp();
    await run(["alice", "c", "--cluster", cluster.directoryAddresses.join(",")]);
    cluster.stop();
    const failed = await run(["ls"]);
    const file = join(folder, "config", "session.json");
    expect(failed.status).toBe(1);
    expect(failed.stderr).toStartWith(
      `ftfs: cannot reach the cluster at ${cluster.directoryAddresses[0]}: `,
    );
    expect(failed.stderr).toEndWith(
      `is it running? (the address is the saved session's, from \`alice c\`, kept in ${file}; ` +
        "point at another with --cluster or FTFS_CLUSTER, or forget the session: ftfs logout)\n",
    );
  });
});

describe("whoami and logout", () => {
  const HOUR_MS = 3_600_000;
  const login = (cluster: string[], admin: boolean) => ({
    token: "t".repeat(40),
    sessionKey: "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
    expiresAtMs: Date.now() + HOUR_MS,
    admin,
    cluster,
  });

  test("nobody logged in: whoami says so with exit status 1", async () => {
    const { run } = await setUp();
    expect(await run(["whoami"])).toEqual({
      status: 1,
      stdout: "",
      stderr: "ftfs: nobody is logged in here: log in with `ftfs <uid> c`\n",
    });
  });

  test("whoami names the acting user, its cluster and the others; each login keeps its cluster", async () => {
    const { cluster, folder, run } = await setUp();
    const dead = ["127.0.0.1:1"];
    const live = [...cluster.directoryAddresses];
    const file = join(folder, "config", "session.json");
    await Bun.write(
      file,
      JSON.stringify({
        uid: "bob",
        cluster: dead,
        primary: null,
        logins: { bob: login(dead, false), demo: login(live, true) },
      }),
    );
    const who = await run(["whoami"]);
    expect(who.status).toBe(0);
    const lines = who.stdout.split("\n");
    expect(lines[0]).toMatch(
      /^bob, logged in until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d on 127\.0\.0\.1:1$/,
    );
    expect(lines[1]).toMatch(
      new RegExp(`^also logged in here: demo \\(admin, until .*, on ${live[0]}\\)$`),
    );
    expect(lines[2]).toBe(`session file: ${file}`);
    // demo's login is for the live cluster: acting as demo goes there, not to the session's
    // (which no one answers). The fake cluster runs without a key, and says so.
    expect((await run(["demo", "d"])).stderr).toBe(
      `ftfs: ${live[0]} does not authenticate connections (started with --insecure?)\n`,
    );
    const moved = await run(["whoami"], noShell, { FTFS_CLUSTER: live.join(",") });
    expect(moved.stdout).toContain(`commands now go to ${live.join(",")} (from FTFS_CLUSTER)`);
  });

  test("logout forgets the user here; commands then act as nobody, not as someone else", async () => {
    const { cluster, folder, run } = await setUp();
    const live = [...cluster.directoryAddresses];
    await Bun.write(
      join(folder, "config", "session.json"),
      JSON.stringify({
        uid: "bob",
        cluster: live,
        primary: null,
        logins: { bob: login(live, false), demo: login(live, true) },
      }),
    );
    expect((await run(["logout"])).stdout).toBe(
      "logged out bob (its session is deleted from this machine); still logged in here: demo; " +
        "commands act as nobody until `ftfs <uid> c` or --user\n",
    );
    expect((await run(["ls"])).status).toBe(2);
    expect((await run(["whoami"])).stdout).toStartWith(
      "commands act as nobody: log in with `ftfs <uid> c`, or pass --user <uid>\nlogged in here: demo",
    );
    expect((await run(["logout", "bob"])).stderr).toBe(
      "ftfs: bob is not logged in here (logged in: demo)\n",
    );
    expect((await run(["logout", "demo"])).stdout).toContain("nobody is logged in here now");
    expect(await Bun.file(join(folder, "config", "session.json")).exists()).toBe(false);
  });
});

describe("session file", () => {
  test("a damaged or hostile session counts as none", () => {
    expect(parseSession("{")).toBeNull();
    expect(
      parseSession(JSON.stringify({ uid: "../x", cluster: ["127.0.0.1:1"], primary: null })),
    ).toBeNull();
    expect(
      parseSession(JSON.stringify({ uid: "a", cluster: ["not an address"], primary: null })),
    ).toBeNull();
    expect(
      parseSession(JSON.stringify({ uid: "a", cluster: ["127.0.0.1:1"], primary: 5 })),
    ).toEqual({ uid: "a", cluster: ["127.0.0.1:1"], primary: null });
  });

  test("the folder comes from FTFS_CONFIG_DIR, else XDG_CONFIG_HOME/ftfs, else ~/.config/ftfs", () => {
    expect(sessionPath({ FTFS_CONFIG_DIR: "/c", XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe(
      "/c/session.json",
    );
    expect(sessionPath({ XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe("/x/ftfs/session.json");
    expect(sessionPath({ HOME: "/h" })).toBe("/h/.config/ftfs/session.json");
  });
});
