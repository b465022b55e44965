/**
 * A Raft directory group on the simulator: real RaftNodes exchanging typed messages over the
 * faulty simulated network, each with an in-memory durable store that survives its crash (and
 * nothing else does: the node, its outbox and state machine are rebuilt from the store). It
 * owns the drive loop (persist, then send, then apply, then advance) and the online checks of
 * the Raft safety properties; scenarios live in raft-properties.ts.
 */

import { assert } from "../../core/assert.ts";
import type { Prng } from "../../core/prng.ts";
import { driveReadies } from "../../core/raft/drive.ts";
import { RaftNode } from "../../core/raft/node.ts";
import {
  RAFT_DEFAULT_CONFIG,
  raftId,
  type DurableState,
  type Entry,
  type HardState,
  type RaftConfig,
  type RaftId,
  type RaftMessage,
  type Ready,
  type Snapshot,
} from "../../core/raft/types.ts";
import type { PathOptions } from "./network.ts";
import { Simulator, type SimProcess } from "./simulator.ts";

/** Simulated time per Raft tick: 10 ticks = a 0.5–1 s election timeout, as in production. */
export const RAFT_SIM_TICK_MS = 50;
/** A node folds its applied entries into a snapshot once this many accumulate. */
export const RAFT_SIM_COMPACT_EVERY_ENTRIES = 20;

/** What a crash leaves behind: only what a Ready told the driver to fsync. */
export class MemoryDurableStore {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** This disk's identity: a wiped disk comes back with a new one. */
  readonly folder: string;
  /** The founders' folders as this node saw them when it formed the group (the driver's meta). */
  formedWith: ReadonlyMap<RaftId, string> | null = null;

  constructor(folder: string) {
    this.folder = folder;
  }

  /** Persists a ready's durable parts, as one fsync. */
  save(ready: Ready): void {
    if (ready.snapshot !== null) this.saveSnapshot(ready.snapshot);
    const first = ready.entries[0];
    if (first !== undefined) {
      const base = this.snapshot?.index ?? 0;
      assert(first.index > base && first.index <= base + this.entries.length + 1, "log has a gap");
      this.entries.length = first.index - base - 1;
      this.entries.push(...ready.entries);
    }
    if (ready.hardState !== null) this.hardState = ready.hardState;
  }

  load(): DurableState {
    return {
      hardState: this.hardState,
      snapshot: this.snapshot,
      entries: [...this.entries],
    };
  }

  lastIndex(): number {
    return (this.snapshot?.index ?? 0) + this.entries.length;
  }

  entryAt(index: number): Entry | null {
    return this.entries[index - (this.snapshot?.index ?? 0) - 1] ?? null;
  }

  private saveSnapshot(snapshot: Snapshot): void {
    const base = this.snapshot?.index ?? 0;
    const last = this.entries[snapshot.index - base - 1];
    // Keep the tail only if our log agrees with the snapshot where it ends.
    this.entries = last?.term === snapshot.term ? this.entries.slice(snapshot.index - base) : [];
    this.snapshot = snapshot;
  }
}

/** The test state machine: the command applied at each index, as strings. */
class CommandLog {
  appliedIndex = 0;
  readonly commands = new Map<number, string>();
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface RaftClusterOptions {
  readonly seed: number;
  readonly size: number;
  /**
   * How many of the `size` nodes form the group (d1..dN); the rest boot empty, to be added
   * through the log. Default: all of them.
   */
  readonly bootstrapSize?: number;
  readonly path?: PathOptions;
  readonly config?: RaftConfig;
}

class RaftProcess implements SimProcess<string, RaftMessage> {
  readonly node: RaftNode;
  readonly machine = new CommandLog();
  private outgoing: RaftMessage[] = [];
  private readonly cluster: RaftCluster;
  private readonly store: MemoryDurableStore;

  constructor(cluster: RaftCluster, node: RaftNode, store: MemoryDurableStore) {
    this.cluster = cluster;
    this.node = node;
    this.store = store;
    // A restarted state machine starts from the durable snapshot; the log replays the rest.
    if (store.snapshot !== null) this.restore(store.snapshot);
  }

  tick(): void {
    this.node.tick();
    this.drain();
  }

  receive(_nowMs: number, _from: string, payload: RaftMessage): void {
    this.node.step(payload);
    this.drain();
  }

  unreachable(): void {}

  takeOutgoing(): Array<{ to: string; payload: RaftMessage }> {
    return this.outgoing.splice(0).map((message) => ({ to: message.to, payload: message }));
  }

  /** The loop every real driver runs (core/raft/drive.ts), with a toy command log applied. */
  drain(): void {
    driveReadies(this.node, {
      persist: (ready) => {
        this.store.save(ready);
        if (ready.snapshot !== null && ready.snapshot.index > this.machine.appliedIndex) {
          this.restore(ready.snapshot);
        }
        for (const entry of ready.committedEntries) this.apply(entry);
      },
      send: (messages) => this.outgoing.push(...messages),
      advanced: () => {
        this.cluster.observe(this.node);
        this.maybeCompact();
      },
    });
  }

  private apply(entry: Entry): void {
    assert(entry.index === this.machine.appliedIndex + 1, "entries apply in order, once");
    this.machine.appliedIndex = entry.index;
    if (entry.command === null) return;
    const command = decoder.decode(entry.command);
    this.machine.commands.set(entry.index, command);
    this.cluster.recordApply(this.node.id, entry.index, command);
  }

  private restore(snapshot: Snapshot): void {
    const pairs = JSON.parse(decoder.decode(snapshot.data)) as Array<[number, string]>;
    this.machine.commands.clear();
    for (const [index, command] of pairs) {
      this.machine.commands.set(index, command);
      this.cluster.recordApply(this.node.id, index, command);
    }
    this.machine.appliedIndex = snapshot.index;
  }

  private maybeCompact(): void {
    const applied = this.machine.appliedIndex;
    if (applied - this.node.logView.snapshotIndex < RAFT_SIM_COMPACT_EVERY_ENTRIES) return;
    const data = encoder.encode(JSON.stringify([...this.machine.commands]));
    this.node.compact(applied, data);
  }
}

interface CommitRecord {
  readonly term: number;
  readonly command: string | null;
  /** The term of the leader that first counted it committed. */
  readonly commitTerm: number;
}

export class RaftCluster {
  readonly sim: Simulator<string, RaftMessage>;
  readonly ids: readonly RaftId[];
  /** The nodes that formed the group; the others join through configuration changes. */
  readonly bootstrapIds: readonly RaftId[];
  readonly config: RaftConfig;
  readonly problems: string[] = [];
  readonly stores = new Map<RaftId, MemoryDurableStore>();
  /** Election safety: the one leader each term had. */
  readonly leaderOfTerm = new Map<number, RaftId>();
  readonly commits = new Map<number, CommitRecord>();
  /** State-machine safety: the command applied at each index, by anyone. */
  readonly appliedAt = new Map<number, string>();
  private readonly commitSeen = new Map<RaftId, number>();
  /** How many times each node's disk was wiped. */
  private readonly wipes = new Map<RaftId, number>();

  constructor(options: RaftClusterOptions) {
    this.config = options.config ?? RAFT_DEFAULT_CONFIG;
    this.sim = new Simulator<string, RaftMessage>({
      seed: options.seed,
      tickIntervalMs: RAFT_SIM_TICK_MS,
      ...(options.path === undefined ? {} : { path: options.path }),
      payloadBytes: messageBytes,
      pausedInbox: "queue",
    });
    this.ids = Array.from({ length: options.size }, (_, i) => raftId(`d${i + 1}`));
    this.bootstrapIds = this.ids.slice(0, options.bootstrapSize ?? options.size);
    for (const id of this.ids) this.stores.set(id, new MemoryDurableStore(`${id}/disk0`));
  }

  get prng(): Prng {
    return this.sim.prng;
  }

  get nowMs(): number {
    return this.sim.nowMs;
  }

  /** Starts (or restarts after a crash) `id` from whatever its durable store holds. */
  boot(id: RaftId): void {
    const store = this.store(id);
    const founder = this.bootstrapIds.includes(id);
    // A founder records the folders it formed the group with on its first boot, as the
    // driver does: from what the others say of themselves then.
    if (founder && store.formedWith === null) {
      store.formedWith = new Map(this.bootstrapIds.map((peer) => [peer, this.store(peer).folder]));
    }
    const node = new RaftNode({
      id,
      folder: store.folder,
      peers: founder ? this.bootstrapIds : [],
      ...(store.formedWith === null ? {} : { peerFolders: store.formedWith }),
      // A joiner's empty folder is admitted only once the log adds it (its log then holds it).
      admitted: this.bootstrapIds.includes(id) || store.lastIndex() > 0,
      config: this.config,
      prng: this.sim.prng.fork(),
      durable: store.load(),
    });
    this.sim.start(id, new RaftProcess(this, node, store));
  }

  startAll(): void {
    for (const id of this.ids) this.boot(id);
  }

  crash(id: RaftId): void {
    this.sim.crash(id);
    this.commitSeen.delete(id);
  }

  /**
   * The node's disk dies and it comes back on an empty one under the same id, started as it
   * was first (a founder forms again from what it sees; a joiner waits to be added): every
   * vote it cast and every entry it acknowledged are gone.
   */
  wipe(id: RaftId): void {
    if (this.status(id) !== "down") this.crash(id);
    const generation = (this.wipes.get(id) ?? 0) + 1;
    this.wipes.set(id, generation);
    this.stores.set(id, new MemoryDurableStore(`${id}/disk${generation}`));
    this.boot(id);
  }

  status(id: RaftId): "up" | "paused" | "down" {
    return this.sim.status(id);
  }

  node(id: RaftId): RaftNode {
    const process = this.sim.process(id);
    assert(process instanceof RaftProcess, `${id} is not running`);
    return process.node;
  }

  appliedIndex(id: RaftId): number {
    const process = this.sim.process(id);
    return process instanceof RaftProcess ? process.machine.appliedIndex : 0;
  }

  /** Runs `action` on a running node, then drains its Ready as the real driver would. */
  act<T>(id: RaftId, action: (node: RaftNode) => T): T {
    let result: T | undefined;
    this.sim.act(id, (process) => {
      assert(process instanceof RaftProcess, "a raft cluster runs raft processes");
      result = action(process.node);
      process.drain();
    });
    return result as T;
  }

  /** The running (not paused) node that believes it leads the highest term, if any. */
  leader(among: readonly RaftId[] = this.ids): RaftId | null {
    let best: RaftId | null = null;
    let bestTerm = -1;
    for (const id of among) {
      if (this.status(id) !== "up") continue;
      const node = this.node(id);
      if (node.currentRole === "leader" && node.currentTerm > bestTerm) {
        best = id;
        bestTerm = node.currentTerm;
      }
    }
    return best;
  }

  store(id: RaftId): MemoryDurableStore {
    const store = this.stores.get(id);
    assert(store !== undefined, `unknown node ${id}`);
    return store;
  }

  recordApply(by: RaftId, index: number, command: string): void {
    const earlier = this.appliedAt.get(index);
    if (earlier === undefined) this.appliedAt.set(index, command);
    else if (earlier !== command) {
      this.problems.push(
        `state-machine safety: ${by} applied "${command}" at ${index}, ` +
          `another node "${earlier}"`,
      );
    }
  }

  /** After every Ready: election safety, leader completeness, and who committed what. */
  observe(node: RaftNode): void {
    if (node.currentRole !== "leader") {
      this.commitSeen.set(node.id, node.commitIndex);
      return;
    }
    const term = node.currentTerm;
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) {
      this.leaderOfTerm.set(term, node.id);
      this.checkCompleteness(node);
    } else if (known !== node.id) {
      this.problems.push(`election safety: ${known} and ${node.id} both lead term ${term}`);
    }
    this.recordCommits(node);
  }

  /** Leader completeness: a new leader holds every entry committed in an earlier term. */
  private checkCompleteness(node: RaftNode): void {
    const log = node.logView;
    for (const [index, record] of this.commits) {
      if (record.commitTerm >= node.currentTerm || index <= log.snapshotIndex) continue;
      if (log.termAt(index) !== record.term) {
        this.problems.push(
          `leader completeness: ${node.id} leads term ${node.currentTerm} ` +
            `without entry ${index} (term ${record.term}) committed in term ${record.commitTerm}`,
        );
      }
    }
  }

  private recordCommits(node: RaftNode): void {
    const from = (this.commitSeen.get(node.id) ?? 0) + 1;
    for (let index = from; index <= node.commitIndex; index += 1) {
      const entry = node.logView.entryAt(index);
      if (entry === null || this.commits.has(index)) continue;
      const command = entry.command === null ? null : decoder.decode(entry.command);
      this.commits.set(index, {
        term: entry.term,
        command,
        commitTerm: node.currentTerm,
      });
    }
    this.commitSeen.set(node.id, node.commitIndex);
  }

  /**
   * Log matching over the durable logs: where two logs hold an entry with the same index and
   * term, they are identical up to and including it.
   */
  checkLogMatching(): void {
    for (let a = 0; a < this.ids.length; a += 1) {
      for (let b = a + 1; b < this.ids.length; b += 1) {
        const x = this.store(this.ids[a] as RaftId);
        const y = this.store(this.ids[b] as RaftId);
        const problem = logMatchingProblem(x, y);
        if (problem !== null)
          this.problems.push(`log matching ${this.ids[a]}/${this.ids[b]}: ${problem}`);
      }
    }
  }

  /** Runs until `predicate` holds (checked every tick) or `timeoutMs` passes: time taken. */
  runUntilTrue(predicate: () => boolean, timeoutMs: number): number | null {
    const startMs = this.nowMs;
    for (;;) {
      if (predicate()) return this.nowMs - startMs;
      if (this.nowMs - startMs >= timeoutMs) return null;
      this.sim.runFor(RAFT_SIM_TICK_MS);
    }
  }
}

function logMatchingProblem(x: MemoryDurableStore, y: MemoryDurableStore): string | null {
  const low = Math.max(x.snapshot?.index ?? 0, y.snapshot?.index ?? 0) + 1;
  const high = Math.min(x.lastIndex(), y.lastIndex());
  let index = high;
  while (index >= low && x.entryAt(index)?.term !== y.entryAt(index)?.term) index -= 1;
  for (; index >= low; index -= 1) {
    const e = x.entryAt(index);
    const f = y.entryAt(index);
    if (e === null || f === null || e.term !== f.term || !sameCommand(e.command, f.command)) {
      return `logs differ at ${index} below a shared (index, term)`;
    }
  }
  return null;
}

function sameCommand(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Rough wire size, for the traffic counters only. */
function messageBytes(message: RaftMessage): number {
  const ENVELOPE_BYTES = 32;
  if (message.type === "append") {
    return ENVELOPE_BYTES + message.entries.reduce((n, e) => n + 16 + (e.command?.length ?? 0), 0);
  }
  if (message.type === "installSnapshot") return ENVELOPE_BYTES + message.snapshot.data.length;
  return ENVELOPE_BYTES;
}
