/**
 * The directory as a process, as users and the launcher start it: flags and their FTFS_*
 * twins, one clear line and status 2 for a bad flag, --help, JSON logs on stderr with a
 * "listening" line, a clean exit 0 on SIGTERM, and a restart on the same --data that
 * remembers its users. Also that `bun run apps/directory` works from the repository root.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { FtfsError } from "@ftfs/protocol/core";
import { RpcClient } from "@ftfs/protocol/io";
import { parseConfig } from "./main.ts";

const MAIN = resolve(import.meta.dir, "main.ts");
const REPO_ROOT = resolve(import.meta.dir, "../../..");
const READY_TIMEOUT_MS = 10_000;

const folders: string[] = [];
const children: Subprocess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function tempDir(): string {
  const folder = mkdtempSync(join(tmpdir(), "ftfs-dir-main-"));
  folders.push(folder);
  return folder;
}

async function runToEnd(args: readonly string[], cwd = REPO_ROOT) {
  const child = Bun.spawn([process.execPath, ...args], {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { stdout, stderr, code };
}

interface Running {
  readonly child: Subprocess<"ignore", "ignore", "pipe">;
  readonly address: string;
  readonly lines: string[];
}

/** Keep reading a child's stderr into `lines`; resolves with the "listening" address. */
async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  lines: string[],
): Promise<string | null> {
  const decoder = new TextDecoder();
  let pending = "";
  let address: string | null = null;
  let announced: (value: string | null) => void = () => undefined;
  const listening = new Promise<string | null>((resolve) => (announced = resolve));
  void (async () => {
    for await (const bytes of stream) {
      pending += decoder.decode(bytes, { stream: true });
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        const record = JSON.parse(line) as { msg?: string; address?: string };
        if (address === null && record.msg === "listening" && record.address !== undefined) {
          address = record.address;
          announced(address);
        }
      }
    }
    announced(null);
  })();
  return listening;
}

/** Start main.ts and wait (bounded) for its "listening" log line. */
async function startProcess(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Running> {
  const child = Bun.spawn([process.execPath, MAIN, ...args], {
    env: { ...process.env, FTFS_INSECURE: "true", ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  children.push(child);
  const lines: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>(
    (resolve) => (timer = setTimeout(() => resolve(null), READY_TIMEOUT_MS)),
  );
  const address = await Promise.race([pumpLines(child.stderr, lines), timeout]);
  clearTimeout(timer);
  if (address === null) {
    throw new Error(`directory did not report listening; stderr:\n${lines.join("\n")}`);
  }
  return { child, address, lines };
}

describe("flags", () => {
  test("flags, environment twins and defaults", () => {
    const config = parseConfig(["--node", "d1", "--listen", "127.0.0.1:7101"], {
      FTFS_DATA: "/tmp/d",
      FTFS_JOIN: "127.0.0.1:7102, 127.0.0.1:7103",
      FTFS_CHUNK_BYTES: "1MiB",
      FTFS_REREPLICATION_GRACE: "90s",
      FTFS_REBALANCE_RATE: "8MiB/s",
      FTFS_INSECURE: "true",
    });
    expect(config).toMatchObject({
      node: "d1",
      listen: "127.0.0.1:7101",
      data: "/tmp/d",
      join: ["127.0.0.1:7102", "127.0.0.1:7103"],
      expect: 1,
      chunkBytes: 1024 * 1024,
      rereplicationGraceMs: 90_000,
      rebalanceBytesPerSecond: 8 * 1024 * 1024,
      security: { insecure: true },
    });
    const base = ["--node", "d1", "--listen", "127.0.0.1:1", "--data", "/x", "--insecure"];
    expect(parseConfig([...base, "--join", ""], {})).toMatchObject({ join: [] });
    expect(parseConfig([...base, "--expect", "3"], {})).toMatchObject({ expect: 3 });
    expect(parseConfig(base, {})).toMatchObject({ rebalanceBytesPerSecond: 64 * 1024 * 1024 });
    expect(parseConfig(["--help"], {})).toBe("help");
  });

  for (const [args, fragment] of [
    [
      ["--node", "d1", "--listen", "127.0.0.1:1", "--data", "/x", "--bogus", "1"],
      "unknown flag --bogus",
    ],
    [["--listen", "127.0.0.1:1", "--data", "/x"], "--node"],
    [["--node", "d/1", "--listen", "127.0.0.1:1", "--data", "/x"], "--node"],
    [["--node", "d1", "--listen", "nowhere", "--data", "/x"], "--listen"],
    [["--node", "d1", "--listen", "127.0.0.1:1", "--data", "/x", "--expect", "2"], "--expect"],
    [["--node", "d1", "--listen", "127.0.0.1:1", "--data", "/x", "--join", "a,b"], "--join"],
    [
      ["--node", "d1", "--listen", "127.0.0.1:1", "--data", "/x", "--chunk-bytes", "1"],
      "--chunk-bytes",
    ],
    [
      ["--node", "d1", "--listen", "127.0.0.1:1", "--data", "/x", "--rereplication-grace", "1d"],
      "--rereplication-grace",
    ],
    [
      ["--node", "d1", "--listen", "127.0.0.1:1", "--data", "/x", "--rebalance-rate", "1KiB"],
      "--rebalance-rate",
    ],
    [["--node", "d1", "--listen", "127.0.0.1:1", "--data", "/x"], "no cluster key"],
    [
      [
        "--node",
        "d1",
        "--listen",
        "127.0.0.1:1",
        "--data",
        "/x",
        "--insecure",
        "--cluster-key",
        Buffer.alloc(32, 7).toString("base64"),
      ],
      "exclude each other",
    ],
    [
      ["--node", "d1", "--listen", "127.0.0.1:1", "--data", "/x", "--cluster-key-file", "/nowhere"],
      "--cluster-key-file: cannot read /nowhere",
    ],
  ] as const) {
    test(`refuses ${args.join(" ")}`, () => {
      expect(() => parseConfig(args, {})).toThrow(fragment);
    });
  }
});

describe("the process", () => {
  test("a bad flag is one line on stderr and status 2; --help is status 0", async () => {
    const bad = await runToEnd([MAIN, "--node", "d1", "--bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toEqual([
      "ftfs-directory: unknown flag --bogus; see --help",
    ]);
    const help = await runToEnd(["run", "apps/directory", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("FTFS_CHUNK_BYTES");
  });

  test("serves, stops cleanly on SIGTERM, and remembers its users after a restart", async () => {
    const data = tempDir();
    const first = await startProcess(["--listen", "127.0.0.1:0"], {
      FTFS_NODE: "d7",
      FTFS_DATA: data,
    });
    const client = await RpcClient.connect(first.address);
    expect((await client.call("connect", { uid: "alice" })).body).toMatchObject({
      created: true,
      node: "d7",
    });
    client.close();
    first.child.kill("SIGTERM");
    expect(await first.child.exited).toBe(0);

    const second = await startProcess(["--node", "d7", "--listen", "127.0.0.1:0", "--data", data]);
    const again = await RpcClient.connect(second.address);
    expect((await again.call("connect", { uid: "alice" })).body.created).toBe(false);
    again.close();
    second.child.kill("SIGINT");
    expect(await second.child.exited).toBe(0);
  });

  test("with --expect 3 and nobody else, it serves nothing and says the group is forming", async () => {
    const alone = await startProcess(["--listen", "127.0.0.1:0", "--expect", "3"], {
      FTFS_NODE: "d8",
      FTFS_DATA: tempDir(),
    });
    const client = await RpcClient.connect(alone.address);
    const refused = await client.call("connect", { uid: "alice" }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(FtfsError);
    const error = refused as FtfsError;
    expect([error.code, error.message]).toEqual([
      "UNAVAILABLE",
      "directory group is forming: 1 of 3 directory nodes seen; retry",
    ]);
    client.close();
    alone.child.kill("SIGTERM");
    expect(await alone.child.exited).toBe(0);
  });
});
