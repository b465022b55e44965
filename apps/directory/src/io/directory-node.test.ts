/**
 * The directory server over real loopback RPC: a user's whole life (connect, place, commit,
 * read, list, update, delete) with the notices storage groups get; every bad input (unknown
 * users, hostile names, manifests that do not add up, missing files) answered with its own
 * code and a clear message while the connection keeps serving; liveness-driven group
 * configuration; spares assigned to a group below its replication factor once the grace has
 * passed (kept across a restart); the term check; and a restart on the same data that
 * remembers everything.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  MULTIPART_UPLOAD_LIFETIME_MS,
  partStoredName,
  type ChunkRef,
  type ResponseBody,
} from "@ftfs/protocol/core";
import type { RpcClient } from "@ftfs/protocol/io";
import { EMPTY_SHA256, UPLOAD_DEADLINE_MS_DEFAULT } from "../core/index.ts";
import { chunk, sha } from "../testing/fixtures.ts";
import { failure, FakeStorage, startHarness, until, type Harness } from "../testing/harness.ts";

const running: Harness[] = [];
const storages: FakeStorage[] = [];
afterEach(async () => {
  for (const harness of running.splice(0)) await harness.stop();
  for (const storage of storages.splice(0)) storage.stop();
});

async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  const harness = await startHarness(options);
  running.push(harness);
  return harness;
}

function fakeStorage(): FakeStorage {
  const storage = new FakeStorage();
  storages.push(storage);
  return storage;
}

async function register(
  client: RpcClient,
  node: string,
  address: string,
  freeBytes = 1_000_000,
  syncedEpoch?: number,
) {
  const group = node.slice(0, 2);
  const body = {
    node,
    group,
    address,
    capacityBytes: 10_000_000,
    usedBytes: 10_000_000 - freeBytes,
    ...(syncedEpoch === undefined ? {} : { syncedEpoch }),
  };
  const answer = (await client.call("registerStorage", body)).body;
  // Every node here names its group, so every answer carries one.
  if (answer.group === undefined) throw new Error(`${node} got no group in the answer`);
  return { ...answer, group: answer.group };
}

type RegisterAnswer = ResponseBody<"registerStorage">;

/** Spare `x1` announces itself: no group named, so the answer may carry none. */
async function registerSpare(client: RpcClient, address: string): Promise<RegisterAnswer> {
  const body = { node: "x1", spare: true, address, capacityBytes: 10_000_000, usedBytes: 0 };
  return (await client.call("registerStorage", body)).body;
}

function commitBody(uid: string, name: string, uploadId: string, chunks: readonly ChunkRef[]) {
  const bytes = chunks.reduce((sum, part) => sum + part.bytes, 0);
  const sha256 = bytes === 0 ? EMPTY_SHA256 : sha(bytes);
  return { uid, name, uploadId, bytes, sha256, chunks };
}

/** Polls, 50 ms apart, for the expiry pass (every 50 ms in the harness) to be seen. */
const EXPIRY_POLLS_MAX = 100;

describe("directory server", () => {
  test("connect creates the user once and names this node as primary", async () => {
    const { client, node } = await start();
    const first = (await client.call("connect", { uid: "alice" })).body;
    expect(first).toEqual({
      uid: "alice",
      created: true,
      node: "d1",
      primary: node.address,
      term: 1,
    });
    expect((await client.call("connect", { uid: "alice" })).body.created).toBe(false);
    expect((await failure(client.call("connect", { uid: "no/slash" }))).code).toBe("INVALID_UID");
  });

  test("with no storage group, placeUpload is UNAVAILABLE, except for an empty file", async () => {
    const { client } = await start();
    await client.call("connect", { uid: "alice" });
    const error = await failure(
      client.call("placeUpload", { uid: "alice", name: "a.txt", bytes: 10 }),
    );
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toContain("no storage group is available");
    const empty = (await client.call("placeUpload", { uid: "alice", name: "e", bytes: 0 })).body;
    expect(empty.groups).toEqual([]);
    const body = { uid: "alice", name: "e", uploadId: empty.uploadId, bytes: 0 };
    const committed = await client.call("commitUpload", {
      ...body,
      sha256: EMPTY_SHA256,
      chunks: [],
    });
    expect(committed.body.version).toBe(1);
  });

  test("a file's life: place, commit, read, list, update, delete, re-upload", async () => {
    const { client } = await start();
    const storage = fakeStorage();
    expect((await register(client, "s1a", storage.address)).group.primary).toBe(storage.address);
    await client.call("connect", { uid: "alice" });

    const placed = (await client.call("placeUpload", { uid: "alice", name: "a.txt", bytes: 30 }))
      .body;
    expect(placed.chunkBytes).toBe(64 * 1024);
    expect(placed.groups.map((group) => [group.group, group.primaryNode])).toEqual([["s1", "s1a"]]);
    const again = (await client.call("placeUpload", { uid: "alice", name: "a.txt", bytes: 30 }))
      .body;
    expect(again.uploadId).not.toBe(placed.uploadId);

    const v1 = commitBody("alice", "a.txt", placed.uploadId, [chunk(1, 20), chunk(2, 10)]);
    expect((await client.call("commitUpload", v1)).body.version).toBe(1);
    expect((await client.call("commitUpload", v1)).body.version).toBe(1);
    await until("commitRefs at the storage primary", () => storage.notices.length === 1);
    expect(storage.notices[0]).toEqual({
      op: "commitRefs",
      body: {
        uid: "alice",
        name: "a.txt",
        uploadId: placed.uploadId,
        version: 1,
        chunkIds: [sha(1), sha(2)],
        chunkBytes: [20, 10],
        term: 1,
      },
      epoch: 1,
    });

    const manifest = (await client.call("getManifest", { uid: "alice", name: "a.txt" })).body;
    expect(manifest.manifest).toMatchObject({
      uid: "alice",
      name: "a.txt",
      version: 1,
      bytes: 30,
      sha256: v1.sha256,
    });
    expect(manifest.manifest.chunks).toEqual(v1.chunks);
    expect(manifest.groups.map((group) => group.group)).toEqual(["s1"]);

    const v2 = commitBody("alice", "a.txt", again.uploadId, [chunk(3, 5)]);
    expect((await client.call("commitUpload", v2)).body.version).toBe(2);
    const listed = (await client.call("listFiles", { uid: "alice" })).body.files;
    expect(listed.map((file) => [file.name, file.version, file.bytes])).toEqual([["a.txt", 2, 5]]);
    const old = (await client.call("getManifest", { uid: "alice", name: "a.txt", version: 1 }))
      .body;
    expect(old.manifest.bytes).toBe(30);

    const del = { uid: "alice", name: "a.txt", requestId: "rm-1" };
    expect((await client.call("deleteFile", del)).body.deletedVersion).toBe(2);
    expect((await client.call("deleteFile", del)).body.deletedVersion).toBe(2);
    await until(
      "both uploads' references dropped at the storage primary",
      () => storage.notices.filter((item) => item.op === "dropUploadRefs").length === 2,
    );
    const dropped = storage.notices.flatMap((item) =>
      item.op === "dropUploadRefs" ? [item.body.uploadId] : [],
    );
    expect(dropped).toEqual([again.uploadId, placed.uploadId]);
    const gone = await failure(client.call("getManifest", { uid: "alice", name: "a.txt" }));
    expect([gone.code, gone.message]).toEqual(["NOT_FOUND", "no file 'a.txt' for user 'alice'"]);
    expect((await client.call("listFiles", { uid: "alice" })).body.files).toEqual([]);
    const twice = await failure(client.call("deleteFile", { ...del, requestId: "rm-2" }));
    expect(twice.code).toBe("NOT_FOUND");

    const v4 = commitBody("alice", "a.txt", "upload-after-rm", [chunk(4, 7)]);
    expect((await client.call("commitUpload", v4)).body.version).toBe(4);
  });

  test("garbage is confirmed only past the upload's deadline, and the late commit is refused", async () => {
    const { client, clock } = await start();
    const storage = fakeStorage();
    await register(client, "s1a", storage.address);
    await client.call("connect", { uid: "alice" });
    const kept = (await client.call("placeUpload", { uid: "alice", name: "k", bytes: 10 })).body;
    await client.call("commitUpload", commitBody("alice", "k", kept.uploadId, [chunk(1, 10)]));
    const late = (await client.call("placeUpload", { uid: "alice", name: "late", bytes: 10 })).body;
    const ask = () =>
      client.call("confirmGarbage", {
        group: "s1",
        candidates: [
          { chunkId: sha(1), uploads: [] },
          { chunkId: sha(2), uploads: [{ uid: "alice", uploadId: late.uploadId }] },
          { chunkId: sha(3), uploads: [] },
        ],
      });
    // Before the deadline the open upload holds its chunk; the kept version holds chunk 1.
    expect((await ask()).body).toEqual({ collectable: [sha(3)], releasedRefs: [] });
    clock.nowMs += UPLOAD_DEADLINE_MS_DEFAULT + 1;
    expect((await ask()).body).toEqual({
      collectable: [sha(2), sha(3)],
      releasedRefs: [{ chunkId: sha(2), uid: "alice", uploadId: late.uploadId }],
    });
    const commit = commitBody("alice", "late", late.uploadId, [chunk(2, 10)]);
    const refused = await failure(client.call("commitUpload", commit));
    expect(refused.code).toBe("UPLOAD_EXPIRED");
    expect(refused.message).toContain("upload it again");
  });

  test("the primary aborts a multipart upload left open past its lifetime, parts and all", async () => {
    const { client, clock } = await start();
    await register(client, "s1a", fakeStorage().address);
    await client.call("connect", { uid: "alice" });
    await client.call("bucketCreate", { uid: "alice", bucket: "photos" });
    const opened = (await client.call("multipartCreate", { uid: "alice", name: "/photos/big.bin" }))
      .body;
    const part = partStoredName(opened.uploadId, 1);
    const placed = (await client.call("placeUpload", { uid: "alice", name: part, bytes: 10 })).body;
    await client.call("commitUpload", {
      ...commitBody("alice", part, placed.uploadId, [chunk(1, 10)]),
      attrs: { md5: "0".repeat(32) },
    });
    const uploads = async () =>
      (
        await client.call("multipartList", {
          uid: "alice",
          bucket: "photos",
          prefix: "",
          countMax: 10,
        })
      ).body.uploads.length;
    expect(await uploads()).toBe(1);
    clock.nowMs += MULTIPART_UPLOAD_LIFETIME_MS - 1_000;
    await Bun.sleep(200);
    expect(await uploads()).toBe(1);
    clock.nowMs += 2_000;
    for (let polls = 0; (await uploads()) > 0; polls += 1) {
      expect(polls).toBeLessThan(EXPIRY_POLLS_MAX);
      await Bun.sleep(50);
    }
    // Its parts went with it: another one finds no upload to join.
    const refused = await failure(
      client.call("placeUpload", {
        uid: "alice",
        name: partStoredName(opened.uploadId, 2),
        bytes: 10,
      }),
    );
    expect(refused.code).toBe("NO_SUCH_UPLOAD");
  });

  test("an empty file commits with no chunks and the hash of nothing", async () => {
    const { client } = await start();
    await register(client, "s1a", fakeStorage().address);
    await client.call("connect", { uid: "alice" });
    const sha256 = createHash("sha256").update(new Uint8Array(0)).digest("hex");
    const body = { uid: "alice", name: "empty", uploadId: "e1", bytes: 0, sha256, chunks: [] };
    expect((await client.call("commitUpload", body)).body.version).toBe(1);
    expect((await client.call("getManifest", { uid: "alice", name: "empty" })).body.groups).toEqual(
      [],
    );
  });

  test("an unknown user is told to connect first, on every op", async () => {
    const { client } = await start();
    await register(client, "s1a", fakeStorage().address);
    const calls = [
      client.call("placeUpload", { uid: "bob", name: "a", bytes: 1 }),
      client.call("commitUpload", commitBody("bob", "a", "u1", [chunk(1, 1)])),
      client.call("getManifest", { uid: "bob", name: "a" }),
      client.call("listFiles", { uid: "bob" }),
      client.call("deleteFile", { uid: "bob", name: "a", requestId: "r1" }),
    ];
    for (const call of calls) {
      const error = await failure(call);
      expect(error.code).toBe("NO_SUCH_USER");
      expect(error.message).toContain("ftfs bob c");
    }
  });

  test("hostile and invalid names are refused on every op, and the connection lives", async () => {
    const { client } = await start();
    await register(client, "s1a", fakeStorage().address);
    await client.call("connect", { uid: "alice" });
    const names = [
      "../x",
      "/x",
      "/Etc/passwd",
      "a/../../b",
      "",
      "a\u0000b",
      "x".repeat(300),
      "..",
      "a\\b",
      "tab\there",
    ];
    for (const name of names) {
      const calls = [
        client.call("placeUpload", { uid: "alice", name, bytes: 1 }),
        client.call("commitUpload", commitBody("alice", name, `up-${name.length}`, [chunk(1, 1)])),
        client.call("getManifest", { uid: "alice", name }),
        client.call("deleteFile", { uid: "alice", name, requestId: "r" }),
      ];
      for (const call of calls)
        expect([name, (await failure(call)).code]).toEqual([name, "INVALID_NAME"]);
    }
    // A name beginning with "/" is an object in a bucket (object-names.ts): never a path, and
    // refused while the user has no such bucket.
    for (const name of ["/etc/passwd", "/tmp/../x"]) {
      const call = client.call("getManifest", { uid: "alice", name });
      expect([name, (await failure(call)).code]).toEqual([name, "NO_SUCH_BUCKET"]);
    }
    const badUid = await failure(client.call("listFiles", { uid: "../../root" }));
    expect(badUid.code).toBe("INVALID_UID");
    expect((await client.call("listFiles", { uid: "alice" })).body.files).toEqual([]);
  });

  test("missing files and versions are NOT_FOUND with clear messages", async () => {
    const { client } = await start();
    await register(client, "s1a", fakeStorage().address);
    await client.call("connect", { uid: "alice" });
    const missing = await failure(client.call("getManifest", { uid: "alice", name: "nope" }));
    expect([missing.code, missing.message]).toEqual([
      "NOT_FOUND",
      "no file 'nope' for user 'alice'",
    ]);
    await client.call("commitUpload", commitBody("alice", "a", "u1", [chunk(1, 1)]));
    const version = await failure(
      client.call("getManifest", { uid: "alice", name: "a", version: 9 }),
    );
    expect([version.code, version.message]).toEqual([
      "NOT_FOUND",
      "no version 9 of file 'a' for user 'alice'",
    ]);
    const del = await failure(
      client.call("deleteFile", { uid: "alice", name: "nope", requestId: "r" }),
    );
    expect(del.code).toBe("NOT_FOUND");
  });

  test("manifests that do not add up are MANIFEST_MISMATCH and change nothing", async () => {
    const { client } = await start({ chunkBytes: 4096 });
    await register(client, "s1a", fakeStorage().address);
    await client.call("connect", { uid: "alice" });
    const good = commitBody("alice", "a", "u0", [chunk(1, 4096), chunk(2, 1)]);
    const cases = [
      { ...good, uploadId: "u1", bytes: good.bytes + 1 },
      commitBody("alice", "a", "u2", [chunk(1, 4097)]),
      { ...commitBody("alice", "a", "u3", []), sha256: sha(1) },
      { ...commitBody("alice", "a", "u4", [chunk(1, 3)]), bytes: 0, sha256: EMPTY_SHA256 },
      commitBody("alice", "a", "u5", [chunk(1, 3, "nowhere")]),
    ];
    for (const body of cases) {
      const error = await failure(client.call("commitUpload", body));
      expect([body.uploadId, error.code]).toEqual([body.uploadId, "MANIFEST_MISMATCH"]);
    }
    expect((await client.call("listFiles", { uid: "alice" })).body.files).toEqual([]);
    expect((await client.call("commitUpload", good)).body.version).toBe(1);
  });

  test("cluster status and group configuration follow heartbeats", async () => {
    const { client, clock } = await start({ deadAfterMs: 1_000 });
    const [a, b] = [fakeStorage(), fakeStorage()];
    await register(client, "s1a", a.address);
    // The second node is a learner until it says it caught up at the group's epoch.
    const learning = await register(client, "s1b", b.address);
    expect(learning.group.replicas.map((replica) => replica.node)).toEqual(["s1a"]);
    expect(learning.group.learners?.map((learner) => learner.node)).toEqual(["s1b"]);
    const both = await register(client, "s1b", b.address, 1_000_000, learning.group.epoch);
    expect([both.group.primaryNode, both.group.epoch, both.group.replicas.length]).toEqual([
      "s1a",
      3,
      2,
    ]);
    expect(both.group.learners).toBeUndefined();

    const status = (await client.call("clusterStatus", {})).body;
    expect(
      status.members.map((member) => [member.node, member.role, member.state, member.primary]),
    ).toEqual([
      ["d1", "directory", "alive", true],
      ["s1a", "storage", "alive", true],
      ["s1b", "storage", "alive", false],
    ]);

    clock.nowMs += 1_500;
    const promoted = await register(client, "s1b", b.address);
    expect([promoted.group.primaryNode, promoted.group.epoch]).toEqual(["s1b", 4]);
    const later = (await client.call("clusterStatus", {})).body;
    expect(later.members.find((member) => member.node === "s1a")?.state).toBe("dead");
    expect(later.groups).toEqual([promoted.group]);

    clock.nowMs += 1_500;
    await until(
      "the group to lose its primary",
      () => running[0]?.logs.some((line) => line.includes('"epoch":5')) ?? false,
    );
    await client.call("connect", { uid: "alice" });
    const none = await failure(client.call("placeUpload", { uid: "alice", name: "a", bytes: 1 }));
    expect(none.code).toBe("UNAVAILABLE");
  });

  test("a spare has no group until a group stays short for the grace; then it learns", async () => {
    const first = await start({ deadAfterMs: 1_000, rereplicationGraceMs: 3_000 });
    const { client, clock } = first;
    const [a, b, x] = [fakeStorage(), fakeStorage(), fakeStorage()];
    await register(client, "s1a", a.address);
    const learning = await register(client, "s1b", b.address);
    await register(client, "s1b", b.address, 1_000_000, learning.group.epoch);
    const spare = (): Promise<RegisterAnswer> => registerSpare(client, x.address);
    expect((await spare()).group).toBeUndefined();
    // s1b falls silent; s1a and the spare keep beating, never longer apart than deadAfterMs.
    const shortAfterMs = clock.nowMs + 1_000;
    let answer = await spare();
    for (let step = 0; answer.group === undefined && step < 20; step += 1) {
      clock.nowMs += 500;
      await register(client, "s1a", a.address);
      answer = await spare();
      if (clock.nowMs - shortAfterMs < 3_000) expect(answer.group).toBeUndefined();
    }
    const assigned = answer.group;
    expect(assigned?.replicas.map((replica) => replica.node)).toEqual(["s1a"]);
    expect(assigned?.learners?.map((learner) => learner.node)).toEqual(["x1"]);
    expect(assigned?.replicationFactor).toBe(2);
    expect(first.logs.some((line) => line.includes("spare assigned"))).toBe(true);

    // The assignment is replicated state: a new directory primary answers the same.
    running.splice(running.indexOf(first), 1);
    const second = await first.restart();
    running.push(second);
    expect((await registerSpare(second.client, x.address)).group).toEqual(assigned);
  });

  test("a registration naming no group that is not a spare is refused", async () => {
    const { client } = await start();
    const body = { node: "s1a", address: "127.0.0.1:1", capacityBytes: 1, usedBytes: 0 };
    const error = await failure(client.call("registerStorage", body));
    expect([error.code, error.message]).toEqual([
      "BAD_REQUEST",
      "storage node s1a names no group and is not a spare",
    ]);
  });

  test("a request stamped with an older term is STALE_EPOCH; newer or unstamped is fine", async () => {
    // A node restarted in term 3 campaigns, so it serves in term 4.
    const { client, node } = await start({ prepare: (store) => store.writeMeta("raftTerm", "3") });
    expect(node.term).toBe(4);
    const stale = await failure(client.call("connect", { uid: "alice" }, { epoch: 3 }));
    expect([stale.code, stale.hint]).toEqual(["STALE_EPOCH", { primary: node.address, epoch: 4 }]);
    expect((await client.call("connect", { uid: "alice" }, { epoch: 5 })).body.term).toBe(4);
    expect((await client.call("connect", { uid: "alice" })).body.created).toBe(false);
  });

  test("a restart on the same data remembers users, files, versions and groups", async () => {
    const first = await start();
    const storage = fakeStorage();
    await register(first.client, "s1a", storage.address);
    await first.client.call("connect", { uid: "alice" });
    await first.client.call("commitUpload", commitBody("alice", "a", "u1", [chunk(1, 3)]));
    await first.client.call("commitUpload", commitBody("alice", "b", "u2", [chunk(2, 4)]));
    await first.client.call("deleteFile", { uid: "alice", name: "b", requestId: "r1" });
    const before = (await first.client.call("listFiles", { uid: "alice" })).body;
    running.splice(running.indexOf(first), 1);
    const second = await first.restart();
    running.push(second);
    const { client } = second;
    expect((await client.call("connect", { uid: "alice" })).body.created).toBe(false);
    expect((await client.call("listFiles", { uid: "alice" })).body).toEqual(before);
    expect(
      (await client.call("commitUpload", commitBody("alice", "a", "u1", [chunk(1, 3)]))).body
        .version,
    ).toBe(1);
    expect(
      (await client.call("commitUpload", commitBody("alice", "b", "u3", [chunk(3, 1)]))).body
        .version,
    ).toBe(3);
    const groups = (await client.call("clusterStatus", {})).body.groups;
    expect(groups.map((group) => [group.group, group.primaryNode])).toEqual([["s1", "s1a"]]);
  });
});
