/**
 * The directory group itself on the simulator: real DirectoryReplicas (the Raft core, the real
 * state machine and the replica bookkeeping the real node runs, core/replica.ts) on the
 * in-memory store, exchanging Raft messages over the faulty simulated network; real requests
 * from simulated clients over the same network, retried as the CLI retries (same upload id,
 * same delete request id, following NOT_PRIMARY hints). Each replica's disk (its Raft log and
 * its applied state) survives its crashes, and nothing else does.
 *
 * A schedule crashes, restarts, pauses and resumes replicas, partitions the group (clients on
 * either side), cuts links one way, raises false suspicions and loses, duplicates and reorders
 * packets, while clients upload, update, delete, read and list a few names. Then it heals.
 * Checked: the clients' history by the same per-file linearizability checker the chaos suite
 * uses, with a final read of every name and of every kept version; one primary per term;
 * after the heal, every client operation finishes and every replica holds the same state.
 */

import { ok, Prng, type raft, uploadIdWithDeadline, type Result } from "@ftfs/protocol/core";
import {
  DirectoryReplica,
  findManifest,
  listLiveFiles,
  MemoryMetadataStore,
  RAFT_TICK_MS,
  type Command,
  type Outcome,
  type ReplicaDisk,
} from "@ftfs/directory/core";
import { groupConfig } from "@ftfs/directory/testing";
import {
  MemoryDurableStore,
  Simulator,
  type PathOptions,
  type SimProcess,
} from "@ftfs/protocol/testing";
import {
  checkHistory,
  formatOp,
  keptVersions,
  OpLog,
  type FinalRead,
  type ListedFile,
  type Op,
  type OpKind,
} from "@ftfs/protocol/testing/history";

const UID = "alice";
const GROUP = "s1";
const NAMES = ["a", "b", "c"] as const;
const CLIENTS = 5;
/** The directory's --keep-versions in this run; the checker holds pruning to it. */
const KEEP_VERSIONS = 3;
/** Simulated wall clock at the start: commands carry times, as the real proposer's do. */
const T0_MS = 1_700_000_000_000;
/** Far beyond the run: no upload expires (expiry has its own simulation, gc-protocol). */
const UPLOAD_DEADLINE_MS = 3_600_000;
/** Small, so snapshots are taken and sent to lagging replicas many times per run. */
const COMPACT_EVERY_ENTRIES = 25;
const FAULT_PHASE_MS = 12_000;
const NEMESIS_STEP_MS = 300;
/** A client resends an unanswered request (to another replica) after this long. */
const REQUEST_TIMEOUT_MS = 600;
/** A client gives up on an operation after this long: a change is then of unknown outcome. */
const OP_DEADLINE_MS = 2_000;
/** Chance an operation starts at a random replica rather than the last primary it heard of. */
const STALE_GUESS_PROBABILITY = 0.25;
/**
 * After the heal: elections (a few timeouts of 1–2 s), then every open operation finishes and
 * every replica applies the same entries.
 */
const HEAL_BOUND_MS = 20_000;
/** Far below the network's 1 ms granularity, and summed over a run still below it. */
const CLOCK_STEP_MS = 1e-7;

type Address = string;

type ClientRequest =
  | {
      readonly type: "commit";
      readonly name: string;
      readonly uploadId: string;
      readonly sha256: string;
      readonly bytes: number;
    }
  | { readonly type: "delete"; readonly name: string; readonly requestId: string }
  | { readonly type: "read"; readonly name: string }
  | { readonly type: "list" };

type Answer =
  | { readonly type: "commit"; readonly version: number }
  | { readonly type: "delete"; readonly deletedVersion: number }
  | { readonly type: "read"; readonly version: number; readonly sha256: string }
  | { readonly type: "list"; readonly listed: readonly ListedFile[] };

type Wire =
  | { readonly kind: "raft"; readonly message: raft.RaftMessage }
  | { readonly kind: "request"; readonly seq: number; readonly request: ClientRequest }
  | { readonly kind: "reply"; readonly seq: number; readonly result: Result<Answer> };

/** A replica's disk: what survives its crash. One event is atomic, as one transaction is. */
class SimDisk implements ReplicaDisk {
  /** These replicas are never wiped, so one folder each is enough (and none is bound). */
  readonly raftStore = new MemoryDurableStore("sim-disk");
  readonly state = new MemoryMetadataStore();

  loadRaft(): raft.DurableState {
    return this.raftStore.load();
  }

  transaction<T>(work: () => T): T {
    return work();
  }

  saveRaft(ready: raft.Ready): void {
    this.raftStore.save(ready);
  }

  installSnapshot(ready: raft.Ready & { readonly snapshot: raft.Snapshot }): void {
    this.raftStore.save(ready);
    this.state.importState(ready.snapshot.data, ready.snapshot.index);
  }

  isDiskError(): boolean {
    return false;
  }
}

class ReplicaProcess implements SimProcess<Address, Wire> {
  readonly replica: DirectoryReplica;
  private readonly cluster: DirectoryCluster;
  private readonly disk: SimDisk;
  private outgoing: Array<{ to: Address; payload: Wire }> = [];

  constructor(cluster: DirectoryCluster, id: string, disk: SimDisk, seed: number) {
    this.cluster = cluster;
    this.disk = disk;
    this.replica = new DirectoryReplica({
      id,
      members: cluster.replicaIds,
      disk,
      seed,
      addressOf: (member) => member,
      compactEveryEntries: COMPACT_EVERY_ENTRIES,
    });
    this.pump();
  }

  tick(nowMs: number): void {
    this.replica.tick(nowMs);
    this.pump();
  }

  receive(nowMs: number, from: Address, payload: Wire): void {
    if (payload.kind === "raft") this.replica.step(payload.message);
    else if (payload.kind === "request") this.serve(nowMs, from, payload.seq, payload.request);
    this.pump();
  }

  /** A refused connection to the primary is evidence against it, as the real transport's is. */
  unreachable(_nowMs: number, to: Address): void {
    if (this.replica.suspects(to)) this.replica.campaign();
    this.pump();
  }

  takeOutgoing(): Array<{ to: Address; payload: Wire }> {
    return this.outgoing.splice(0);
  }

  /** As the handlers do: the proposer stamps the command; reads wait for a read barrier. */
  private serve(nowMs: number, client: Address, seq: number, request: ClientRequest): void {
    const reply = (result: Result<Answer>): void => {
      this.outgoing.push({ to: client, payload: { kind: "reply", seq, result } });
    };
    const atMs = T0_MS + nowMs;
    const state = this.disk.state;
    switch (request.type) {
      case "commit": {
        const command: Command = {
          type: "commitVersion",
          uid: UID,
          name: request.name,
          uploadId: request.uploadId,
          bytes: request.bytes,
          sha256: request.sha256,
          chunks: [{ id: request.sha256, bytes: request.bytes, group: GROUP }],
          atMs,
          keepVersions: KEEP_VERSIONS,
        };
        this.replica.propose(command, nowMs, (result) =>
          reply(mapOk(result, (outcome) => ({ type: "commit", version: versionOf(outcome) }))),
        );
        return;
      }
      case "delete": {
        const command: Command = {
          type: "deleteFile",
          uid: UID,
          name: request.name,
          requestId: request.requestId,
          atMs,
        };
        this.replica.propose(command, nowMs, (result) =>
          reply(
            mapOk(result, (outcome) => ({ type: "delete", deletedVersion: deletedOf(outcome) })),
          ),
        );
        return;
      }
      case "read":
        this.replica.readBarrier(nowMs, (barrier) => {
          if (!barrier.ok) return reply(barrier);
          const found = findManifest(state, UID, request.name, undefined);
          reply(
            mapOk(found, ({ manifest }) => ({
              type: "read",
              version: manifest.version,
              sha256: manifest.sha256,
            })),
          );
        });
        return;
      case "list":
        this.replica.readBarrier(nowMs, (barrier) => {
          if (!barrier.ok) return reply(barrier);
          const files = listLiveFiles(state, UID);
          reply(
            mapOk(files, (entries) => ({
              type: "list",
              listed: entries.map(({ name, version, sha256 }) => ({ name, version, sha256 })),
            })),
          );
        });
        return;
    }
  }

  /** The real driver's loop: drain, send, report; compact when the log has grown. */
  private pump(): void {
    const output = this.replica.drain();
    for (const message of output.messages) {
      this.outgoing.push({ to: message.to, payload: { kind: "raft", message } });
    }
    for (const event of output.events) {
      if (event.kind === "leadership" && event.leading) {
        this.cluster.recordPrimary(this.replica.id, this.replica.term);
      }
      if (event.kind === "skipped") {
        this.cluster.problems.push(
          `${this.replica.id} skipped entry ${event.index}: ${event.reason}`,
        );
      }
    }
    if (this.replica.compactionDue()) {
      // The real node exports on a worker meanwhile; here the export is instant.
      const index = this.disk.state.lastApplied();
      this.replica.compact(index, this.disk.state.exportState());
    }
  }
}

function mapOk<T, U>(result: Result<T>, map: (value: T) => U): Result<U> {
  return result.ok ? ok(map(result.value)) : result;
}

function versionOf(outcome: Outcome): number {
  if (typeof outcome === "object" && outcome !== null && "version" in outcome) {
    return outcome.version as number;
  }
  throw new Error("a commit answered without a version");
}

function deletedOf(outcome: Outcome): number {
  if (typeof outcome === "object" && outcome !== null && "deletedVersion" in outcome) {
    return outcome.deletedVersion as number;
  }
  throw new Error("a delete answered without the version it deleted");
}

interface OpenOp {
  readonly op: Op;
  readonly request: ClientRequest;
  readonly startedMs: number;
  seq: number;
  target: Address;
  sentMs: number;
  /** Resend no earlier than this (after a retryable refusal). */
  resendAtMs: number;
}

/** A user's client: one operation at a time, retried the way the CLI retries it. */
class ClientProcess implements SimProcess<Address, Wire> {
  private readonly cluster: DirectoryCluster;
  private readonly index: number;
  private readonly prng: Prng;
  private open: OpenOp | null = null;
  private nextSeq = 1;
  private leaderGuess: Address;
  private outgoing: Array<{ to: Address; payload: Wire }> = [];

  constructor(cluster: DirectoryCluster, index: number, prng: Prng) {
    this.cluster = cluster;
    this.index = index;
    this.prng = prng;
    this.leaderGuess = prng.pick(cluster.replicaIds);
  }

  get idle(): boolean {
    return this.open === null;
  }

  tick(nowMs: number): void {
    const open = this.open;
    if (open === null) {
      if (this.cluster.loadRunning) this.start(nowMs);
      return;
    }
    if (nowMs - open.startedMs >= OP_DEADLINE_MS) return this.finish(nowMs, null, "gave up");
    if (nowMs >= open.resendAtMs && nowMs - open.sentMs >= REQUEST_TIMEOUT_MS) {
      // No answer: perhaps that replica is gone; ask another.
      this.leaderGuess = this.prng.pick(this.cluster.replicaIds);
      this.send(nowMs, open, this.leaderGuess);
    } else if (nowMs >= open.resendAtMs && open.sentMs < open.resendAtMs) {
      this.send(nowMs, open, this.leaderGuess);
    }
  }

  receive(nowMs: number, _from: Address, payload: Wire): void {
    const open = this.open;
    if (payload.kind !== "reply" || open === null || payload.seq !== open.seq) return;
    const { result } = payload;
    if (result.ok) return this.finish(nowMs, result.value, null);
    const { code, hint } = result.error;
    const primary = typeof hint?.primary === "string" ? hint.primary : null;
    if (code === "NOT_PRIMARY" && primary !== null) {
      this.leaderGuess = primary;
      return this.send(nowMs, open, primary);
    }
    if (code === "NOT_PRIMARY" || code === "UNAVAILABLE" || code === "TOO_BUSY") {
      this.leaderGuess = this.prng.pick(this.cluster.replicaIds);
      open.resendAtMs = nowMs + RAFT_TICK_MS + this.prng.intBelow(2 * RAFT_TICK_MS);
      return;
    }
    if (code === "NOT_FOUND" && (open.request.type === "read" || open.request.type === "delete")) {
      this.cluster.log.absent(open.op, result.error.message);
      this.open = null;
      this.scheduleNext(nowMs);
      return;
    }
    this.cluster.problems.push(
      `client ${this.index}: unexpected answer ${code}: ${result.error.message}`,
    );
    this.finish(nowMs, null, `${code}: ${result.error.message}`);
  }

  unreachable(): void {}

  takeOutgoing(): Array<{ to: Address; payload: Wire }> {
    return this.outgoing.splice(0);
  }

  private start(nowMs: number): void {
    const log = this.cluster.log;
    const name = this.prng.pick(NAMES);
    const roll = this.prng.intBelow(100);
    let kind: OpKind;
    let request: ClientRequest;
    let op: Op;
    const id = log.ops.length;
    if (roll < 40) {
      kind = this.cluster.knownLive.has(name) ? "update" : "upload";
      // Unique bytes per write (as the chaos workload stamps them): its hash names the write.
      const sha256 = `${id.toString(16).padStart(8, "0")}${"e".repeat(56)}`;
      const bytes = 100 + id;
      request = {
        type: "commit",
        name,
        sha256,
        bytes,
        uploadId: uploadIdWithDeadline(T0_MS + nowMs + UPLOAD_DEADLINE_MS, `c${this.index}-${id}`),
      };
      op = log.invoke(this.index, kind, UID, name, { sha256, bytes });
    } else if (roll < 55) {
      request = { type: "delete", name, requestId: `c${this.index}-d${id}` };
      op = log.invoke(this.index, "delete", UID, name);
    } else if (roll < 90) {
      request = { type: "read", name };
      op = log.invoke(this.index, "read", UID, name);
    } else {
      request = { type: "list" };
      op = log.invoke(this.index, "list", UID, null);
    }
    const open: OpenOp = {
      op,
      request,
      startedMs: nowMs,
      seq: 0,
      target: this.leaderGuess,
      sentMs: nowMs,
      resendAtMs: nowMs,
    };
    this.open = open;
    // Some clients start from a stale idea of the primary (an old session, a cluster list in
    // another order): a deposed primary must then refuse, not answer from its old state.
    if (this.prng.chance(STALE_GUESS_PROBABILITY))
      this.leaderGuess = this.prng.pick(this.cluster.replicaIds);
    this.send(nowMs, open, this.leaderGuess);
  }

  private send(nowMs: number, open: OpenOp, to: Address): void {
    open.seq = this.nextSeq++;
    open.target = to;
    open.sentMs = nowMs;
    this.outgoing.push({ to, payload: { kind: "request", seq: open.seq, request: open.request } });
  }

  private finish(nowMs: number, answer: Answer | null, error: string | null): void {
    const open = this.open;
    if (open === null) return;
    this.open = null;
    this.record(open.op, answer, error);
    this.scheduleNext(nowMs);
  }

  private record(op: Op, answer: Answer | null, error: string | null): void {
    const log = this.cluster.log;
    if (answer === null) return log.failed(op, error ?? "failed");
    switch (answer.type) {
      case "commit":
        this.cluster.knownLive.add(op.name ?? "");
        return log.ok(op, { version: answer.version });
      case "delete":
        this.cluster.knownLive.delete(op.name ?? "");
        return log.ok(op, { version: answer.deletedVersion });
      case "read":
        return log.ok(op, { version: answer.version, sha256: answer.sha256 });
      case "list":
        return log.ok(op, { listed: answer.listed });
    }
  }

  /** The next operation starts at once: the load is as heavy as the group lets it be. */
  private scheduleNext(nowMs: number): void {
    if (this.cluster.loadRunning) this.start(nowMs);
  }
}

export class DirectoryCluster {
  readonly sim: Simulator<Address, Wire>;
  readonly replicaIds: readonly string[];
  readonly clientIds: readonly string[];
  readonly log: OpLog;
  readonly problems: string[] = [];
  /** Names some client saw committed and not since deleted: writes to them are "updates". */
  readonly knownLive = new Set<string>();
  loadRunning = true;
  private readonly disks = new Map<string, SimDisk>();
  private readonly primaryOfTerm = new Map<number, string>();

  constructor(seed: number, size: number, path: PathOptions) {
    this.sim = new Simulator<Address, Wire>({
      seed,
      tickIntervalMs: RAFT_TICK_MS,
      path,
      payloadBytes: () => 0,
      pausedInbox: "queue",
      unreachableProbability: 0.5,
    });
    // Events at one simulated instant still happen one after another: a tiny step per reading
    // keeps an op that ends before the next one starts strictly before it, as it was.
    let readings = 0;
    this.log = new OpLog(() => this.sim.nowMs + ++readings * CLOCK_STEP_MS);
    this.replicaIds = Array.from({ length: size }, (_, i) => `d${i + 1}`);
    this.clientIds = Array.from({ length: CLIENTS }, (_, i) => `c${i + 1}`);
    for (const id of this.replicaIds) this.disks.set(id, new SimDisk());
  }

  boot(id: string): void {
    const disk = this.disks.get(id);
    if (disk === undefined) throw new Error(`no replica ${id}`);
    const seed = this.sim.prng.intBelow(2 ** 31);
    this.sim.start(id, new ReplicaProcess(this, id, disk, seed));
  }

  startClients(): void {
    for (const [index, id] of this.clientIds.entries()) {
      this.sim.start(id, new ClientProcess(this, index, this.sim.prng.fork()));
    }
  }

  replica(id: string): DirectoryReplica | null {
    const process = this.sim.process(id);
    return process instanceof ReplicaProcess && this.sim.status(id) === "up"
      ? process.replica
      : null;
  }

  /** The running replica serving as primary in the highest term, if any. */
  primary(): string | null {
    let best: string | null = null;
    let bestTerm = -1;
    for (const id of this.replicaIds) {
      const replica = this.replica(id);
      if (replica?.isLeader === true && replica.term > bestTerm) {
        best = id;
        bestTerm = replica.term;
      }
    }
    return best;
  }

  disk(id: string): SimDisk {
    const disk = this.disks.get(id);
    if (disk === undefined) throw new Error(`no replica ${id}`);
    return disk;
  }

  clientsIdle(): boolean {
    return this.clientIds.every((id) => {
      const process = this.sim.process(id);
      return process instanceof ClientProcess && process.idle;
    });
  }

  recordPrimary(id: string, term: number): void {
    const known = this.primaryOfTerm.get(term);
    if (known === undefined) this.primaryOfTerm.set(term, id);
    else if (known !== id) this.problems.push(`two primaries in term ${term}: ${known} and ${id}`);
  }

  /** Runs until `done` holds (checked every tick) or `timeoutMs` passes: time taken or null. */
  runUntil(done: () => boolean, timeoutMs: number): number | null {
    const startMs = this.sim.nowMs;
    for (;;) {
      if (done()) return this.sim.nowMs - startMs;
      if (this.sim.nowMs - startMs >= timeoutMs) return null;
      this.sim.runFor(RAFT_TICK_MS);
    }
  }

  /** The operator's first steps, through the primary: the user exists, the group is known. */
  setUp(): string | null {
    const setupCommands: Command[] = [
      { type: "createUser", uid: UID, atMs: T0_MS },
      { type: "setGroupConfig", config: groupConfig(GROUP, ["s1a", "s1b", "s1c"]), atMs: T0_MS },
    ];
    let done = 0;
    let inFlight = false;
    const elected = this.runUntil(() => {
      const primary = this.primary();
      const command = setupCommands[done];
      if (primary === null || command === undefined || inFlight)
        return done === setupCommands.length;
      // One at a time, so they commit in order; a refusal (a lost primary) asks again.
      inFlight = true;
      this.sim.act(primary, () =>
        this.replica(primary)?.propose(command, this.sim.nowMs, (result) => {
          inFlight = false;
          if (result.ok) done += 1;
        }),
      );
      return false;
    }, HEAL_BOUND_MS);
    return elected === null ? "the group never elected a primary to set up" : null;
  }
}

/** A random path: delay, and some loss, duplication and reordering. */
function faultyPath(prng: Prng): PathOptions {
  return {
    delayMinMs: 1,
    delayMaxMs: 1 + prng.intBelow(20),
    lossProbability: prng.intBelow(3) * 0.05,
    duplicateProbability: prng.intBelow(3) * 0.05,
    reorderProbability: prng.intBelow(3) * 0.1,
    reorderDelayMs: 50,
  };
}

/** Chance per step that a crashed or paused replica comes back, so faults overlap but pass. */
const RECOVER_PROBABILITY = 0.2;

function nemesis(cluster: DirectoryCluster, prng: Prng): void {
  const { sim } = cluster;
  const stopped = cluster.replicaIds.filter((id) => sim.status(id) !== "up");
  if (stopped.length > 0 && prng.chance(RECOVER_PROBABILITY)) {
    const id = prng.pick(stopped);
    if (sim.status(id) === "down") cluster.boot(id);
    else sim.resume(id);
    return;
  }
  const id = prng.pick(cluster.replicaIds);
  const up = sim.status(id) === "up";
  const roll = prng.intBelow(100);
  if (roll < 15) {
    if (up) sim.crash(id);
  } else if (roll < 27) {
    if (up) sim.pause(id);
  } else if (roll < 34) {
    // Clients fall on either side too: a client cut off from the majority must never be
    // answered wrongly by the minority.
    const everyone = prng.shuffle([...cluster.replicaIds, ...cluster.clientIds]);
    const cut = 1 + prng.intBelow(everyone.length - 1);
    sim.network.partition([everyone.slice(0, cut), everyone.slice(cut)]);
  } else if (roll < 50) {
    // The primary cut off with a client or two: until it steps down it must not answer them
    // from a state the majority has moved past.
    const primary = cluster.primary();
    if (primary === null) return;
    const clients = prng.shuffle([...cluster.clientIds]).slice(0, 1 + prng.intBelow(2));
    const minority = [primary, ...clients];
    const rest = [...cluster.replicaIds, ...cluster.clientIds].filter((a) => !minority.includes(a));
    sim.network.partition([minority, rest]);
  } else if (roll < 60) {
    sim.network.heal();
  } else if (roll < 70) {
    const other = prng.pick(cluster.replicaIds);
    if (other !== id) sim.network.cutOneWay(id, other);
  } else if (roll < 80) {
    // Gossip may suspect a healthy primary: pre-vote must keep that harmless.
    if (up) sim.act(id, () => cluster.replica(id)?.campaign());
  }
  // Otherwise a quiet step.
}

export interface DirectoryScenarioResult {
  readonly problems: string[];
  readonly measuredMs: Record<string, number>;
  readonly ops: number;
}

/** One seeded schedule: set up, fault phase under load, heal, converge, read back, check. */
export function directoryLinearizability(seed: number): DirectoryScenarioResult {
  const prng = new Prng(seed);
  const size = prng.pick([1, 3, 3, 3, 5]);
  const path = faultyPath(prng);
  const cluster = new DirectoryCluster(seed, size, { ...path, lossProbability: 0 });
  for (const id of cluster.replicaIds) cluster.boot(id);
  const setUpProblem = cluster.setUp();
  if (setUpProblem !== null) return { problems: [setUpProblem], measuredMs: {}, ops: 0 };
  cluster.sim.network.setDefaults(path);
  cluster.startClients();

  const endMs = cluster.sim.nowMs + FAULT_PHASE_MS;
  while (cluster.sim.nowMs < endMs) {
    cluster.sim.runFor(NEMESIS_STEP_MS);
    nemesis(cluster, prng);
  }

  // Heal: every replica up, no loss, no cuts; the load stops and what is open finishes.
  const { sim } = cluster;
  sim.network.heal();
  sim.network.setDefaults({ ...path, lossProbability: 0 });
  for (const id of cluster.replicaIds) {
    if (sim.status(id) === "down") cluster.boot(id);
    if (sim.status(id) === "paused") sim.resume(id);
  }
  cluster.loadRunning = false;
  const problems = [...cluster.problems];
  const convergedMs = cluster.runUntil(() => converged(cluster), HEAL_BOUND_MS);
  if (convergedMs === null) {
    const open = cluster.log.ops.filter((op) => op.status === "pending").map(formatOp);
    const applied = cluster.replicaIds.map((id) => `${id}@${cluster.disk(id).state.lastApplied()}`);
    problems.push(
      `not converged ${HEAL_BOUND_MS} ms after the heal: primary ${cluster.primary()}, ` +
        `applied ${applied.join(" ")}, open ops ${open.join("; ") || "none"}`,
    );
    return { problems, measuredMs: {}, ops: cluster.log.ops.length };
  }
  problems.push(...sameStateEverywhere(cluster));
  const finals = finalReads(cluster);
  const rules = { keepVersions: KEEP_VERSIONS };
  for (const violation of checkHistory(cluster.log.ops, finals, rules)) {
    const shown = violation.opIds
      .map((opId) => cluster.log.ops[opId])
      .filter((op): op is Op => op !== undefined)
      .map(formatOp);
    problems.push(
      `${violation.kind} ${violation.file ?? ""}: ${violation.detail}\n    ${shown.join("\n    ")}`,
    );
  }
  return { problems, measuredMs: { heal: convergedMs }, ops: cluster.log.ops.length };
}

/** A primary, every client idle, and every replica applied through the primary's commit. */
function converged(cluster: DirectoryCluster): boolean {
  const primaryId = cluster.primary();
  if (primaryId === null || !cluster.clientsIdle()) return false;
  const commit = cluster.replica(primaryId)?.commitIndex ?? 0;
  return cluster.replicaIds.every((id) => cluster.disk(id).state.lastApplied() === commit);
}

function sameStateEverywhere(cluster: DirectoryCluster): string[] {
  const [first, ...rest] = cluster.replicaIds;
  if (first === undefined) return [];
  const reference = new TextDecoder().decode(cluster.disk(first).state.exportState());
  return rest
    .filter((id) => new TextDecoder().decode(cluster.disk(id).state.exportState()) !== reference)
    .map((id) => `replica ${id}'s applied state differs from ${first}'s at the same index`);
}

/** After the heal: the latest of every name, and every version the history says is kept. */
function finalReads(cluster: DirectoryCluster): FinalRead[] {
  const primary = cluster.primary();
  if (primary === null) return [];
  const state = cluster.disk(primary).state;
  const read = (name: string, asked: number | null): FinalRead => {
    const found = findManifest(state, UID, name, asked ?? undefined);
    if (found.ok) {
      const { version, sha256 } = found.value.manifest;
      return { uid: UID, name, asked, version, sha256, absent: false, error: null };
    }
    const absent = found.error.code === "NOT_FOUND";
    const error = `${found.error.code}: ${found.error.message}`;
    return { uid: UID, name, asked, version: null, sha256: null, absent, error };
  };
  const finals = NAMES.map((name) => read(name, null));
  for (const kept of keptVersions(cluster.log.ops, { keepVersions: KEEP_VERSIONS })) {
    finals.push(read(kept.name, kept.version));
  }
  return finals;
}
