/**
 * Users of a secure cluster, end to end through the real `ftfs` binary: an admin (the cluster
 * key) adds users and gets each secret once; a wrong secret or an unknown user is refused with
 * the same line; one `c` per user logs in and the seed's commands work; the session file is
 * 0600 and holds no secret; one user's session cannot read, list, update or delete another's
 * files; a removed user's saved session and an expired one are refused with one line; quotas
 * (bytes and files) refuse an upload with one line and commit nothing.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fromBase64Url, issueToken } from "@ftfs/protocol/core";
import { Keyring, NODE_HASHES } from "@ftfs/protocol/io";
import { FtfsClient } from "@ftfs/client";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  expectOneLineError,
  KIB,
  randomBytes,
  sha256,
  text,
  useCluster,
  workspace,
  wholeLine,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const fx = useCluster({
  directories: 1,
  groups: [{ name: "s1", size: 2 }],
  chunkBytes: E2E_CHUNK_BYTES,
  secure: true,
});

/** `ftfs` in the shared workspace, pointed at this cluster. */
function ftfs(args: readonly string[], env: Record<string, string> = {}) {
  return fx.ws.ftfs(args, {
    env: { FTFS_CLUSTER: fx.cluster.directoryAddresses.join(","), ...env },
  });
}

function clusterKey(): string {
  const key = fx.cluster.clusterKey;
  if (key === null) throw new Error("the cluster was started without a key");
  return key;
}

/** `ftfs admin user add` with the cluster key; answers the secret it printed once. */
async function addUser(uid: string, flags: readonly string[] = []): Promise<string> {
  const run = expectOk(
    await ftfs(["admin", "user", "add", uid, ...flags, "--json"], {
      FTFS_CLUSTER_KEY: clusterKey(),
    }),
  );
  const answer = JSON.parse(text(run)) as { secret: string; uid: string };
  expect(answer.uid).toBe(uid);
  return answer.secret;
}

interface SavedSession {
  uid: string;
  logins: Record<string, { token: string; sessionKey: string; expiresAtMs: number }>;
}

async function savedSession(configDir = fx.ws.configDir): Promise<SavedSession> {
  return JSON.parse(await readFile(join(configDir, "session.json"), "utf8")) as SavedSession;
}

/** A library client holding `uid`'s saved session, as a hostile local program could. */
async function clientWithSessionOf(uid: string): Promise<FtfsClient> {
  const login = (await savedSession()).logins[uid];
  if (login === undefined) throw new Error(`no saved session for ${uid}`);
  const sessionKey = fromBase64Url(login.sessionKey) ?? new Uint8Array();
  return new FtfsClient({
    directories: fx.cluster.directoryAddresses,
    credentials: { kind: "user", token: login.token, sessionKey },
    retryDeadlineMs: 2_000,
  });
}

async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return error instanceof Error && "code" in error ? String(error.code) : String(error);
  }
}

const secrets = new Map<string, string>();
const notes = "alice's notes\n";
const bobFile = randomBytes(3 * E2E_CHUNK_BYTES + 5);

describe("users of a secure cluster", () => {
  test("an admin adds users; each secret is printed once and never stored", async () => {
    secrets.set("alice", await addUser("alice"));
    secrets.set("bob", await addUser("bob"));
    secrets.set("carol", await addUser("carol", ["--quota-bytes", "100KiB", "--quota-files", "2"]));
    const listed = expectOk(
      await ftfs(["admin", "user", "ls"], { FTFS_CLUSTER_KEY: clusterKey() }),
    );
    expect(text(listed)).toContain("carol");
    expect(text(listed)).toContain("100.0 KiB");
    expect(text(listed)).not.toContain(secrets.get("alice") ?? "?");
  });

  test("without the key or an admin session, admin commands are refused", async () => {
    const run = await ftfs(["admin", "user", "add", "mallory"]);
    expectOneLineError(
      run,
      wholeLine(
        "ftfs: `ftfs admin user add` was refused: that needs an administrator, which an " +
          "anonymous caller is not; log in as an administrator (`ftfs <admin uid> c`) or give " +
          "the cluster key (--cluster-key-file PATH or FTFS_CLUSTER_KEY_FILE)",
      ),
    );
  });

  test("a wrong secret and an unknown user get the same refusal", async () => {
    const wrong = await ftfs(["alice", "c"], { FTFS_SECRET: "not-the-secret" });
    expectOneLineError(wrong, /^ftfs: login as alice failed: unknown user or wrong secret$/m);
    const unknown = await ftfs(["nobody", "c"], { FTFS_SECRET: "anything" });
    expectOneLineError(unknown, /^ftfs: login as nobody failed: unknown user or wrong secret$/m);
    const none = await ftfs(["alice", "c"]);
    expectOneLineError(none, /needs its secret: set FTFS_SECRET/, 2);
  });

  test("one c per user, then the seed's commands work through the real binary", async () => {
    for (const uid of ["alice", "bob"]) {
      const run = expectOk(await ftfs([uid, "c"], { FTFS_SECRET: secrets.get(uid) ?? "" }));
      expect(text(run)).toMatch(new RegExp(`^connected as ${uid}; primary directory node d1`));
    }
    const notesPath = await fx.ws.file("notes.txt", notes);
    const bobPath = await fx.ws.file("bob.bin", bobFile);
    expectOk(await ftfs(["alice", "a", notesPath]));
    expectOk(await ftfs(["bob", "a", bobPath]));
    expect(text(expectOk(await ftfs(["alice", "r", "notes.txt"])))).toBe(notes);
    const read = expectOk(await ftfs(["bob", "r", "bob.bin"]));
    expect(sha256(read.stdout)).toBe(sha256(bobFile));
    expect(text(expectOk(await ftfs(["alice", "d"])))).toMatch(/notes\.txt\s+14 B\s+v1/);
    const stored = text(expectOk(await ftfs(["bob", "d", "--from", "storage"])));
    expect(stored).toContain("bob.bin");
    expect(stored).not.toContain("notes.txt");
  });

  test("the session file is 0600, holds each user's token and no secret", async () => {
    const path = join(fx.ws.configDir, "session.json");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const content = await readFile(path, "utf8");
    for (const secret of secrets.values()) expect(content).not.toContain(secret);
    const saved = await savedSession();
    expect(Object.keys(saved.logins).sort()).toEqual(["alice", "bob"]);
  });

  test("alice's session cannot read, list, update or delete bob's files", async () => {
    const alice = await clientWithSessionOf("alice");
    try {
      expect(await codeOf(alice.readBytes("bob", "bob.bin"))).toBe("FORBIDDEN");
      expect(await codeOf(alice.list("bob"))).toBe("FORBIDDEN");
      expect(await codeOf(alice.listFromStorage("bob"))).toBe("FORBIDDEN");
      expect(await codeOf(alice.uploadBytes("bob", "bob.bin", randomBytes(10)))).toBe("FORBIDDEN");
      expect(await codeOf(alice.remove("bob", "bob.bin"))).toBe("FORBIDDEN");
      expect(await codeOf(alice.connect("bob"))).toBe("FORBIDDEN");
    } finally {
      alice.close();
    }
    const read = expectOk(await ftfs(["bob", "r", "bob.bin"]));
    expect(sha256(read.stdout)).toBe(sha256(bobFile));
    expect(text(expectOk(await ftfs(["bob", "d"])))).toMatch(/bob\.bin\s+.*v1/);
  });

  test("a non-admin user may not see cluster status; the cluster key may", async () => {
    // The session's user (bob, the last to log in) is not an admin: said so, with what to do.
    expectOneLineError(
      await ftfs(["status"]),
      new RegExp(
        "^ftfs: `ftfs status` was refused: that needs an administrator, which user bob is " +
          "not; log in as an administrator",
      ),
    );
    const status = await ftfs(["status"], { FTFS_CLUSTER_KEY: clusterKey() });
    expect(text(expectOk(status))).toContain("s1");
  });

  test("quotas: past the bytes or the files, one line, and nothing is committed", async () => {
    const ws = await workspace();
    expectOk(
      await ws.ftfs(["carol", "c", "--cluster", fx.cluster.directoryAddresses.join(",")], {
        env: { FTFS_SECRET: secrets.get("carol") ?? "" },
      }),
    );
    expectOk(await ws.ftfs(["carol", "a", await ws.file("one", randomBytes(60 * KIB))]));
    const big = await ws.ftfs(["carol", "a", await ws.file("two", randomBytes(60 * KIB))]);
    expectOneLineError(
      big,
      /^ftfs: 'two' would take user carol past the quota of 100 KiB \(60 KiB used, 120 KiB after\)$/m,
    );
    expectOk(await ws.ftfs(["carol", "a", await ws.file("small", "x")]));
    const third = await ws.ftfs(["carol", "a", await ws.file("three", "y")]);
    expectOneLineError(
      third,
      /^ftfs: 'three' would take user carol past the quota of 2 files \(2 stored\)$/m,
    );
    const listing = text(expectOk(await ws.ftfs(["carol", "d"])));
    expect(listing).not.toContain("two");
    expect(listing).not.toContain("three");
    expect(listing.trim().split("\n")).toHaveLength(3);
  });

  test("an expired session is refused with one line, by the client and by the server", async () => {
    const ws = await workspace();
    const cluster = ["--cluster", fx.cluster.directoryAddresses.join(",")];
    expectOk(
      await ws.ftfs(["bob", "c", ...cluster], { env: { FTFS_SECRET: secrets.get("bob") ?? "" } }),
    );
    const path = join(ws.configDir, "session.json");
    const saved = JSON.parse(await readFile(path, "utf8")) as SavedSession;
    const login = saved.logins.bob;
    if (login === undefined) throw new Error("no session saved for bob");
    // The client knows its session's expiry: it says so without asking.
    login.expiresAtMs = Date.now() - 1;
    await writeFile(path, JSON.stringify(saved));
    expectOneLineError(
      await ws.ftfs(["bob", "d"]),
      /^ftfs: bob's session has expired or was ended: log in again with `ftfs bob c`$/m,
    );
    // A token the cluster signed that has expired, presented as if fresh: the server refuses.
    const claims = JSON.parse(
      new TextDecoder().decode(fromBase64Url(login.token.split(".")[0] ?? "") ?? new Uint8Array()),
    ) as { sessionId: string; generation: number };
    const signing = Keyring.parse(clusterKey()).subKeys("session").signing;
    if (signing === null) throw new Error("no session key");
    const expired = issueToken(NODE_HASHES, signing, {
      uid: "bob",
      sessionId: claims.sessionId,
      admin: false,
      expiresAtMs: Date.now() - 1,
      generation: claims.generation,
    });
    saved.logins.bob = {
      token: expired.token,
      sessionKey: Buffer.from(expired.sessionKey).toString("base64url"),
      expiresAtMs: Date.now() + 60_000,
    };
    await writeFile(path, JSON.stringify(saved));
    expectOneLineError(
      await ws.ftfs(["bob", "d"]),
      /^ftfs: bob's session has expired or was ended: log in again with `ftfs bob c`$/m,
    );
  });

  test("after user rm, the removed user's saved session is refused", async () => {
    expectOk(await ftfs(["alice", "d"]));
    expectOk(await ftfs(["admin", "user", "rm", "alice"], { FTFS_CLUSTER_KEY: clusterKey() }));
    expectOneLineError(
      await ftfs(["alice", "d"]),
      /^ftfs: alice's session has expired or was ended: log in again with `ftfs alice c`$/m,
    );
    const again = await ftfs(["alice", "c"], { FTFS_SECRET: secrets.get("alice") ?? "" });
    expectOneLineError(again, /login as alice failed/);
    // Bob, logged in beside alice, is untouched.
    expectOk(await ftfs(["bob", "d"]));
  });
});
