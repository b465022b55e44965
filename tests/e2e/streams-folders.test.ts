/**
 * Streams and folders through the real `ftfs` binary: `put - --as` stores standard input of
 * any length; `put -r` stores a folder's files as folder/sub/file, which `ls` lists and `get`
 * reads back, and refuses a folder holding what cannot be stored before sending anything;
 * `get` keeps an existing local file unless --force; `--version N` reads an older version.
 * Ctrl-C of `put -` says plainly that a stream cannot resume and that nothing was stored.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FTFS_MAIN } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  pollUntil,
  expectOneLineError,
  MIB,
  randomBytes,
  sha256,
  text,
  useCluster,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const fx = useCluster({
  directories: 1,
  groups: [
    { name: "s1", size: 2 },
    { name: "s2", size: 2 },
  ],
  chunkBytes: E2E_CHUNK_BYTES,
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs(["erin", "c", "--cluster", fx.clusterList]));
});

test("put - stores standard input; without a name it is a usage error", async () => {
  const bytes = randomBytes(3 * MIB + 123);
  const run = expectOk(await fx.ws.ftfs(["put", "-", "--as", "piped.bin"], { stdin: bytes }));
  expect(text(run)).toMatch(
    /^uploaded piped\.bin {2}v1 {2}3\.0 MiB {2}sha256:[0-9a-f]{8}… {2}\(as erin\)\n$/,
  );
  expect(sha256(expectOk(await fx.ws.ftfs(["erin", "r", "piped.bin"])).stdout)).toBe(sha256(bytes));
  expectOneLineError(await fx.ws.ftfs(["put", "-"], { stdin: "x" }), /--as NAME/, 2);
});

test("Ctrl-C of put - says a stream cannot resume and nothing was stored", async () => {
  const child = Bun.spawn([process.execPath, FTFS_MAIN, "put", "-", "--as", "cut.bin"], {
    env: { ...process.env, FTFS_CONFIG_DIR: fx.ws.configDir, FTFS_CLUSTER: "" },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  // Several chunks go out; the stream stays open, as a pipe from a slow producer would.
  child.stdin.write(randomBytes(4 * E2E_CHUNK_BYTES));
  await child.stdin.flush();
  await pollUntil("the stream's first chunks stored", async () => {
    const stored = await fx.client.listFromStorage("erin");
    return stored.some((file) => file.name === "cut.bin" && file.version === null) || undefined;
  });
  child.kill("SIGINT");
  expect(await child.exited).toBe(130);
  expect(await new Response(child.stderr).text()).toBe(
    "ftfs: stopped reading standard input for cut.bin: nothing was stored, and a stream " +
      "cannot resume (it is read only once); run the command again with the whole input\n",
  );
  expect(text(expectOk(await fx.ws.ftfs(["ls"])))).not.toContain("cut.bin");
});

test("put -r stores a folder's files under its name; get reads them back", async () => {
  const album = join(fx.ws.folder, "album");
  await mkdir(join(album, "sub", "deeper"), { recursive: true });
  const big = randomBytes(5 * E2E_CHUNK_BYTES + 9);
  await writeFile(join(album, "a.txt"), "top\n");
  await writeFile(join(album, "sub", "b.bin"), big);
  await writeFile(join(album, "sub", "deeper", "c.txt"), "deep\n");
  await writeFile(join(album, "empty"), "");
  const run = expectOk(await fx.ws.ftfs(["put", "-r", album, "--json"]));
  const names = (JSON.parse(text(run)) as Array<{ name: string }>).map((file) => file.name);
  expect(names).toEqual([
    "album/a.txt",
    "album/empty",
    "album/sub/b.bin",
    "album/sub/deeper/c.txt",
  ]);
  const listed = text(expectOk(await fx.ws.ftfs(["ls"])));
  for (const name of names) expect(listed).toContain(name);

  const read = expectOk(await fx.ws.ftfs(["get", "album/sub/b.bin", "-o", "-"]));
  expect(sha256(read.stdout)).toBe(sha256(big));
  // The last part names the local file, in the working folder.
  const saved = expectOk(
    await fx.ws.ftfs(["get", "album/sub/deeper/c.txt"], { cwd: fx.ws.folder }),
  );
  expect(text(saved)).toMatch(/^saved album\/sub\/deeper\/c\.txt .* to c\.txt {2}\(as erin\)\n$/);
  expect(await readFile(join(fx.ws.folder, "c.txt"), "utf8")).toBe("deep\n");
  await writeFile(join(fx.ws.folder, "c.txt"), "mine\n");
  expectOneLineError(
    await fx.ws.ftfs(["get", "album/sub/deeper/c.txt"], { cwd: fx.ws.folder }),
    /^ftfs: c\.txt already exists; add --force to replace it, or -o another path$/,
  );
  expect(await readFile(join(fx.ws.folder, "c.txt"), "utf8")).toBe("mine\n");
  expectOk(await fx.ws.ftfs(["get", "album/sub/deeper/c.txt", "--force"], { cwd: fx.ws.folder }));
  expect(await readFile(join(fx.ws.folder, "c.txt"), "utf8")).toBe("deep\n");
});

test("a folder holding what cannot be stored is refused whole, before any byte is sent", async () => {
  const odd = join(fx.ws.folder, "odd");
  await mkdir(join(odd, "inner"), { recursive: true });
  await writeFile(join(odd, "fine.txt"), "fine\n");
  await writeFile(join(odd, "back\\slash.txt"), "x");
  await symlink(join(odd, "inner"), join(odd, "loop"));
  const run = await fx.ws.ftfs(["put", "-r", odd]);
  expectOneLineError(
    run,
    new RegExp(
      String.raw`^ftfs: cannot store 2 entries under .*odd: odd/back\\slash\.txt: file name .* ` +
        "contains a path separator; names are one component; odd/loop: a symbolic " +
        String.raw`link to a folder \(links to folders are not followed\); nothing was uploaded`,
    ),
  );
  expect(text(expectOk(await fx.ws.ftfs(["ls"])))).not.toContain("odd/fine.txt");
});

test("get --version N reads an older version still kept", async () => {
  const path = join(fx.ws.folder, "v.txt");
  await writeFile(path, "one\n");
  expectOk(await fx.ws.ftfs(["put", path]));
  await writeFile(path, "two\n");
  expectOk(await fx.ws.ftfs(["put", path]));
  expect(text(expectOk(await fx.ws.ftfs(["get", "v.txt", "--version", "1", "-o", "-"])))).toBe(
    "one\n",
  );
  expect(text(expectOk(await fx.ws.ftfs(["erin", "r", "v.txt"])))).toBe("two\n");
});
