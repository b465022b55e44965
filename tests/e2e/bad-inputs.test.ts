/**
 * Bad input gets one clear line on stderr and a non-zero exit, never a stack trace, and the
 * cluster keeps serving everyone else (guarantee 3 of DESIGN.md): a missing local file, an
 * unknown remote name, hostile names (`../x`, `/etc/passwd`, `a/../../b`, empty, NUL, 300
 * bytes), a user who never connected, and a cluster that is not there.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { freePort } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  expectOk,
  expectOneLineError,
  text,
  E2E_TEST_TIMEOUT_MS,
  useCluster,
  wholeLine,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

let goodFile: string;

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: 2 }],
  chunkBytes: E2E_CHUNK_BYTES,
});

beforeAll(async () => {
  expectOk(await fx.ws.ftfs(["carol", "c", "--cluster", fx.clusterList]));
  goodFile = await fx.ws.file("good.txt", "a good file\n");
  expectOk(await fx.ws.ftfs(["carol", "a", goodFile]));
});

/** After every bad input the cluster still answers a good request. */
async function expectStillServing(): Promise<void> {
  expect(text(expectOk(await fx.ws.ftfs(["carol", "r", "good.txt"])))).toBe("a good file\n");
}

// A name may be file names joined by "/" (a folder's files, `put -r`), never a part that climbs.
const HOSTILE_NAMES: ReadonlyArray<[string, RegExp]> = [
  ["../x", /^ftfs: name '\.\.\/x': file name '\.\.' is not allowed$/],
  ["/etc/passwd", /^ftfs: name '\/etc\/passwd' has an empty part/],
  ["a/../../b", /file name '\.\.' is not allowed/],
  ["a\\b", /path separator/],
  ["", /empty/],
  ["x".repeat(300), /longer than 255 bytes/],
  ["..", /not allowed/],
];

describe("bad input is one clear line, and the cluster keeps serving", () => {
  test("a missing local file", async () => {
    expectOneLineError(
      await fx.ws.ftfs(["carol", "a", "/no/such/file.txt"]),
      /^ftfs: \/no\/such\/file\.txt: no such file$/,
    );
    expectOneLineError(await fx.ws.ftfs(["put", "/no/such/file.txt"]), /no such file/);
    await expectStillServing();
  });

  test("one missing file among several: the others upload, the exit status says it failed", async () => {
    const run = await fx.ws.ftfs(["carol", "a", goodFile, "/no/such/other.txt"]);
    expect(run.exitCode).toBe(1);
    expect(text(run)).toContain("uploaded good.txt  v2");
    expect(run.stderr).toBe("ftfs: /no/such/other.txt: no such file\n");
  });

  test("an unknown remote name", async () => {
    expectOneLineError(
      await fx.ws.ftfs(["carol", "r", "never-uploaded.txt"]),
      /never-uploaded\.txt/,
    );
    expectOneLineError(await fx.ws.ftfs(["rm", "never-uploaded.txt"]), /never-uploaded\.txt/);
    await expectStillServing();
  });

  test("hostile names, for uploads (put --as) and reads (r)", async () => {
    for (const [name, reason] of HOSTILE_NAMES) {
      expectOneLineError(await fx.ws.ftfs(["put", goodFile, "--as", name]), reason);
      expectOneLineError(await fx.ws.ftfs(["carol", "r", name]), reason);
    }
    await expectStillServing();
  });

  test("a name with a NUL byte (argv cannot carry one, so through the shell)", async () => {
    const run = await fx.ws.ftfs(["shell"], {
      stdin: `put ${goodFile} --as a\u0000b\ncarol r a\u0000b\n`,
    });
    expect(run.stderr.trim().split("\n")).toEqual([
      "ftfs: file name contains a NUL byte",
      "ftfs: file name contains a NUL byte",
    ]);
    await expectStillServing();
  });

  test("a hostile user id", async () => {
    expectOneLineError(await fx.ws.ftfs(["../root", "c"]), /user id/);
    expectOneLineError(await fx.ws.ftfs(["ls", "--user", "a/b"]), /user id/);
  });

  test("a user who never connected", async () => {
    expectOneLineError(await fx.ws.ftfs(["mallory", "d"]), /mallory.*connect first/);
    expectOneLineError(await fx.ws.ftfs(["mallory", "a", goodFile]), /mallory/);
    expectOneLineError(await fx.ws.ftfs(["mallory", "r", "good.txt"]), /mallory/);
    await expectStillServing();
  });

  test("usage errors exit 2", async () => {
    expectOneLineError(await fx.ws.ftfs(["carol", "x"]), /unknown action 'x'/, 2);
    expectOneLineError(await fx.ws.ftfs(["carol", "r"]), /exactly one/, 2);
    expectOneLineError(await fx.ws.ftfs(["ls", "--bogus"]), /unknown flag --bogus/, 2);
  });

  test("a cluster that is not running", async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const startedMs = Date.now();
    const run = await fx.ws.ftfs(["carol", "d", "--cluster", nobody]);
    expectOneLineError(
      run,
      new RegExp(
        `^ftfs: cannot reach the cluster at ${nobody}: nothing listens at ${nobody} ` +
          "\\(connection refused\\); is it running\\? \\(the address came from --cluster\\)$",
      ),
    );
    expect(Date.now() - startedMs).toBeLessThan(10_000);
    await expectStillServing();
  });

  test("a wrong address says what is there: a storage node, a web server, no host", async () => {
    const storage = fx.cluster.nodes.find((node) => node.role === "storage")?.address ?? "";
    expectOneLineError(
      await fx.ws.ftfs(["carol", "d", "--cluster", storage]),
      new RegExp(
        `^ftfs: ${storage} is a storage node, not a directory node; give a directory node's ` +
          "address \\(the address came from --cluster\\)$",
      ),
    );
    const web = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello") });
    try {
      const address = `127.0.0.1:${web.port}`;
      expectOneLineError(
        await fx.ws.ftfs(["carol", "d"], { env: { FTFS_CLUSTER: address } }),
        new RegExp(
          `^ftfs: ${address} is not an FTFS node \\(it answered HTTP\\) ` +
            "\\(the address came from FTFS_CLUSTER\\)$",
        ),
      );
    } finally {
      web.stop(true);
    }
    expectOneLineError(
      await fx.ws.ftfs(["carol", "d", "--cluster", "no-such-host.invalid:7101"]),
      wholeLine(
        "ftfs: cannot reach the cluster at no-such-host.invalid:7101: no such host " +
          "'no-such-host.invalid' (the name does not resolve) (the address came from --cluster)",
      ),
    );
    await expectStillServing();
  });
});
