/**
 * Property: the real `bun run apps/storage` process refuses a bad flag (maintenance settings,
 * --group with --spare, neither of them) with one line and exit status 2, prints --help, logs
 * JSON "listening" once it serves, takes its view from the directory, and on SIGTERM stops
 * cleanly with exit status 0. A spare takes the first view that lists it as its group, keeps
 * it on disk, and names it in its heartbeats after a restart. Every heartbeat names the data
 * folder's identity, the same after a restart; another node's folder is refused at start with
 * one error line (no stack) and exit status 1.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ok, type RequestBody } from "@ftfs/protocol/core";
import { createMemoryLogger, RpcServer } from "@ftfs/protocol/io";

const MAIN = join(import.meta.dir, "main.ts");
/** A cold `bun` start plus opening the stores; generous for a loaded CI machine. */
const READY_TIMEOUT_MS = 4_000;

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function spawnStorage(
  args: readonly string[],
  extraEnv: Readonly<Record<string, string>> = {},
): ReturnType<typeof Bun.spawn<"ignore", "pipe", "pipe">> {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("FTFS_")) delete env[key];
  return Bun.spawn([process.execPath, MAIN, ...args], {
    env: { ...env, FTFS_INSECURE: "true", ...extraEnv },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

test("a bad flag is one line on stderr and exit status 2", async () => {
  const child = spawnStorage(["--node", "s1a", "--bogus", "x"]);
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  expect(code).toBe(2);
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).toContain("--bogus");
});

test("--help lists every flag with its environment twin", async () => {
  const child = spawnStorage(["--help"]);
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  expect(code).toBe(0);
  const names = ["node", "group", "listen", "data", "join", "capacity"];
  const more = ["scrub-rate", "scrub-pause", "gc-grace", "spare", "catch-up-rate"];
  for (const name of [...names, ...more]) {
    expect(stdout).toContain(`--${name}`);
    expect(stdout).toContain(`FTFS_${name.toUpperCase().replace(/-/g, "_")}`);
  }
});

test("a bad maintenance flag is one line naming it and exit status 2", async () => {
  const base = ["--node", "s1a", "--group", "s1", "--listen", "127.0.0.1:0", "--data", "/nowhere"];
  const cases: Array<[string, string, RegExp]> = [
    ["--scrub-rate", "fast", /--scrub-rate/],
    ["--scrub-pause", "1d", /--scrub-pause/],
    ["--gc-grace", "10ms", /--gc-grace must be at least 1s/],
  ];
  for (const [flag, value, pattern] of cases) {
    const child = spawnStorage([...base, "--join", "127.0.0.1:1", flag, value]);
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    expect({ code, lines: stderr.trim().split("\n").length }).toEqual({ code: 2, lines: 1 });
    expect(stderr).toMatch(pattern);
  }
});

test("--group and --spare: exactly one, whether flag or environment twin", async () => {
  const base = ["--node", "x1", "--listen", "127.0.0.1:0", "--data", "/nowhere", "--join", "h:1"];
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [["--group", "s1", "--spare"], {}, /--group and --spare exclude each other/],
    [["--group", "s1"], { FTFS_SPARE: "true" }, /--group and --spare exclude each other/],
    [[], {}, /--group is required \(or --spare\)/],
    [["--spare", "--catch-up-rate", "1KiB"], {}, /--catch-up-rate/],
  ];
  for (const [args, env, pattern] of cases) {
    const child = spawnStorage([...base, ...args], env);
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    expect({ code, lines: stderr.trim().split("\n").length }).toEqual({ code: 2, lines: 1 });
    expect(stderr).toMatch(pattern);
  }
});

test("a spare takes the group listing it, keeps it on disk, names it after a restart", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "ftfs-storage-spare-"));
  const heard: Array<RequestBody<"registerStorage">> = [];
  let assign = false;
  const directory = RpcServer.start({
    listen: "127.0.0.1:0",
    logger: createMemoryLogger("fake-directory"),
    handlers: {
      registerStorage: async (body) => {
        heard.push(body);
        if (!assign) return ok({ body: { directoryNode: "d1" } });
        const primary = { node: "s1a", address: "127.0.0.1:1" };
        const group = {
          group: "s1",
          epoch: 7,
          primary: primary.address,
          primaryNode: primary.node,
          replicas: [primary],
          learners: [{ node: body.node, address: body.address }],
          replicationFactor: 2,
        };
        return ok({ body: { group, directoryNode: "d1" } });
      },
    },
  });
  cleanups.push(async () => {
    directory.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const args = ["--node", "x1", "--spare", "--listen", "127.0.0.1:0", "--data", dataDir];
  const start = () => spawnStorage([...args, "--join", `127.0.0.1:${directory.port}`]);
  const first = start();
  const lines = new LogLines(first.stderr);
  await lines.waitFor((line) => line.msg === "listening");
  await until(() => heard.length > 0);
  expect(heard[0]).toMatchObject({ node: "x1", spare: true });
  expect(heard[0]?.group).toBeUndefined();
  const folderId = heard[0]?.folderId;
  expect(folderId).toMatch(/^[0-9a-f]{32}$/);
  assign = true;
  await lines.waitFor((line) => line.msg === "spare assigned to a group" && line.group === "s1");
  expect(JSON.parse(await readFile(join(dataDir, "assignment.json"), "utf8"))).toEqual({
    group: "s1",
  });
  first.kill("SIGTERM");
  expect(await first.exited).toBe(0);

  heard.length = 0;
  assign = false; // the restarted node must name its group by itself
  const second = start();
  await new LogLines(second.stderr).waitFor((line) => line.msg === "listening");
  await until(() => heard.length > 0);
  expect(heard[0]).toMatchObject({ node: "x1", spare: true, group: "s1", folderId });
  second.kill("SIGTERM");
  expect(await second.exited).toBe(0);
});

test("another node's data folder is refused at start: one error line, exit status 1", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "ftfs-storage-foreign-"));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const identity = { node: "s1a", folderId: "0123456789abcdef0123456789abcdef", createdAtMs: 1 };
  await writeFile(join(dataDir, "identity.json"), `${JSON.stringify(identity)}\n`);
  const args = ["--group", "s1", "--listen", "127.0.0.1:0", "--data", dataDir, "--join", "h:1"];
  const child = spawnStorage(["--node", "s1b", ...args]);
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  expect(code).toBe(1);
  const errors = stderr
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.level === "error");
  expect(errors).toEqual([
    expect.objectContaining({
      msg: "could not start",
      error: expect.stringContaining(`belongs to storage node s1a (folder ${identity.folderId})`),
    }),
  ]);
  expect(stderr).not.toMatch(/\s+at /);
});

async function until(condition: () => boolean): Promise<void> {
  const deadlineMs = Date.now() + READY_TIMEOUT_MS;
  while (!condition()) {
    if (Date.now() > deadlineMs) throw new Error(`condition not met in ${READY_TIMEOUT_MS} ms`);
    await Bun.sleep(10);
  }
}

test("serves after 'listening', and exits 0 on SIGTERM", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "ftfs-storage-main-"));
  let registrations = 0;
  const directory = RpcServer.start({
    listen: "127.0.0.1:0",
    logger: createMemoryLogger("fake-directory"),
    handlers: {
      registerStorage: async (body) => {
        registrations += 1;
        const replicas = [{ node: body.node, address: body.address }];
        return ok({
          body: {
            group: {
              group: body.group ?? "s1",
              epoch: 1,
              primary: body.address,
              primaryNode: body.node,
              replicas,
            },
            directoryNode: "d1",
          },
        });
      },
    },
  });
  cleanups.push(async () => {
    directory.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const child = spawnStorage([
    "--node",
    "s1a",
    "--group",
    "s1",
    "--listen",
    "127.0.0.1:0",
    "--data",
    dataDir,
    "--join",
    `127.0.0.1:${directory.port}`,
    "--capacity",
    "1GiB",
  ]);
  const lines = new LogLines(child.stderr);
  const listening = await lines.waitFor((line) => line.msg === "listening");
  expect(listening.capacityBytes).toBe(1024 ** 3);
  await lines.waitFor((line) => line.msg === "group view" && line.role === "primary");
  expect(registrations).toBeGreaterThan(0);
  child.kill("SIGTERM");
  expect(await child.exited).toBe(0);
});

type LogLine = Record<string, unknown>;

/** Reads a process's JSON log lines in the background; `waitFor` resolves on the first match. */
class LogLines {
  private readonly seen: LogLine[] = [];
  private wake: () => void = () => undefined;
  private ended = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    void this.read(stream);
  }

  async waitFor(wanted: (line: LogLine) => boolean): Promise<LogLine> {
    const deadlineMs = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const found = this.seen.find(wanted);
      if (found !== undefined) return found;
      if (this.ended) throw new Error("the process ended before the log line");
      const leftMs = deadlineMs - Date.now();
      if (leftMs <= 0) throw new Error(`no such log line within ${READY_TIMEOUT_MS} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, leftMs);
      });
      clearTimeout(timer);
    }
  }

  private async read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const bytes of stream) {
      buffered += decoder.decode(bytes, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        this.seen.push(JSON.parse(buffered.slice(0, newline)) as LogLine);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
      }
      this.wake();
    }
    this.ended = true;
    this.wake();
  }
}
