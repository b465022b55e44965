/**
 * Sessions through the real `ftfs` binary on a secure cluster: whoami says who commands act
 * as, until when, on which cluster, and who else is logged in; friendly commands say whom they
 * acted as when the user came from the session; logout forgets a login here and then commands
 * act as nobody rather than as someone else; a session left by another cluster is named as the
 * source of an address nobody answers, never silently trusted. A stream (`put -`) on a secure
 * cluster may store what the user's quota leaves room for, and no more.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { freePort } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  expectOneLineError,
  KIB,
  MIB,
  randomBytes,
  text,
  useCluster,
  wholeLine,
  workspace,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: 2 }],
  chunkBytes: E2E_CHUNK_BYTES,
  secure: true,
});

const secrets = new Map<string, string>();

function env(more: Record<string, string> = {}): { env: Record<string, string> } {
  return { env: { FTFS_CLUSTER: fx.clusterList, ...more } };
}

beforeAll(async () => {
  for (const uid of ["alice", "bob"]) {
    const added = expectOk(
      await fx.ws.ftfs(
        ["admin", "user", "add", uid, "--json"],
        env({ FTFS_CLUSTER_KEY: fx.cluster.clusterKey ?? "" }),
      ),
    );
    secrets.set(uid, (JSON.parse(text(added)) as { secret: string }).secret);
  }
});

test("whoami, the acting user in output, and logout", async () => {
  for (const uid of ["alice", "bob"]) {
    expectOk(await fx.ws.ftfs([uid, "c"], env({ FTFS_SECRET: secrets.get(uid) ?? "" })));
  }
  const who = text(expectOk(await fx.ws.ftfs(["whoami"], env())));
  const cluster = fx.clusterList;
  expect(who).toMatch(
    new RegExp(`^bob, logged in until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d on ${cluster}\\n`),
  );
  expect(who).toContain(`also logged in here: alice (until `);
  expect(who).toContain(`session file: ${join(fx.ws.configDir, "session.json")}`);

  const notes = await fx.ws.file("notes.txt", "bob's notes\n");
  expect(text(expectOk(await fx.ws.ftfs(["put", notes], env())))).toMatch(/ {2}\(as bob\)\n$/);
  expect(text(expectOk(await fx.ws.ftfs(["ls"], env())))).toMatch(/^files of bob\nname/);
  // Named on the command line: alice's own login, and no note.
  expect(text(expectOk(await fx.ws.ftfs(["alice", "d"], env())))).toBe("no files\n");

  expect(text(expectOk(await fx.ws.ftfs(["logout"], env())))).toMatch(
    /^logged out bob .*; still logged in here: alice; commands act as nobody/,
  );
  expectOneLineError(await fx.ws.ftfs(["ls"], env()), /^ftfs: no user: connect first/, 2);
  expect(text(expectOk(await fx.ws.ftfs(["alice", "d"], env())))).toBe("no files\n");
  expectOk(await fx.ws.ftfs(["logout", "--all"], env()));
  expectOneLineError(await fx.ws.ftfs(["whoami"], env()), /^ftfs: nobody is logged in here/);
});

test("a session left by another cluster is named as the source of the address", async () => {
  const ws = await workspace();
  const gone = `127.0.0.1:${await freePort()}`;
  await Bun.write(
    join(ws.configDir, "session.json"),
    JSON.stringify({ uid: "demo", cluster: [gone], primary: null, logins: {} }),
  );
  const secret = { FTFS_SECRET: secrets.get("alice") ?? "" };
  expectOneLineError(
    await ws.ftfs(["alice", "c"], { env: secret }),
    new RegExp(
      `^ftfs: cannot reach the cluster at ${gone}: .* \\(the address is the saved session's, ` +
        `from \`demo c\`, kept in ${join(ws.configDir, "session.json")}; point at another ` +
        "with --cluster or FTFS_CLUSTER, or forget the session: ftfs logout\\)$",
    ),
  );
  expectOk(await ws.ftfs(["logout", "--all"]));
  const connected = await ws.ftfs(["alice", "c", "--cluster", fx.clusterList], { env: secret });
  expect(text(expectOk(connected))).toStartWith("connected as alice;");
});

test("a stream past the user's quota is refused as such; one within it is stored", async () => {
  const ws = await workspace();
  const key = { FTFS_CLUSTER_KEY: fx.cluster.clusterKey ?? "" };
  const added = await ws.ftfs(
    ["admin", "user", "add", "tiny", "--quota-bytes", "1MiB", "--json"],
    env(key),
  );
  const { secret } = JSON.parse(text(expectOk(added))) as { secret: string };
  expectOk(await ws.ftfs(["tiny", "c"], env({ FTFS_SECRET: secret })));
  const small = randomBytes(600 * KIB);
  expectOk(await ws.ftfs(["put", "-", "--as", "small.bin"], { ...env(), stdin: small }));
  const large = await ws.ftfs(["put", "-", "--as", "large.bin"], {
    ...env(),
    stdin: randomBytes(3 * MIB),
  });
  expectOneLineError(
    large,
    wholeLine(
      "ftfs: large.bin is larger than the 424.0 KiB the quota leaves room for; " +
        "nothing was committed",
    ),
  );
  const listed = text(expectOk(await ws.ftfs(["tiny", "d"], env())));
  expect(listed).toContain("small.bin");
  expect(listed).not.toContain("large.bin");
});
