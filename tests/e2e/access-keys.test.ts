/**
 * S3 access keys end to end, through the real `ftfs` binary on a secure cluster: a user makes
 * its own key and sees the secret once; the directory keeps it only sealed (the database file
 * never holds it) and hands the sealed form to a node, which opens it with the cluster key; a
 * user cannot touch another's keys, an admin can; a removed key and a removed user's keys
 * resolve no more; bad input gets one line.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { FtfsClient } from "@ftfs/client";
import { fromBase64Url } from "@ftfs/protocol/core";
import { Keyring, openAccessKeySecret } from "@ftfs/protocol/io";
import { E2E_TEST_TIMEOUT_MS, expectOk, expectOneLineError, text, useCluster } from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const fx = useCluster({ directories: 1, groups: [{ name: "s1", size: 1 }], secure: true });

function clusterKey(): string {
  const key = fx.cluster.clusterKey;
  if (key === null) throw new Error("the cluster was started without a key");
  return key;
}

function ftfs(args: readonly string[], env: Record<string, string> = {}) {
  return fx.ws.ftfs(args, {
    env: { FTFS_CLUSTER: fx.cluster.directoryAddresses.join(","), ...env },
  });
}

const asAdmin = () => ({ FTFS_CLUSTER_KEY: clusterKey() });

async function addAndLogIn(uid: string): Promise<void> {
  const added = expectOk(await ftfs(["admin", "user", "add", uid, "--json"], asAdmin()));
  const { secret } = JSON.parse(text(added)) as { secret: string };
  expectOk(await ftfs([uid, "c"], { FTFS_SECRET: secret }));
}

/** The gateway's view: a node client resolving the id, opening the seal with the key. */
async function resolve(accessKeyId: string): Promise<{ uid: string; secret: string | null }> {
  const keyring = Keyring.parse(clusterKey());
  const node = new FtfsClient({
    directories: fx.cluster.directoryAddresses,
    credentials: { kind: "node", node: "s3-gateway-test", keyring },
    retryDeadlineMs: 2_000,
  });
  try {
    const { uid, sealed } = await node.resolveAccessKey(accessKeyId);
    return { uid, secret: openAccessKeySecret(keyring, accessKeyId, sealed) };
  } finally {
    node.close();
  }
}

/** A library client holding `uid`'s saved session, as a program of that user could. */
async function clientWithSessionOf(uid: string): Promise<FtfsClient> {
  const saved = JSON.parse(await readFile(join(fx.ws.configDir, "session.json"), "utf8")) as {
    logins: Record<string, { token: string; sessionKey: string }>;
  };
  const login = saved.logins[uid];
  if (login === undefined) throw new Error(`no saved session for ${uid}`);
  return new FtfsClient({
    directories: fx.cluster.directoryAddresses,
    credentials: {
      kind: "user",
      token: login.token,
      sessionKey: fromBase64Url(login.sessionKey) ?? new Uint8Array(),
    },
    retryDeadlineMs: 2_000,
  });
}

async function databaseBytes(): Promise<string> {
  const directory = fx.cluster.nodes.find((node) => node.role === "directory");
  if (directory === undefined) throw new Error("no directory node");
  const files = await readdir(directory.dataDir);
  const parts = await Promise.all(
    files
      .filter((file) => file.startsWith("directory.sqlite"))
      .map((file) => readFile(join(directory.dataDir, file))),
  );
  return Buffer.concat(parts).toString("latin1");
}

test("a user's own key: the secret once, kept sealed, opened by a node, removed for good", async () => {
  await addAndLogIn("alice");
  // After `alice c` the session's user is alice: `ftfs key create` needs no --user.
  const created = expectOk(await ftfs(["key", "create"]));
  const lines = text(created).trim().split("\n");
  expect(lines[0]).toMatch(/^created access key FTFS[A-Z2-7]{16} for user alice; its secret/);
  const accessKeyId = /FTFS[A-Z2-7]{16}/.exec(lines[0] ?? "")?.[0] ?? "";
  const secret = lines[1] ?? "";
  expect(secret).toMatch(/^[A-Za-z0-9_-]{40}$/);

  const listed = expectOk(await ftfs(["key", "ls", "--user", "alice"]));
  expect(text(listed)).toContain(accessKeyId);
  expect(text(listed)).not.toContain(secret);
  expect(await resolve(accessKeyId)).toEqual({ uid: "alice", secret });
  expect(await databaseBytes()).not.toContain(secret);

  expectOk(await ftfs(["key", "rm", accessKeyId, "--user", "alice"]));
  expect(text(expectOk(await ftfs(["key", "ls", "--user", "alice"])))).toContain("no access keys");
  await expect(resolve(accessKeyId)).rejects.toThrow(/no access key/);
  expectOneLineError(
    await ftfs(["key", "rm", accessKeyId, "--user", "alice"]),
    /no access key FTFS[A-Z2-7]{16} for user 'alice'/,
  );
});

test("another user's keys are out of reach; an admin manages anyone's; a removed user's go", async () => {
  await addAndLogIn("bob");
  const made = expectOk(await ftfs(["admin", "key", "create", "bob", "--json"], asAdmin()));
  const bobKey = JSON.parse(text(made)) as { accessKeyId: string; secret: string; uid: string };
  expect(bobKey.uid).toBe("bob");
  // alice's own session may not list, make or remove bob's keys.
  const alice = await clientWithSessionOf("alice");
  try {
    await expect(alice.keyList("bob")).rejects.toThrow(
      /user alice may not manage the access keys of bob/,
    );
    await expect(alice.keyCreate("bob")).rejects.toThrow(/may not manage/);
    await expect(alice.keyRemove("bob", bobKey.accessKeyId)).rejects.toThrow(/may not manage/);
  } finally {
    alice.close();
  }
  // Nor may a user that is not an admin reach others' keys through `admin key` (bob, the
  // session's user now, asks for alice's).
  expectOneLineError(
    await ftfs(["admin", "key", "ls", "alice"]),
    /user bob may not manage the access keys of alice/,
  );
  const listed = expectOk(await ftfs(["admin", "key", "ls", "bob", "--json"], asAdmin()));
  expect((JSON.parse(text(listed)) as { accessKeyId: string }[]).map((k) => k.accessKeyId)).toEqual(
    [bobKey.accessKeyId],
  );
  expect((await resolve(bobKey.accessKeyId)).secret).toBe(bobKey.secret);
  expectOk(await ftfs(["admin", "user", "rm", "bob"], asAdmin()));
  await expect(resolve(bobKey.accessKeyId)).rejects.toThrow(/no access key/);
});

test("bad input: one line and a usage status", async () => {
  expectOneLineError(await ftfs(["key", "rm"]), /key rm takes an access key id/, 2);
  expectOneLineError(await ftfs(["admin", "key", "create"]), /admin key create takes one uid/, 2);
  expectOneLineError(await ftfs(["key", "frobnicate"]), /key takes: create, ls, rm/, 2);
  expectOneLineError(
    await ftfs(["admin", "key", "rm", "alice", "not-a-key"], asAdmin()),
    /'not-a-key' is not an access key id/,
  );
});
