/**
 * The outbox loop: notices reach each group's current primary in order, stamped with the
 * group's epoch and the sender's directory term, and leave the store only once acknowledged; a group whose primary is down
 * keeps its notices and retries with backoff without holding up other groups; a notice the
 * storage node can never accept is dropped rather than blocking its group forever.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ok } from "@ftfs/protocol/core";
import { createMemoryLogger, RpcPool, RpcServer } from "@ftfs/protocol/io";
import { MemoryMetadataStore } from "../core/index.ts";
import { apply, applyOk, chunk, commit } from "../testing/fixtures.ts";
import { FakeStorage, until } from "../testing/harness.ts";
import { OutboxDrainer } from "./outbox.ts";

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const DRAINER_TERM = 3;

function drainerFor(store: MemoryMetadataStore): OutboxDrainer {
  const pool = new RpcPool(500);
  const drainer = new OutboxDrainer({
    store,
    // The single-node path of a proposal: apply at the next index, at once.
    proposer: { propose: async (command) => apply(store, command), term: DRAINER_TERM },
    pool,
    logger: createMemoryLogger("d1"),
    nowMs: () => Date.now(),
    random: () => 0,
  });
  cleanups.push(async () => {
    await drainer.stop(1_000);
    pool.close();
  });
  return drainer;
}

function storageAt(): FakeStorage {
  const storage = new FakeStorage();
  cleanups.push(() => storage.stop());
  return storage;
}

/** An address nobody listens on. */
function deadAddress(): string {
  const server = RpcServer.start({
    listen: "127.0.0.1:0",
    handlers: {},
    logger: createMemoryLogger(),
  });
  const address = `127.0.0.1:${server.port}`;
  server.stop();
  return address;
}

function pointGroupAt(
  store: MemoryMetadataStore,
  group: string,
  address: string,
  epoch: number,
): void {
  const config = {
    group,
    epoch,
    primary: address,
    primaryNode: `${group}a`,
    replicas: [{ node: `${group}a`, address }],
  };
  applyOk(store, { type: "setGroupConfig", config, atMs: 0 });
}

function seeded(): MemoryMetadataStore {
  const store = new MemoryMetadataStore();
  applyOk(store, { type: "createUser", uid: "alice", atMs: 0 });
  return store;
}

describe("OutboxDrainer", () => {
  test("delivers each group's notices in order, with the group's epoch, then forgets them", async () => {
    const store = seeded();
    const storage = storageAt();
    pointGroupAt(store, "s1", storage.address, 7);
    applyOk(store, commit("alice", "a", "u1", [chunk(1, 1)]));
    applyOk(store, commit("alice", "a", "u2", [chunk(2, 1)]));
    applyOk(store, { type: "deleteFile", uid: "alice", name: "a", requestId: "r1", atMs: 0 });
    drainerFor(store).start();
    await until("four notices", () => storage.notices.length === 4);
    expect(storage.notices.map((item) => [item.op, item.epoch, item.body.term])).toEqual([
      ["commitRefs", 7, DRAINER_TERM],
      ["commitRefs", 7, DRAINER_TERM],
      ["dropUploadRefs", 7, DRAINER_TERM],
      ["dropUploadRefs", 7, DRAINER_TERM],
    ]);
    expect(
      storage.notices.map((item) => (item.op === "commitRefs" ? item.body.version : 0)),
    ).toEqual([1, 2, 0, 0]);
    await until("the outbox to empty", () => store.noticeGroups(10).length === 0);
  });

  test("a group whose primary is down waits and retries; other groups go on", async () => {
    const store = seeded();
    const s1 = storageAt();
    pointGroupAt(store, "s1", s1.address, 1);
    pointGroupAt(store, "s2", deadAddress(), 1);
    applyOk(store, commit("alice", "a", "u1", [chunk(1, 1, "s2"), chunk(2, 1, "s1")]));
    const drainer = drainerFor(store);
    drainer.start();
    await until("s1's notice", () => s1.notices.length === 1);
    await until("a failed attempt at s2", () => drainer.stats.failures >= 1);
    expect(store.pendingNotices("s2", 10).length).toBe(1);

    const s2 = storageAt();
    pointGroupAt(store, "s2", s2.address, 2);
    await until("s2's notice after its primary moved", () => s2.notices.length === 1);
    expect(s2.notices[0]?.epoch).toBe(2);
    await until("the outbox to empty", () => store.noticeGroups(10).length === 0);
  });

  test("a notice the storage node can never take is dropped, and the next one goes", async () => {
    const store = seeded();
    const received: string[] = [];
    const server = RpcServer.start({
      listen: "127.0.0.1:0",
      logger: createMemoryLogger(),
      handlers: {
        dropUploadRefs: async (body) => {
          received.push(body.uploadId);
          return ok({ body: {} });
        },
      },
    });
    cleanups.push(() => server.stop());
    pointGroupAt(store, "s1", `127.0.0.1:${server.port}`, 1);
    applyOk(store, commit("alice", "a", "u1", [chunk(1, 1)]));
    applyOk(store, { type: "deleteFile", uid: "alice", name: "a", requestId: "r1", atMs: 0 });
    const drainer = drainerFor(store);
    drainer.start();
    await until("the drop after the refused commitRefs", () => received.length === 1);
    expect(received).toEqual(["u1"]);
    expect(drainer.stats.dropped).toBe(1);
    await until("the outbox to empty", () => store.noticeGroups(10).length === 0);
  });

  test("after stop, nothing more is sent", async () => {
    const store = seeded();
    const storage = storageAt();
    pointGroupAt(store, "s1", storage.address, 1);
    const drainer = drainerFor(store);
    drainer.start();
    await drainer.stop(1_000);
    applyOk(store, commit("alice", "a", "u1", [chunk(1, 1)]));
    drainer.kick();
    // Absence can only be seen by waiting: a live loop would have sent within a few ms.
    await Bun.sleep(50);
    expect(storage.notices).toEqual([]);
    expect(store.pendingNotices("s1", 10).length).toBe(1);
  });
});
