/**
 * The seed's five commands, kept as they were, against real processes: `c` connects and names
 * the primary, `a` uploads several files (an empty one, a multi-chunk one), `r` returns the
 * exact bytes, `d` lists name/size/version, `d --from storage` agrees; an update makes v2 and
 * `r` returns the new bytes; `rm` then `r` is a clear error. Also the friendly forms, `--json`,
 * `status` and the interactive shell over stdin.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { FTFS_MAIN } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  expectOk,
  expectOneLineError,
  KIB,
  randomBytes,
  sha256,
  text,
  E2E_TEST_TIMEOUT_MS,
  useCluster,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const fx = useCluster({
  directories: 3,
  groups: [
    { name: "s1", size: 2 },
    { name: "s2", size: 2 },
  ],
  chunkBytes: E2E_CHUNK_BYTES,
});

interface StatusJson {
  node: string;
  members: Array<{ node: string; role: string; address: string; state: string; primary: boolean }>;
  groups: Array<{ group: string; primary: string | null }>;
}

async function statusJson(): Promise<StatusJson> {
  return JSON.parse(text(expectOk(await fx.ws.ftfs(["status", "--json"])))) as StatusJson;
}

const multiChunk = randomBytes(5 * E2E_CHUNK_BYTES + 777);
const notes = "first version of the notes\n";

describe("the seed's commands", () => {
  test("c connects, prints the primary, and saves the session (mode 0600)", async () => {
    const run = expectOk(
      await fx.ws.ftfs(["alice", "c", "--cluster", fx.cluster.directoryAddresses.join(",")]),
    );
    expect(text(run)).toMatch(/^connected as alice \(new user\); primary directory node d\d at /);
    const session = JSON.parse(await readFile(join(fx.ws.configDir, "session.json"), "utf8")) as {
      uid: string;
    };
    expect(session.uid).toBe("alice");
    expect((await stat(join(fx.ws.configDir, "session.json"))).mode & 0o777).toBe(0o600);
  });

  test("c through any one directory address finds the same primary", async () => {
    const primaries = new Set<string>();
    for (const address of fx.cluster.directoryAddresses) {
      const run = expectOk(await fx.ws.ftfs(["alice", "c", "--cluster", address]));
      primaries.add(/primary directory node (\S+ at \S+)/.exec(text(run))?.[1] ?? "none");
    }
    expect(primaries.size).toBe(1);
    // Leave the session on the whole cluster for the tests that follow.
    expectOk(
      await fx.ws.ftfs(["alice", "c", "--cluster", fx.cluster.directoryAddresses.join(",")]),
    );
  });

  test("a uploads several files, one line each; d lists them; d --from storage agrees", async () => {
    const paths = [
      await fx.ws.file("notes.txt", notes),
      await fx.ws.file("empty.txt", new Uint8Array(0)),
      await fx.ws.file("big.bin", multiChunk),
    ];
    const run = expectOk(await fx.ws.ftfs(["alice", "a", ...paths]));
    const lines = text(run).trim().split("\n");
    expect(lines).toEqual([
      `uploaded notes.txt  v1  ${notes.length} B  sha256:${sha256(notes).slice(0, 8)}…`,
      `uploaded empty.txt  v1  0 B  sha256:${sha256("").slice(0, 8)}…`,
      `uploaded big.bin  v1  320.8 KiB  sha256:${sha256(multiChunk).slice(0, 8)}…`,
    ]);
    const listing = text(expectOk(await fx.ws.ftfs(["alice", "d"])));
    expect(listing).toMatch(/^name\s+size\s+version\s+time$/m);
    expect(listing).toMatch(/^big\.bin\s+320\.8 KiB\s+v1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);
    expect(listing).toMatch(/^empty\.txt\s+0 B\s+v1\s/m);
    expect(listing).toMatch(/^notes\.txt\s+27 B\s+v1\s/m);
    const fromStorage = JSON.parse(
      text(expectOk(await fx.ws.ftfs(["alice", "d", "--from", "storage", "--json"]))),
    ) as Array<{
      name: string;
      version: number;
      bytes: number;
      chunks: number;
      groups: string[];
    }>;
    // A zero-byte file has no chunks, so no storage node holds anything of it: it is listed
    // (as d lists it) with none, and no group.
    const rows = fromStorage.map((file) => [file.name, file.version, file.bytes, file.chunks]);
    expect(rows).toEqual([
      ["big.bin", 1, multiChunk.length, Math.ceil(multiChunk.length / E2E_CHUNK_BYTES)],
      ["empty.txt", 1, 0, 0],
      ["notes.txt", 1, notes.length, 1],
    ]);
    expect(fromStorage.find((file) => file.name === "empty.txt")?.groups).toEqual([]);
  });

  test("r writes the exact bytes to stdout, for one chunk, many chunks and none", async () => {
    expect(sha256(expectOk(await fx.ws.ftfs(["alice", "r", "big.bin"])).stdout)).toBe(
      sha256(multiChunk),
    );
    expect(text(expectOk(await fx.ws.ftfs(["alice", "r", "notes.txt"])))).toBe(notes);
    expect(expectOk(await fx.ws.ftfs(["alice", "r", "empty.txt"])).stdout.length).toBe(0);
  });

  test("r into a reader that goes away (`| head`) ends quietly with status 141", async () => {
    const child = Bun.spawn([process.execPath, FTFS_MAIN, "alice", "r", "big.bin"], {
      env: { ...process.env, FTFS_CONFIG_DIR: fx.ws.configDir, FTFS_CLUSTER: "" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = child.stdout.getReader();
    await reader.read(); // some bytes arrived; now hang up, as `head -c` does
    await reader.cancel();
    const [exitCode, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect({ exitCode, stderr }).toEqual({ exitCode: 141, stderr: "" });
  });

  test("uploading an existing name makes v2, and r returns the new bytes", async () => {
    const updated = randomBytes(3 * E2E_CHUNK_BYTES);
    const path = await fx.ws.file("notes.txt", updated);
    expect(text(expectOk(await fx.ws.ftfs(["alice", "a", path])))).toContain(
      "uploaded notes.txt  v2  192.0 KiB",
    );
    expect(sha256(expectOk(await fx.ws.ftfs(["alice", "r", "notes.txt"])).stdout)).toBe(
      sha256(updated),
    );
    expect(text(expectOk(await fx.ws.ftfs(["alice", "d"])))).toMatch(
      /^notes\.txt\s+192\.0 KiB\s+v2\s/m,
    );
  });
});

describe("the friendly forms", () => {
  test("put --as, get -o, ls --json, rm; then get is a clear error", async () => {
    const bytes = randomBytes(100 * KIB);
    const path = await fx.ws.file("local-name.bin", bytes);
    expect(text(expectOk(await fx.ws.ftfs(["put", path, "--as", "remote.bin"])))).toContain(
      "uploaded remote.bin  v1",
    );
    const out = join(fx.ws.folder, "fetched.bin");
    expect(text(expectOk(await fx.ws.ftfs(["get", "remote.bin", "-o", out])))).toContain(
      `to ${out}`,
    );
    expect(sha256(await readFile(out))).toBe(sha256(bytes));
    const files = JSON.parse(text(expectOk(await fx.ws.ftfs(["ls", "--json"])))) as Array<{
      name: string;
      sha256: string;
    }>;
    expect(files.find((file) => file.name === "remote.bin")?.sha256).toBe(sha256(bytes));
    expect(text(expectOk(await fx.ws.ftfs(["rm", "remote.bin"])))).toContain("removed remote.bin");
    expectOneLineError(await fx.ws.ftfs(["get", "remote.bin", "-o", "-"]), /remote\.bin/);
    expectOneLineError(await fx.ws.ftfs(["alice", "r", "remote.bin"]), /remote\.bin/);
    const after = JSON.parse(text(expectOk(await fx.ws.ftfs(["ls", "--json"])))) as Array<{
      name: string;
    }>;
    expect(after.map((file) => file.name)).not.toContain("remote.bin");
  });

  test("status lists every storage node, the primary directory and the groups; --json parses", async () => {
    const status = await statusJson();
    const primary = status.members.find((member) => member.node === status.node);
    expect(primary).toMatchObject({ role: "directory", state: "alive", primary: true });
    const storage = fx.cluster.nodes.filter((node) => node.role === "storage");
    for (const node of [...storage, fx.cluster.node(status.node)]) {
      const member = status.members.find((candidate) => candidate.node === node.id);
      expect(member).toMatchObject({ role: node.role, address: node.address, state: "alive" });
    }
    expect(status.groups.map((group) => group.group).sort()).toEqual(["s1", "s2"]);
    for (const group of status.groups) expect(group.primary).not.toBeNull();
    const table = text(expectOk(await fx.ws.ftfs(["status"])));
    // The verdict comes first: every group whole and every member alive.
    expect(table.split("\n")[0]).toMatch(/^healthy \(answered by d\d\)$/);
    for (const node of storage) expect(table).toMatch(new RegExp(`^${node.id}\\s+storage\\s`, "m"));
  });

  test("admin storage ls: every storage node, its group, primary or in sync, used and free", async () => {
    const table = text(expectOk(await fx.ws.ftfs(["admin", "storage", "ls"])));
    const rows = table
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => line.split(/\s{2,}/));
    const storage = fx.cluster.nodes.filter((node) => node.role === "storage");
    expect(rows.map((row) => row[0]).sort()).toEqual(storage.map((node) => node.id).sort());
    for (const group of ["s1", "s2"]) {
      const roles = rows.filter((row) => row[1] === group).map((row) => row[2]);
      expect(roles.filter((role) => role === "primary")).toHaveLength(1);
      expect(roles.filter((role) => role !== "primary").every((role) => role === "in sync")).toBe(
        true,
      );
    }
    for (const row of rows) expect(row[3]).toBe("alive");
  });

  // Known gap on the server side: the directory primary does not list its directory peers
  // yet (membership comes with gossip), and backups answer clusterStatus with NOT_PRIMARY.
  // This test states the contract and is expected to fail until then: make it a plain
  // `test` when it starts passing.
  test("status lists every directory node too", async () => {
    const status = await statusJson();
    for (const node of fx.cluster.nodes.filter((candidate) => candidate.role === "directory")) {
      expect(status.members.find((member) => member.node === node.id)).toMatchObject({
        role: "directory",
        state: "alive",
      });
    }
  });

  test("--help works everywhere and exits 0", async () => {
    for (const args of [
      ["--help"],
      ["put", "--help"],
      ["alice", "a", "--help"],
      ["help", "status"],
    ]) {
      const run = expectOk(await fx.ws.ftfs(args));
      expect(text(run)).toContain("usage: ftfs");
    }
  });
});

describe("the interactive shell", () => {
  test("runs seed lines over one connection; an error prints a line and the prompt goes on", async () => {
    const path = await fx.ws.file("shell.txt", "typed into the shell\n");
    const script = [
      "bob c",
      `bob a ${path}`,
      "bob r shell.txt",
      "frobnicate",
      "bob d",
      "exit",
      "bob d",
    ].join("\n");
    const run = await fx.ws.ftfs(["shell", "--cluster", fx.cluster.directoryAddresses.join(",")], {
      stdin: `${script}\n`,
    });
    expect(run.exitCode).toBe(0);
    const out = text(run);
    expect(out).toContain("connected as bob (new user)");
    expect(out).toContain("uploaded shell.txt  v1");
    expect(out).toContain("typed into the shell\n");
    expect(out).toMatch(/^shell\.txt\s+21 B\s+v1\s/m);
    expect(out.match(/^name\s+size/gm)?.length).toBe(1); // `exit` ended it before the last `bob d`
    expect(run.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^ftfs: unknown command 'frobnicate'/),
    ]);
  });

  test("`ftfs` with no arguments is the shell too, and ends at end of input", async () => {
    const run = await fx.ws.ftfs([], { stdin: "bob d\n" });
    expect(run.exitCode).toBe(0);
    expect(text(run)).toMatch(/^shell\.txt\s/m);
  });
});
