/**
 * The FTFS side of `bench:storage`: real clusters (1 directory node, storage groups of 3) on
 * loopback, driven by storage-load.ts. (1) a PUT-then-GET matrix of object sizes and client
 * counts, with the CPU time of every server process per operation; (2) kill -9 of a storage
 * group's primary under a mixed load, then every acknowledged PUT read back byte for byte.
 * Each repeat gets a fresh cluster, stopped (and its folder removed) before this returns, on
 * success and on failure alike.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CONNECT_TIMEOUT_MS_DEFAULT } from "@ftfs/protocol/core";
import { RpcPool } from "@ftfs/protocol/io";
import { startCluster, type LocalCluster, type NodeProcess } from "@ftfs/protocol/testing";
import { FtfsClient } from "@ftfs/client";
import { statusWithin } from "../common/cluster-status.ts";
import {
  okRate,
  phaseStats,
  runPhase,
  Payloads,
  Workload,
  type PhaseRun,
  type PhaseStats,
} from "./load.ts";

const REPLICAS_PER_GROUP = 3;
/**
 * One directory node: the storage groups are what this bench measures; the replicated
 * directory's own costs are bench:directory's.
 */
const DIRECTORY_NODES = 1;
/**
 * Loops share this many FtfsClient instances, each with its own connection pool (one TCP
 * connection per server): like a few application processes, each multiplexing its requests,
 * instead of 100 connections per node or all traffic on one socket.
 */
export const FTFS_CLIENT_INSTANCES = 4;
/** Client instance i acts as user `bench<i>`: a few application processes, a few users. */
const BENCH_UID_PREFIX = "bench";
/** Linux reports CPU time in USER_HZ ticks, 100 per second on mainstream architectures. */
const CLOCK_TICKS_PER_SECOND = 100;
/** utime and stime are fields 14 and 15 of /proc/<pid>/stat: 11 and 12 after the `(comm)`. */
const UTIME_AFTER_COMM = 11;
const STIME_AFTER_COMM = 12;
/** The kill test reads objects written before it starts, as Swift's bench.sh kill does. */
const KILL_GET_RATIO = 0.5;
const PREFILL_LOOPS = 32;
const VERIFY_LOOPS = 20;
/** How often the kill test asks the directory for the group's view. */
const STATUS_POLL_MS = 100;
/** After the restart, wait at most this long for the node to rejoin the in-sync set. */
const IN_SYNC_DEADLINE_MS = 120_000;

export interface Layout {
  readonly label: string;
  readonly groups: number;
  /** A cluster key: every frame MACed, the load's clients logged in as a user. */
  readonly secure: boolean;
}

export interface Cell {
  readonly sizeBytes: number;
  readonly loops: number;
}

export interface CellResult {
  readonly put: PhaseStats;
  readonly get: PhaseStats;
  readonly putCpuMsPerOp: number;
  readonly getCpuMsPerOp: number;
  readonly putClientCpuMsPerOp: number;
  readonly getClientCpuMsPerOp: number;
  readonly errorSamples: readonly string[];
}

export function cellKey(cell: Cell): string {
  return `${cell.sizeBytes}x${cell.loops}`;
}

async function cpuSecondsOf(pid: number): Promise<number> {
  let text: string;
  try {
    // procfs files report size 0, so read them with a plain read, not Bun.file's sized read.
    text = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return 0; // exited: a killed node's time is lost, which only the kill test sees
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[UTIME_AFTER_COMM]) + Number(fields[STIME_AFTER_COMM]);
  return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : 0;
}

/** User + system CPU seconds used so far by every server process of the cluster. */
export async function serverCpuSeconds(cluster: LocalCluster): Promise<number> {
  const pids = cluster.nodes.map((node) => node.pid).filter((pid): pid is number => pid !== null);
  const each = await Promise.all(pids.map(cpuSecondsOf));
  return each.reduce((sum, seconds) => sum + seconds, 0);
}

function clientCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** Pools of the clients of the cluster now running: closed with it. */
const nodePools: RpcPool[] = [];

/** A client acting as a node (status polls of the kill test on a keyed cluster). */
function nodeClient(cluster: LocalCluster): FtfsClient {
  if (cluster.clusterKey === null)
    return new FtfsClient({ directories: cluster.directoryAddresses });
  const pool = new RpcPool(CONNECT_TIMEOUT_MS_DEFAULT, cluster.nodeConnectOptions("bench"));
  nodePools.push(pool);
  return new FtfsClient({ directories: cluster.directoryAddresses, pool });
}

/** The user client instance `index` acts as. */
function benchUid(index: number): string {
  return `${BENCH_UID_PREFIX}${index + 1}`;
}

/**
 * The load's clients, instance i acting as user benchUid(i). On a keyed cluster each logs in,
 * as an application would (a session, MACs on every frame, placement tickets and receipts);
 * otherwise the users are only names. One user per instance, not one for all: rate limits
 * are per user per node (a user's 2,000 requests/s), as an anonymous client's are per
 * connection, so the secure and insecure loads meet the same limits.
 */
async function userClients(cluster: LocalCluster, count: number): Promise<FtfsClient[]> {
  const directories = cluster.directoryAddresses;
  const clients: FtfsClient[] = [];
  for (let index = 0; index < count; index += 1) {
    if (cluster.clusterKey === null) {
      clients.push(new FtfsClient({ directories }));
      continue;
    }
    const uid = benchUid(index);
    const { secret } = await cluster.addUser(uid);
    const anonymous = new FtfsClient({ directories });
    try {
      const challenge = await anonymous.loginStart(uid);
      if (challenge === null) throw new Error("the keyed cluster's directory serves no logins");
      const session = await anonymous.loginFinish(challenge, secret);
      const credentials = {
        kind: "user",
        token: session.token,
        sessionKey: session.sessionKey,
      } as const;
      clients.push(new FtfsClient({ directories, credentials }));
    } finally {
      anonymous.close();
    }
  }
  return clients;
}

/** The user each of `clients` acts as (its index's). */
function uidsOf(clients: readonly FtfsClient[]): (client: FtfsClient) => string {
  const uids = new Map(clients.map((client, index) => [client, benchUid(index)]));
  return (client) => uids.get(client) ?? benchUid(0);
}

async function withCluster<T>(
  layout: Layout,
  dataRoot: string,
  body: (cluster: LocalCluster, clients: FtfsClient[]) => Promise<T>,
): Promise<T> {
  const groups = Array.from({ length: layout.groups }, (_, index) => ({
    name: `g${index + 1}`,
    size: REPLICAS_PER_GROUP,
  }));
  const cluster = await startCluster({
    directories: DIRECTORY_NODES,
    groups,
    dataRoot,
    secure: layout.secure,
  });
  const clients: FtfsClient[] = [];
  try {
    clients.push(...(await userClients(cluster, FTFS_CLIENT_INSTANCES)));
    for (const [index, client] of clients.entries()) await client.connect(benchUid(index));
    return await body(cluster, clients);
  } finally {
    for (const client of clients) client.close();
    for (const pool of nodePools.splice(0)) pool.close();
    await cluster.stop();
  }
}

async function measuredPhase(
  cluster: LocalCluster,
  run: () => Promise<PhaseRun>,
): Promise<{ run: PhaseRun; serverS: number; clientS: number }> {
  const serverBefore = await serverCpuSeconds(cluster);
  const clientBefore = clientCpuSeconds();
  const result = await run();
  const clientS = clientCpuSeconds() - clientBefore;
  return { run: result, serverS: (await serverCpuSeconds(cluster)) - serverBefore, clientS };
}

async function runCell(
  cluster: LocalCluster,
  clients: readonly FtfsClient[],
  cell: Cell,
  phaseMs: number,
  seed: number,
  label: string,
): Promise<CellResult> {
  const workload = new Workload(
    uidsOf(clients),
    `m${cellKey(cell)}-${seed}`,
    new Payloads(cell.sizeBytes, seed),
  );
  const spec = { loops: cell.loops, durationMs: phaseMs, clients, workload };
  const put = await measuredPhase(cluster, () =>
    runPhase({ ...spec, pick: () => "put", label: `${label} PUT` }),
  );
  const get = await measuredPhase(cluster, () =>
    runPhase({ ...spec, pick: () => "get", label: `${label} GET` }),
  );
  const putStats = phaseStats(put.run, "put", cell.sizeBytes);
  const getStats = phaseStats(get.run, "get", cell.sizeBytes);
  const perOpMs = (seconds: number, ops: number) => (ops > 0 ? (1000 * seconds) / ops : Number.NaN);
  return {
    put: putStats,
    get: getStats,
    putCpuMsPerOp: perOpMs(put.serverS, putStats.ok),
    getCpuMsPerOp: perOpMs(get.serverS, getStats.ok),
    putClientCpuMsPerOp: perOpMs(put.clientS, putStats.ok),
    getClientCpuMsPerOp: perOpMs(get.clientS, getStats.ok),
    errorSamples: [...put.run.errorSamples, ...get.run.errorSamples],
  };
}

/**
 * Every cell on a fresh cluster per repeat and layout; results per layout label, then per cell
 * key, one entry per repeat. Layouts take turns within each repeat, the first one alternating
 * (a secure/insecure pair is measured back to back, so the shared machine's load drifts alike
 * for both).
 */
export async function runFtfsMatrix(
  layouts: readonly Layout[],
  cells: readonly Cell[],
  repeats: number,
  phaseMs: number,
  workDir: string,
  log: (message: string) => void,
): Promise<Map<string, Map<string, CellResult[]>>> {
  const byLayout = new Map<string, Map<string, CellResult[]>>();
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    // Which goes first alternates: on a shared machine the load drifts within a repeat too.
    const turn = repeat % 2 === 0 ? layouts : [...layouts].reverse();
    for (const layout of turn) {
      const results = byLayout.get(layout.label) ?? new Map<string, CellResult[]>();
      byLayout.set(layout.label, results);
      await runLayoutOnce(layout, cells, repeat, phaseMs, workDir, log, results);
    }
  }
  return byLayout;
}

async function runLayoutOnce(
  layout: Layout,
  cells: readonly Cell[],
  repeat: number,
  phaseMs: number,
  workDir: string,
  log: (message: string) => void,
  results: Map<string, CellResult[]>,
): Promise<void> {
  const dataRoot = join(workDir, `ftfs-${layout.groups}g-${layout.secure ? "s" : "i"}-r${repeat}`);
  await withCluster(layout, dataRoot, async (cluster, clients) => {
    for (const cell of cells) {
      const size = `${cell.sizeBytes / 1024} KiB × ${cell.loops}`;
      const name = `FTFS ${layout.label} r${repeat + 1} ${size}`;
      const seed = repeat * 1_000 + cell.loops + 1;
      const result = await runCell(cluster, clients, cell, phaseMs, seed, name);
      const list = results.get(cellKey(cell)) ?? [];
      list.push(result);
      results.set(cellKey(cell), list);
      const side = (name: string, stats: PhaseStats) =>
        `${name} ${stats.opsPerS.toFixed(1)}/s p99 ${stats.p99Ms.toFixed(0)} ms ` +
        `err ${stats.errors}`;
      log(`${name}: ${side("PUT", result.put)}, ${side("GET", result.get)}`);
    }
  });
}

export interface KillTiming {
  readonly durationMs: number;
  readonly killAtMs: number;
  readonly restartAtMs: number;
  readonly loops: number;
  readonly sizeBytes: number;
  readonly prefill: number;
}

export interface KillResult {
  readonly killedNode: string;
  readonly newPrimaryNode: string | null;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly ok: number;
  readonly longestGapMs: number;
  readonly longestGapAtMs: number;
  readonly opsPerSBefore: number;
  readonly opsPerSDuring: number;
  readonly opsPerSAfter: number;
  /** From the kill until the directory names another primary. */
  readonly failoverMs: number | null;
  /** From the restart until the node is listed as a learner, then as in sync. */
  readonly learnerAfterMs: number | null;
  readonly inSyncAfterMs: number | null;
  readonly catchUp: CatchUpFromLog | null;
  readonly acked: number;
  readonly verifiedOk: number;
  readonly verifyFailed: number;
  readonly verifySamples: readonly string[];
}

/**
 * The restarted node's own account of its return, from its log: when (after the restart) it
 * first saw itself a learner, began copying and had caught up, and where the pass's time went.
 */
export interface CatchUpFromLog {
  readonly bytesCopied: number;
  readonly chunksCopied: number;
  readonly tookMs: number;
  readonly learnerSeenAfterMs: number | null;
  readonly begunAfterMs: number | null;
  readonly caughtUpAfterMs: number;
  readonly passesAbandoned: number;
  /** Pass time by phase: pagesWaitMs, recordMs, restMs, and fetchMs/storeMs summed per chunk. */
  readonly phases: Readonly<Record<(typeof PASS_PHASES)[number], number>>;
}

const PASS_PHASES = ["pagesWaitMs", "recordMs", "restMs", "fetchMs", "storeMs", "syncMs"] as const;

interface GroupWatch {
  readonly victim: string;
  failoverAtMs: number | null;
  droppedAtMs: number | null;
  learnerAtMs: number | null;
  inSyncAtMs: number | null;
  newPrimaryNode: string | null;
}

/**
 * Poll the directory's view of `group` from the kill on: when another node becomes primary,
 * when the killed node leaves the in-sync set, and after the restart when it is back as a
 * learner and then in sync. Times are performance.now() values.
 */
function watchGroup(
  statusClient: FtfsClient,
  group: string,
  victim: string,
  restartedAtMs: () => number | null,
): { watch: GroupWatch; stop: () => Promise<void>; inSync: Promise<void> } {
  const watch: GroupWatch = {
    victim,
    failoverAtMs: null,
    droppedAtMs: null,
    learnerAtMs: null,
    inSyncAtMs: null,
    newPrimaryNode: null,
  };
  let stopped = false;
  const inSync = Promise.withResolvers<void>();
  const poll = async (): Promise<void> => {
    while (!stopped) {
      await Bun.sleep(STATUS_POLL_MS);
      const view = await groupView(statusClient, group);
      if (view === null) continue;
      const nowMs = performance.now();
      if (watch.failoverAtMs === null && view.primaryNode !== null && view.primaryNode !== victim) {
        watch.failoverAtMs = nowMs;
        watch.newPrimaryNode = view.primaryNode;
      }
      const inReplicas = view.replicas.some((replica) => replica.node === victim);
      if (!inReplicas && watch.droppedAtMs === null) watch.droppedAtMs = nowMs;
      const restarted = restartedAtMs();
      if (restarted === null) continue;
      const learner = (view.learners ?? []).some((replica) => replica.node === victim);
      if (learner && watch.learnerAtMs === null) watch.learnerAtMs = nowMs;
      // In sync only counts once it had left the set: else it was never seen gone at all.
      if (inReplicas && watch.droppedAtMs !== null && watch.inSyncAtMs === null) {
        watch.inSyncAtMs = nowMs;
        inSync.resolve();
      }
    }
  };
  const polling = poll();
  return {
    watch,
    inSync: inSync.promise,
    stop: async () => {
      stopped = true;
      await polling;
    },
  };
}

async function groupView(client: FtfsClient, group: string) {
  const status = await statusWithin(client);
  return status?.groups.find((view) => view.group === group) ?? null;
}

/** The restarted node's log lines after `sinceIso`, parsed (a torn last line is skipped). */
async function logEntriesAfter(
  node: NodeProcess,
  sinceIso: string,
): Promise<Record<string, unknown>[]> {
  const text = await node.log().catch(() => "");
  const entries: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (typeof entry.time === "string" && entry.time >= sinceIso) entries.push(entry);
    } catch {
      // A torn last line while the node writes: the next read has it whole.
    }
  }
  return entries;
}

/** The restarted node's first catch-up after `sinceIso`, from its log lines. */
async function catchUpFromLog(node: NodeProcess, sinceIso: string): Promise<CatchUpFromLog | null> {
  const entries = await logEntriesAfter(node, sinceIso);
  const afterMs = (entry: Record<string, unknown> | undefined) =>
    entry === undefined ? null : Date.parse(String(entry.time)) - Date.parse(sinceIso);
  const learnerSeen = entries.find((e) => e.msg === "group view" && e.role === "learner");
  const begun = entries.find((e) => e.msg === "catch-up begun");
  const done = entries.find((e) => e.msg === "caught up with the group primary");
  if (done === undefined) return null;
  const number = (key: string) => Number(done[key] ?? 0);
  const [bytesCopied, chunksCopied, tookMs] = [
    number("bytesCopied"),
    number("chunksCopied"),
    number("tookMs"),
  ];
  if (![bytesCopied, chunksCopied, tookMs].every(Number.isFinite)) return null;
  const phases = Object.fromEntries(PASS_PHASES.map((phase) => [phase, number(phase)]));
  return {
    bytesCopied,
    chunksCopied,
    tookMs,
    learnerSeenAfterMs: afterMs(learnerSeen),
    begunAfterMs: afterMs(begun),
    caughtUpAfterMs: afterMs(done) ?? 0,
    passesAbandoned: number("passesAbandoned"),
    phases: phases as CatchUpFromLog["phases"],
  };
}

async function prefill(
  workload: Workload,
  clients: readonly FtfsClient[],
  count: number,
): Promise<void> {
  let started = 0;
  const loop = async (index: number): Promise<void> => {
    const client = clients[index % clients.length];
    while (client !== undefined && started < count) {
      started += 1;
      await workload.put(client);
    }
  };
  await Promise.all(Array.from({ length: PREFILL_LOOPS }, (_, index) => loop(index)));
}

/** Every acknowledged PUT read back (each through the client of its writer) and compared. */
async function verifyAll(
  workload: Workload,
): Promise<{ ok: number; failed: number; samples: string[] }> {
  const keys = [...workload.acked];
  let next = 0;
  let ok = 0;
  const failures: string[] = [];
  const loop = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next] ?? 0;
      next += 1;
      try {
        if (await workload.verify(key)) ok += 1;
        else failures.push(`${workload.name(key)}: bytes differ`);
      } catch (error) {
        failures.push(
          `${workload.name(key)}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: VERIFY_LOOPS }, () => loop()));
  return { ok, failed: failures.length, samples: failures.slice(0, 5) };
}

/** The kill and the restart, timed from the phase's start, and the group watch they begin. */
class KillSchedule {
  phaseStartMs = 0;
  killedAtMs: number | null = null;
  restartedAtMs: number | null = null;
  restartIso = "";
  watcher: ReturnType<typeof watchGroup> | null = null;
  private readonly timers: Array<ReturnType<typeof setTimeout>> = [];

  constructor(
    private readonly victim: NodeProcess,
    private readonly statusClient: FtfsClient,
    private readonly timing: KillTiming,
  ) {}

  start(phaseStartMs: number): void {
    this.phaseStartMs = phaseStartMs;
    this.timers.push(
      setTimeout(() => {
        this.killedAtMs = performance.now();
        this.victim.kill("SIGKILL");
        this.watcher = watchGroup(
          this.statusClient,
          "g1",
          this.victim.id,
          () => this.restartedAtMs,
        );
      }, this.timing.killAtMs),
    );
    this.timers.push(
      setTimeout(() => {
        this.restartIso = new Date().toISOString();
        this.restartedAtMs = performance.now();
        this.victim.start();
      }, this.timing.restartAtMs),
    );
  }

  cancel(): void {
    for (const timer of this.timers) clearTimeout(timer);
  }
}

async function killOnce(
  secure: boolean,
  timing: KillTiming,
  dataRoot: string,
  seed: number,
  log: (message: string) => void,
): Promise<KillResult> {
  const layout = { label: "kill", groups: 1, secure };
  return withCluster(layout, dataRoot, async (cluster, clients) => {
    const statusClient = nodeClient(cluster);
    try {
      const victimId = (await groupView(statusClient, "g1"))?.primaryNode ?? null;
      if (victimId === null) throw new Error("group g1 has no primary before the kill");
      const payloads = new Payloads(timing.sizeBytes, seed);
      const workload = new Workload(uidsOf(clients), `k${seed}`, payloads);
      await prefill(workload, clients, timing.prefill);
      log(`FTFS kill: prefilled ${workload.acked.length}; primary of g1 is ${victimId}`);
      const schedule = new KillSchedule(cluster.node(victimId), statusClient, timing);
      const run = await runPhase({
        loops: timing.loops,
        durationMs: timing.durationMs,
        clients,
        workload,
        pick: () => (Math.random() < KILL_GET_RATIO ? "get" : "put"),
        onStart: (startMs) => schedule.start(startMs),
        label:
          `FTFS kill: ${victimId} killed at ${timing.killAtMs / 1000} s, ` +
          `restarted at ${timing.restartAtMs / 1000} s`,
      });
      schedule.cancel();
      const watcher = schedule.watcher;
      if (watcher === null || schedule.restartedAtMs === null) {
        throw new Error(
          "the kill or the restart never ran: the phase is shorter than its schedule",
        );
      }
      await Promise.race([watcher.inSync, Bun.sleep(IN_SYNC_DEADLINE_MS)]);
      await watcher.stop();
      const verified = await verifyAll(workload);
      const catchUp = await catchUpFromLog(cluster.node(victimId), schedule.restartIso);
      return killResult(
        schedule,
        watcher.watch,
        run,
        workload,
        verified,
        catchUp,
        timing.sizeBytes,
      );
    } finally {
      statusClient.close();
    }
  });
}

function killResult(
  schedule: KillSchedule,
  watch: GroupWatch,
  run: PhaseRun,
  workload: Workload,
  verified: { ok: number; failed: number; samples: string[] },
  catchUp: KillResult["catchUp"],
  sizeBytes: number,
): KillResult {
  const stats = phaseStats(run, "all", sizeBytes);
  const killedMs = (schedule.killedAtMs ?? 0) - schedule.phaseStartMs;
  const restartedMs = (schedule.restartedAtMs ?? 0) - schedule.phaseStartMs;
  const since = (atMs: number | null, fromMs: number | null) =>
    atMs === null || fromMs === null ? null : atMs - fromMs;
  return {
    killedNode: watch.victim,
    newPrimaryNode: watch.newPrimaryNode,
    errors: stats.errors,
    errorSamples: run.errorSamples,
    ok: stats.ok,
    longestGapMs: stats.longestGapMs,
    longestGapAtMs: stats.longestGapAtMs,
    opsPerSBefore: okRate(run.records, 0, killedMs),
    opsPerSDuring: okRate(run.records, killedMs, restartedMs),
    opsPerSAfter: okRate(run.records, restartedMs, run.wallMs),
    failoverMs: since(watch.failoverAtMs, schedule.killedAtMs),
    learnerAfterMs: since(watch.learnerAtMs, schedule.restartedAtMs),
    inSyncAfterMs: since(watch.inSyncAtMs, schedule.restartedAtMs),
    catchUp,
    acked: workload.acked.length,
    verifiedOk: verified.ok,
    verifyFailed: verified.failed,
    verifySamples: verified.samples,
  };
}

export async function runFtfsKill(
  secure: boolean,
  timing: KillTiming,
  repeats: number,
  workDir: string,
  log: (message: string) => void,
): Promise<KillResult[]> {
  const results: KillResult[] = [];
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    const result = await killOnce(
      secure,
      timing,
      join(workDir, `ftfs-kill-r${repeat + 1}`),
      7_000 + repeat,
      log,
    );
    results.push(result);
    const seconds = (ms: number | null, digits: number) =>
      ms === null ? "never" : `${(ms / 1000).toFixed(digits)} s`;
    log(
      `FTFS kill r${repeat + 1}: killed ${result.killedNode}, errors ${result.errors}, ` +
        `gap ${seconds(result.longestGapMs, 2)} at ${seconds(result.longestGapAtMs, 1)}, ` +
        `in sync ${seconds(result.inSyncAfterMs, 1)} after the restart, ` +
        `verified ${result.verifiedOk}/${result.acked}`,
    );
    log(`FTFS kill r${repeat + 1}: ${describeReturn(result)}`);
  }
  return results;
}

/** Where the time from restart to in sync went, as one line. */
function describeReturn(result: KillResult): string {
  const inSync =
    result.inSyncAfterMs === null ? "never" : `${(result.inSyncAfterMs / 1000).toFixed(2)} s`;
  return `in sync (directory) ${inSync} after the restart; ${describeCatchUp(result.catchUp)}`;
}

/** A restarted backup's catch-up alone: what it missed, and no client load while it copies. */
export interface CatchUpTiming {
  /** Objects written while the backup is down (each one chunk). */
  readonly objects: number;
  readonly sizeBytes: number;
}

export interface CatchUpResult {
  readonly node: string;
  /** From the restart until the directory lists the node in sync again. */
  readonly inSyncAfterMs: number | null;
  readonly catchUp: CatchUpFromLog | null;
}

/** Poll the group's view until `holds` says yes, or the deadline passes; answers when (or null). */
async function waitForView(
  client: FtfsClient,
  holds: (view: NonNullable<Awaited<ReturnType<typeof groupView>>>) => boolean,
  deadlineMs: number,
): Promise<number | null> {
  const endMs = performance.now() + deadlineMs;
  while (performance.now() < endMs) {
    const view = await groupView(client, "g1");
    if (view !== null && holds(view)) return performance.now();
    await Bun.sleep(STATUS_POLL_MS);
  }
  return null;
}

async function catchUpOnce(
  timing: CatchUpTiming,
  dataRoot: string,
  seed: number,
): Promise<CatchUpResult> {
  const layout = { label: "catch-up", groups: 1, secure: false };
  return withCluster(layout, dataRoot, async (cluster, clients) => {
    const statusClient = nodeClient(cluster);
    try {
      const view = await groupView(statusClient, "g1");
      const victim = view?.replicas.find((replica) => replica.node !== view.primaryNode)?.node;
      if (victim === undefined) throw new Error("group g1 has no backup to stop");
      cluster.node(victim).kill("SIGKILL");
      const inReplicas = (v: { replicas: readonly { node: string }[] }) =>
        v.replicas.some((replica) => replica.node === victim);
      await waitForView(statusClient, (v) => !inReplicas(v), IN_SYNC_DEADLINE_MS);
      const workload = new Workload(
        uidsOf(clients),
        `c${seed}`,
        new Payloads(timing.sizeBytes, seed),
      );
      await prefill(workload, clients, timing.objects);
      const restartIso = new Date().toISOString();
      const restartedMs = performance.now();
      cluster.node(victim).start();
      const inSyncMs = await waitForView(statusClient, inReplicas, IN_SYNC_DEADLINE_MS);
      const catchUp = await catchUpFromLog(cluster.node(victim), restartIso);
      const inSyncAfterMs = inSyncMs === null ? null : inSyncMs - restartedMs;
      return { node: victim, inSyncAfterMs, catchUp };
    } finally {
      statusClient.close();
    }
  });
}

/** The catch-up trial, `repeats` times on fresh clusters; each repeat logs its timeline. */
export async function runFtfsCatchUp(
  timing: CatchUpTiming,
  repeats: number,
  workDir: string,
  log: (message: string) => void,
): Promise<CatchUpResult[]> {
  const results: CatchUpResult[] = [];
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    const dataRoot = join(workDir, `ftfs-catch-up-r${repeat + 1}`);
    const result = await catchUpOnce(timing, dataRoot, 9_000 + repeat);
    results.push(result);
    const inSync =
      result.inSyncAfterMs === null ? "never" : `${(result.inSyncAfterMs / 1000).toFixed(2)} s`;
    const line = describeCatchUp(result.catchUp);
    log(
      `FTFS catch-up r${repeat + 1}: ${result.node} in sync ${inSync} after its restart; ${line}`,
    );
  }
  return results;
}

/** The node's own timeline of one catch-up, as one line. */
function describeCatchUp(c: CatchUpFromLog | null): string {
  if (c === null) return "no catch-up line in its log";
  const s = (ms: number | null) => (ms === null ? "never" : `${(ms / 1000).toFixed(2)} s`);
  const mib = c.bytesCopied / (1024 * 1024);
  const rate = c.tookMs > 0 ? mib / (c.tookMs / 1000) : 0;
  const phases = PASS_PHASES.map((phase) => `${phase} ${c.phases[phase]}`).join(", ");
  return (
    `learner ${s(c.learnerSeenAfterMs)}, copy begun ${s(c.begunAfterMs)}, caught up ` +
    `${s(c.caughtUpAfterMs)}; pass ${c.tookMs} ms, ${c.chunksCopied} chunks, ` +
    `${mib.toFixed(1)} MiB at ${rate.toFixed(1)} MiB/s, ${c.passesAbandoned} abandoned; ${phases}`
  );
}
