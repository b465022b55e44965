/**
 * The rebalancer against fake storage nodes on loopback and the real state machine on a memory
 * store: it moves versions from the fullest group to the emptiest until the shares are within
 * the threshold, puts each chunk in the target under the version's own upload before the
 * switch, leaves deleted versions alone, reads around a replica with bad bytes, skips a version
 * deleted while it was being copied, gives up after versions in a row fail to copy, and never
 * copies faster than its rate. What it moved adds up in the node's totals.
 */
import { afterEach, describe, expect, test } from "bun:test";
import {
  fail,
  ok,
  PACE_SLEEP_MS_MIN,
  type ChunkOwner,
  type ChunkRef,
  type RebalanceRun,
  type Result,
} from "@ftfs/protocol/core";
import { createMemoryLogger, RpcPool, RpcServer, sha256Hex } from "@ftfs/protocol/io";
import {
  MemoryMetadataStore,
  type Command,
  type GroupConfig,
  type GroupUsage,
  type OutcomeOf,
  REBALANCE_CHUNKS_IN_FLIGHT,
} from "../core/index.ts";
import { apply, applyOk, commit, T0_MS } from "../testing/fixtures.ts";
import { newRebalanceTotals, Rebalancer, type RebalancerOptions } from "./rebalancer.ts";

const FAST_BYTES_PER_SECOND = 1024 ** 3;
const BUDGET_BYTES = 1024 ** 3;
const RUN_DEADLINE_MS = 5_000;
const CHUNK_BYTES = 1_000;

interface Put {
  readonly chunkId: string;
  readonly owner: ChunkOwner;
  readonly epoch: number;
}

/** A storage node that serves chunks from a map and records the puts it takes. */
class FakeStorage {
  readonly chunks = new Map<string, Uint8Array>();
  readonly puts: Put[] = [];
  /** Answers every put with this refusal instead. */
  refusePuts: ReturnType<typeof fail> | null = null;
  /** Serves these bytes instead of the chunk's own. */
  readonly corrupt = new Set<string>();
  readonly server: RpcServer;

  constructor() {
    this.server = RpcServer.start({
      listen: "127.0.0.1:0",
      logger: createMemoryLogger("fake-storage"),
      handlers: {
        getChunk: async (body) => {
          const bytes = this.chunks.get(body.chunkId);
          if (bytes === undefined) return fail("CHUNK_NOT_FOUND", "no such chunk");
          const served = this.corrupt.has(body.chunkId) ? bytes.map((byte) => byte ^ 1) : bytes;
          return ok({ body: { chunkId: body.chunkId, bytes: served.length }, payload: served });
        },
        putChunk: async (body, request) => {
          if (this.refusePuts !== null) return this.refusePuts;
          this.puts.push({ chunkId: body.chunkId, owner: body.owner, epoch: request.epoch });
          this.chunks.set(body.chunkId, request.payload);
          return ok({
            body: { chunkId: body.chunkId, bytes: request.payload.length, replicas: 1 },
          });
        },
      },
    });
  }

  get address(): string {
    return `127.0.0.1:${this.server.port}`;
  }
}

const servers: FakeStorage[] = [];
const pools: RpcPool[] = [];
afterEach(() => {
  for (const fake of servers.splice(0)) fake.server.stop();
  for (const pool of pools.splice(0)) pool.close();
});

function group(name: string, epoch: number, nodes: readonly FakeStorage[]): GroupConfig {
  const replicas = nodes.map((node, at) => ({ node: `${name}${at}`, address: node.address }));
  const primary = replicas[0] ?? null;
  const primaryNode = primary?.node ?? null;
  return { group: name, epoch, primary: primary?.address ?? null, primaryNode, replicas };
}

interface World {
  readonly store: MemoryMetadataStore;
  readonly source: readonly FakeStorage[];
  readonly target: FakeStorage;
  /** Upload a file of `chunks` chunks into s1 (every source replica holds them). */
  upload(name: string, chunks: number): ChunkRef[];
  rebalancer(overrides?: Partial<RebalancerOptions>): Rebalancer;
}

function world(): World {
  const store = new MemoryMetadataStore();
  const source = [new FakeStorage(), new FakeStorage()];
  const target = new FakeStorage();
  servers.push(...source, target);
  applyOk(store, { type: "createUser", uid: "alice", atMs: T0_MS });
  applyOk(store, { type: "setGroupConfig", config: group("s1", 3, source), atMs: T0_MS });
  applyOk(store, { type: "setGroupConfig", config: group("s2", 7, [target]), atMs: T0_MS });
  let serial = 0;
  const upload = (name: string, chunks: number): ChunkRef[] => {
    const refs: ChunkRef[] = [];
    for (let at = 0; at < chunks; at += 1) {
      serial += 1;
      const bytes = new TextEncoder().encode(`${name}#${serial}`.padEnd(CHUNK_BYTES, "."));
      const id = sha256Hex(bytes);
      for (const node of source) node.chunks.set(id, bytes);
      refs.push({ id, bytes: bytes.length, group: "s1" });
    }
    applyOk(store, commit("alice", name, `up-${name}-${serial}`, refs));
    return refs;
  };
  const usages = (): GroupUsage[] => {
    let used = 0;
    for (const bytes of source[0]?.chunks.values() ?? []) used += bytes.length;
    const capacityBytes = 100 * CHUNK_BYTES;
    return [
      { group: "s1", usedBytes: used, capacityBytes },
      { group: "s2", usedBytes: 0, capacityBytes },
    ];
  };
  const rebalancer = (overrides: Partial<RebalancerOptions> = {}): Rebalancer => {
    const pool = new RpcPool();
    pools.push(pool);
    const proposer = {
      propose: async <C extends Command>(command: C): Promise<Result<OutcomeOf<C>>> =>
        apply(store, command),
    };
    return new Rebalancer({
      store,
      proposer,
      pool,
      logger: createMemoryLogger("d1"),
      nowMs: () => Date.now(),
      monotonicMs: () => performance.now(),
      usages,
      newId: () => "run-1",
      bytesPerSecond: FAST_BYTES_PER_SECOND,
      budgetBytes: BUDGET_BYTES,
      ...overrides,
    });
  };
  return { store, source, target, upload, rebalancer };
}

async function finished(rebalancer: Rebalancer, runId: string): Promise<RebalanceRun> {
  const giveUpAtMs = Date.now() + RUN_DEADLINE_MS;
  for (;;) {
    const run = rebalancer.status(runId);
    if (run === undefined) throw new Error(`run ${runId} unknown`);
    if (run.state !== "running") return run;
    if (Date.now() > giveUpAtMs) throw new Error(`run still going: ${JSON.stringify(run)}`);
    await Bun.sleep(5);
  }
}

function groupsOf(store: MemoryMetadataStore, name: string): string[] {
  const record = store.latestVersion("alice", name);
  return record?.kind === "live" ? [...new Set(record.chunks.map((chunk) => chunk.group))] : [];
}

describe("a run", () => {
  test("moves versions to the emptiest group until balanced, chunks first", async () => {
    const w = world();
    for (const name of "abcdef") w.upload(name, 5);
    w.upload("gone", 5);
    apply(w.store, { type: "deleteFile", uid: "alice", name: "gone", requestId: "r", atMs: T0_MS });
    const totals = newRebalanceTotals();
    const rebalancer = w.rebalancer({ totals });
    expect(rebalancer.running).toBe(false);
    const started = rebalancer.start(1_000);
    expect(rebalancer.running).toBe(true);
    const run = await finished(rebalancer, started.runId);
    expect(rebalancer.running).toBe(false);
    // 30 chunks of live files in s1 (30% of capacity), none in s2: three files even it out.
    expect(run).toMatchObject({ state: "balanced", movedVersions: 3, movedChunks: 15 });
    expect(run.movedBytes).toBe(15 * CHUNK_BYTES);
    // The node's totals (its /metrics) add up what its runs moved.
    expect(totals).toEqual({ movedBytes: 15 * CHUNK_BYTES, movedChunks: 15 });
    const names = ["a", "b", "c", "d", "e", "f"];
    const moved = names.filter((name) => groupsOf(w.store, name)[0] === "s2");
    expect(moved).toEqual(["a", "b", "c"]);
    expect(w.target.puts.length).toBe(15);
    for (const name of moved) {
      const record = w.store.latestVersion("alice", name);
      if (record?.kind !== "live") throw new Error("not live");
      for (const chunk of record.chunks) {
        expect(w.target.chunks.has(chunk.id)).toBe(true);
        const put = w.target.puts.find((item) => item.chunkId === chunk.id);
        expect(put).toEqual({
          chunkId: chunk.id,
          owner: { uid: "alice", name, uploadId: record.uploadId },
          epoch: 7,
        });
      }
    }
    expect(run.groups).toEqual([
      {
        group: "s1",
        capacityBytes: 100_000,
        usedBytesBefore: 35_000,
        bytesOut: 15_000,
        bytesIn: 0,
      },
      { group: "s2", capacityBytes: 100_000, usedBytesBefore: 0, bytesOut: 0, bytesIn: 15_000 },
    ]);
  });

  test("a run answers its progress by id; a second start joins the running one", async () => {
    const w = world();
    for (const name of ["a", "b"]) w.upload(name, 4);
    let ids = 0;
    const rebalancer = w.rebalancer({ newId: () => `run-${++ids}`, bytesPerSecond: 64_000 });
    const first = rebalancer.start(1_000);
    expect(first.state).toBe("running");
    expect(rebalancer.start(1_000).runId).toBe(first.runId);
    expect(rebalancer.status("run-9")).toBeUndefined();
    await finished(rebalancer, first.runId);
    expect(rebalancer.start(1_000).runId).toBe("run-2");
    await rebalancer.stop(1_000);
  });

  test("bad bytes from one replica are skipped for another in-sync one", async () => {
    const w = world();
    const refs = w.upload("a", 3);
    for (const ref of refs) w.source[0]?.corrupt.add(ref.id);
    w.upload("b", 3);
    const rebalancer = w.rebalancer();
    const run = await finished(rebalancer, rebalancer.start(100).runId);
    expect(run.movedVersions).toBeGreaterThanOrEqual(1);
    expect(groupsOf(w.store, "a")).toEqual(["s2"]);
    for (const ref of refs) {
      expect(sha256Hex(w.target.chunks.get(ref.id) ?? new Uint8Array())).toBe(ref.id);
    }
  });

  test("a version deleted while its chunks were copied is skipped, changing nothing", async () => {
    const w = world();
    w.upload("a", 3);
    w.upload("b", 3);
    let deleted = false;
    const rebalancer = w.rebalancer({
      proposer: {
        propose: async (command) => {
          if (command.type === "moveVersion" && !deleted) {
            deleted = true;
            const remove = { uid: "alice", name: command.name, requestId: "r" } as const;
            applyOk(w.store, { type: "deleteFile", ...remove, atMs: T0_MS });
          }
          return apply(w.store, command);
        },
      },
    });
    const run = await finished(rebalancer, rebalancer.start(100).runId);
    expect(run.skippedVersions).toBe(1);
    expect(run.movedVersions).toBe(1);
    expect(w.store.latestVersion("alice", "a")?.kind).toBe("tombstone");
    const kept = w.store.getVersion("alice", "a", 1);
    expect(kept?.kind === "live" && kept.chunks.map((chunk) => chunk.group)).toEqual([
      "s1",
      "s1",
      "s1",
    ]);
    expect(groupsOf(w.store, "b")).toEqual(["s2"]);
  });

  test("a target that refuses every chunk fails the run after versions in a row", async () => {
    const w = world();
    for (let at = 0; at < 8; at += 1) w.upload(`f${at}`, 1);
    w.target.refusePuts = fail("DISK_FULL", "storage node's disk is full");
    const rebalancer = w.rebalancer();
    const run = await finished(rebalancer, rebalancer.start(1).runId);
    expect(run.state).toBe("failed");
    expect(run.message).toContain("5 versions in a row could not be copied");
    expect(run.message).toContain("disk is full");
    expect(run.skippedVersions).toBe(5);
    expect(run.movedVersions).toBe(0);
    const groups = w.store.scanVersions(null, 100).map((record) => groupsOf(w.store, record.name));
    expect(groups.every((where) => where.length === 1 && where[0] === "s1")).toBe(true);
  });

  test("copies no faster than its rate", async () => {
    const w = world();
    for (const name of ["a", "b", "c", "d"]) w.upload(name, 5);
    const bytesPerSecond = 50_000;
    const rebalancer = w.rebalancer({ bytesPerSecond });
    const run = await finished(rebalancer, rebalancer.start(1).runId);
    const durationMs = (run.finishedAtMs ?? 0) - run.startedAtMs;
    // Chunks in flight may run ahead of the rate by one window before the first rest, and a
    // rest shorter than the pacer's least sleep may still be owed when the run ends.
    const aheadBytes = REBALANCE_CHUNKS_IN_FLIGHT * CHUNK_BYTES;
    expect(run.movedBytes).toBeGreaterThan(aheadBytes);
    const boundMs = ((run.movedBytes - aheadBytes) / bytesPerSecond) * 1_000 - PACE_SLEEP_MS_MIN;
    expect(durationMs).toBeGreaterThanOrEqual(boundMs);
  });
});
