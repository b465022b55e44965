/**
 * The Raft driver of a directory node: owns the sans-I/O RaftNode and gives it a clock (ticks),
 * a disk (RaftLog and the metadata store, one transaction per batch), a network (send) and a
 * state machine (applyCommand). Handlers see it as a Proposer: propose() answers once the
 * command is committed by a majority and applied here; readBarrier() answers once a heartbeat
 * round proved this node still leads and the state has caught up with the commit index.
 *
 * Batching is the group commit: inputs only mark work; one flush per event-loop turn takes
 * every proposal that arrived meanwhile into one Ready, one transaction and one fsync.
 *
 * A Ready that cannot be persisted stops this replicator for good, before anything of it is
 * sent or advanced: the core in memory may then be ahead of the disk, so it is dropped, as a
 * crash would drop it. A full disk (onDiskFull) is the node's to wait out and rebuild from the
 * disk; any other disk failure is fatal (onFatal).
 */

import { fail, ok, Prng, raft, type ErrorCode, type Result } from "@ftfs/protocol/core";
import type { Logger } from "@ftfs/protocol/io";
import {
  applyCommand,
  decodeCommand,
  encodeCommand,
  notPrimary,
  RAFT_COMPACT_EVERY_ENTRIES,
  RAFT_ELECTION_TICKS,
  RAFT_HEARTBEAT_TICKS,
  RAFT_PROPOSAL_TIMEOUT_MS,
  RAFT_READ_TIMEOUT_MS,
  RAFT_SUSPECT_JITTER_MS_MAX,
  RAFT_TICK_MS,
  type Command,
  type Outcome,
  type OutcomeOf,
} from "../core/index.ts";
import { SQLiteError } from "bun:sqlite";
import type { RaftLog } from "./raft-log.ts";
import { exportStateInWorker, type ExportedState } from "./snapshot-export.ts";
import { isDiskFull, StoreCorruptError, type SqliteMetadataStore } from "./sqlite-store.ts";

/** How a handler turns a command into a change, and makes a read current. */
export interface Proposer {
  /** Raft's current term, which clients see as the directory's epoch. */
  readonly term: number;
  propose<C extends Command>(command: C): Promise<Result<OutcomeOf<C>>>;
  /** Resolves ok once a read of the local state is linearizable. */
  readBarrier(): Promise<Result<void>>;
}

export interface GroupMember {
  readonly id: string;
  readonly address: string;
}

export interface ReplicatorOptions {
  readonly id: string;
  readonly members: readonly string[];
  readonly store: SqliteMetadataStore;
  readonly raftLog: RaftLog;
  readonly logger: Logger;
  readonly send: (message: raft.RaftMessage) => void;
  /** The address of a member, for NOT_PRIMARY hints. */
  readonly addressOf: (id: string) => string | undefined;
  /** After commands were applied (the outbox sends their notices at once). */
  readonly onApplied: () => void;
  /** This node became primary (true) or stopped being it (false). */
  readonly onLeadership: (leading: boolean) => void;
  /** The disk failed under Raft's feet: the node must stop, it cannot go on safely. */
  readonly onFatal: (error: unknown) => void;
  /**
   * The disk is full (SQLITE_FULL, rolled back): this replicator has stopped without sending or
   * advancing past what it could not persist. The node may build a new one from the disk.
   */
  readonly onDiskFull: (error: unknown) => void;
  readonly random: () => number;
  readonly nowMs: () => number;
  /** Applied entries between snapshots; tests lower it to exercise snapshot catch-up. */
  readonly compactEveryEntries?: number;
  /** How the state is exported for a snapshot; default: a worker reading the database. */
  readonly exportState?: () => Promise<ExportedState>;
}

interface PendingProposal {
  readonly term: number;
  readonly deadlineMs: number;
  readonly settle: (result: Result<Outcome>) => void;
}

interface PendingRead {
  readonly deadlineMs: number;
  readonly settle: (result: Result<void>) => void;
}

/** One read-index round: every read that arrived before it was asked. */
interface ReadRound {
  readonly reads: PendingRead[];
  index: number | null;
}

export class Replicator implements Proposer {
  readonly id: string;
  private readonly options: ReplicatorOptions;
  private readonly node: raft.RaftNode;
  private readonly proposals = new Map<number, PendingProposal>();
  private unaskedReads: PendingRead[] = [];
  private readonly readRounds = new Map<string, ReadRound>();
  private nextReadRound = 1;
  private flushQueued = false;
  private leading = false;
  /** The term in which `leading` last became true. */
  private leadingTerm = 0;
  private knownLeader: string | null = null;
  private suspicionTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly ticker: ReturnType<typeof setInterval>;
  private snapshotIndex: number;
  private coreApplied: number;
  private stopped = false;
  /** A snapshot export is running (one at a time). */
  private exporting = false;

  constructor(options: ReplicatorOptions) {
    this.options = options;
    this.id = options.id;
    const durable = options.raftLog.load();
    this.snapshotIndex = durable.snapshot?.index ?? 0;
    this.coreApplied = this.snapshotIndex;
    const seed = Math.floor(options.random() * 2 ** 31);
    this.node = new raft.RaftNode({
      id: raft.raftId(options.id),
      peers: options.members.map(raft.raftId),
      config: { electionTicks: RAFT_ELECTION_TICKS, heartbeatTicks: RAFT_HEARTBEAT_TICKS },
      // Seeded here, so the core itself stays deterministic; only the seed is random.
      prng: new Prng(seed),
      durable,
    });
    this.ticker = setInterval(() => this.onTick(), RAFT_TICK_MS);
    // A group of one has nobody to wait for: campaign now rather than after a timeout.
    if (options.members.length === 1) this.node.suspectLeader();
    this.queueFlush();
  }

  get term(): number {
    return this.node.currentTerm;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  get leaderId(): string | null {
    return this.node.leader;
  }

  get commitIndex(): number {
    return this.node.commitIndex;
  }

  /** The primary's address when another node leads; null when we lead or nobody is known. */
  leaderAddress(): string | null {
    const leader = this.node.leader;
    if (leader === null || leader === this.id) return null;
    return this.options.addressOf(leader) ?? null;
  }

  // ---- inputs ----

  step(message: raft.RaftMessage): void {
    this.input(() => this.node.step(message));
  }

  /**
   * Evidence the primary is gone (its TCP link refused, or gossip suspects it). After a short
   * random delay, so backups that noticed together do not split the vote, the core starts a
   * pre-vote; peers still hearing the primary refuse it, so a false alarm changes nothing.
   */
  suspectLeader(id: string): void {
    if (this.stopped || this.suspicionTimer !== null) return;
    if (this.node.leader !== id || id === this.id) return;
    const delayMs = Math.floor(this.options.random() * RAFT_SUSPECT_JITTER_MS_MAX);
    this.suspicionTimer = setTimeout(() => {
      this.suspicionTimer = null;
      if (this.stopped || this.node.leader !== id) return;
      this.options.logger.info("primary suspected; campaigning", { primary: id, term: this.term });
      this.input(() => this.node.suspectLeader());
    }, delayMs);
  }

  propose<C extends Command>(command: C): Promise<Result<OutcomeOf<C>>> {
    if (this.stopped) return Promise.resolve(fail("UNAVAILABLE", "directory node is stopping"));
    const bytes = new TextEncoder().encode(encodeCommand(command));
    if (!this.leading) return Promise.resolve(this.notPrimary());
    const proposed = this.guarded(() => this.node.propose(bytes));
    if (proposed === null)
      return Promise.resolve(fail("UNAVAILABLE", "directory node failed; retry"));
    if (!proposed.ok) {
      if (proposed.error.code === "BUSY") {
        const pending = proposed.error.uncommittedEntries;
        return Promise.resolve(fail("TOO_BUSY", `${pending} changes await commit; retry`));
      }
      return Promise.resolve(this.notPrimary());
    }
    this.queueFlush();
    return new Promise((resolve) => {
      const deadlineMs = this.options.nowMs() + RAFT_PROPOSAL_TIMEOUT_MS;
      // The state machine answers a command with its own type's outcome (state-machine.ts).
      const settle = (result: Result<Outcome>) => resolve(result as Result<OutcomeOf<C>>);
      this.proposals.set(proposed.index, { term: proposed.term, deadlineMs, settle });
    });
  }

  readBarrier(): Promise<Result<void>> {
    if (this.stopped) return Promise.resolve(fail("UNAVAILABLE", "directory node is stopping"));
    if (!this.leading) return Promise.resolve(this.notPrimary());
    return new Promise((settle) => {
      this.unaskedReads.push({ deadlineMs: this.options.nowMs() + RAFT_READ_TIMEOUT_MS, settle });
      this.queueFlush();
    });
  }

  stop(): void {
    this.halt("directory node is stopping; retry");
  }

  /** Stops ticking and answers every waiter (retryable); false if already stopped. */
  private halt(message: string): boolean {
    if (this.stopped) return false;
    this.stopped = true;
    this.leading = false;
    clearInterval(this.ticker);
    if (this.suspicionTimer !== null) clearTimeout(this.suspicionTimer);
    this.failEverything("UNAVAILABLE", message);
    return true;
  }

  // ---- the loop ----

  private onTick(): void {
    this.input(() => this.node.tick());
    this.expireWaiters();
  }

  /**
   * Every input to the core goes through here: a throw from the core (a broken invariant) or
   * from the disk stops this node for good, since its state can no longer be trusted.
   */
  private input(apply: () => void): void {
    this.guarded(apply);
  }

  /** Runs one input; null when this node is stopped or the input killed it. */
  private guarded<T>(apply: () => T): T | null {
    if (this.stopped) return null;
    let result: T;
    try {
      result = apply();
    } catch (error) {
      this.die(error);
      return null;
    }
    this.queueFlush();
    return result;
  }

  /**
   * Nothing of the Ready that failed was sent or advanced: the core, ahead of the disk, is
   * dropped with this replicator. Waiters are told to retry: a change in flight may or may not
   * have reached the disk, and a retry (commands are idempotent by their ids) finds out.
   */
  private die(error: unknown): void {
    if (isDiskFull(error)) {
      const message = `directory node ${this.id}'s disk filled while this change was in flight`;
      if (this.halt(`${message}; retry`)) this.options.onDiskFull(error);
      return;
    }
    if (this.halt("directory node failed; retry another")) this.options.onFatal(error);
  }

  private queueFlush(): void {
    if (this.flushQueued || this.stopped) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      if (this.stopped) return;
      try {
        this.flush();
      } catch (error) {
        this.die(error);
      }
    });
  }

  private flush(): void {
    this.askReads();
    let applied = false;
    while (this.node.hasReady()) {
      const ready = this.node.ready();
      const outcomes = this.persistAndApply(ready);
      for (const message of ready.messages) this.options.send(message);
      this.node.advance(ready);
      if (ready.snapshot !== null) {
        this.snapshotIndex = ready.snapshot.index;
        this.coreApplied = Math.max(this.coreApplied, ready.snapshot.index);
      }
      const last = ready.committedEntries.at(-1);
      if (last !== undefined) this.coreApplied = last.index;
      for (const state of ready.readStates) {
        const round = this.readRounds.get(state.requestId);
        if (round !== undefined) round.index = state.index;
      }
      this.settleProposals(outcomes);
      applied ||= outcomes.length > 0;
      this.noticeRoleChange();
      this.askReads();
    }
    this.noticeRoleChange();
    this.settleReads();
    if (applied) this.options.onApplied();
    this.maybeCompact();
  }

  /** Entries, hard state, snapshot and the newly committed commands: one transaction. */
  private persistAndApply(ready: raft.Ready): Array<[raft.Entry, Result<Outcome>]> {
    const { store, raftLog, logger } = this.options;
    const outcomes: Array<[raft.Entry, Result<Outcome>]> = [];
    store.transaction(() => {
      raftLog.save(ready);
      const snapshot = ready.snapshot;
      if (snapshot !== null && snapshot.index > store.lastApplied()) {
        store.importState(snapshot.data, snapshot.index);
        logger.info("state restored from the primary's snapshot", { index: snapshot.index });
      }
      for (const entry of ready.committedEntries) {
        // After a restart the state may be ahead of what the core re-delivers.
        if (entry.index <= store.lastApplied()) continue;
        outcomes.push([entry, this.applyEntry(entry)]);
      }
    });
    return outcomes;
  }

  private applyEntry(entry: raft.Entry): Result<Outcome> {
    const { store, logger } = this.options;
    if (entry.command === null) {
      store.applyEntry(entry.index, () => undefined);
      return fail("NOT_PRIMARY", "a new primary's no-op");
    }
    const decoded = decodeCommand(new TextDecoder().decode(entry.command));
    if (!decoded.ok) {
      // Every replica holds the same bytes, so every replica skips the same entry.
      logger.error("log entry does not decode; applied as a no-op", {
        index: entry.index,
        reason: decoded.message,
      });
      store.applyEntry(entry.index, () => undefined);
      return fail("INTERNAL", `log entry ${entry.index} does not decode`);
    }
    try {
      return applyCommand(store, entry.index, decoded.value);
    } catch (error) {
      // The disk or the file failing is this node's problem: it must stop (rethrow). A rule of
      // the state machine broken by a committed command would break on every replica alike:
      // apply it as a no-op, loudly, rather than crash the whole group in a loop.
      if (error instanceof SQLiteError || error instanceof StoreCorruptError) throw error;
      logger.error("committed command broke a state-machine invariant; applied as a no-op", {
        index: entry.index,
        type: decoded.value.type,
        error: error instanceof Error ? error.message : String(error),
      });
      store.applyEntry(entry.index, () => undefined);
      return fail("INTERNAL", `log entry ${entry.index} could not be applied`);
    }
  }

  private settleProposals(outcomes: ReadonlyArray<[raft.Entry, Result<Outcome>]>): void {
    for (const [entry, outcome] of outcomes) {
      const proposal = this.proposals.get(entry.index);
      if (proposal === undefined) continue;
      this.proposals.delete(entry.index);
      // Another term's entry at our index means ours was overwritten: it never committed.
      if (proposal.term === entry.term) proposal.settle(outcome);
      else proposal.settle(this.notPrimary());
    }
  }

  /** All reads that arrived since the last round share one heartbeat round. */
  private askReads(): void {
    if (this.unaskedReads.length === 0 || this.node.currentRole !== "leader") return;
    const requestId = String(this.nextReadRound);
    const asked = this.node.readIndex(requestId);
    if (asked.ok) {
      this.nextReadRound += 1;
      this.readRounds.set(requestId, { reads: this.unaskedReads, index: null });
      this.unaskedReads = [];
      return;
    }
    // A new primary first commits its own no-op; the reads wait for that, then ask again.
    if (asked.error.code === "LEADER_NOT_READY") return;
    const reads = this.unaskedReads;
    this.unaskedReads = [];
    const answer =
      asked.error.code === "BUSY"
        ? fail("TOO_BUSY", "too many reads await confirmation; retry")
        : this.notPrimary();
    for (const read of reads) read.settle(answer);
  }

  private settleReads(): void {
    const applied = this.options.store.lastApplied();
    for (const [requestId, round] of this.readRounds) {
      if (round.index === null || round.index > applied) continue;
      this.readRounds.delete(requestId);
      for (const read of round.reads) read.settle(ok(undefined));
    }
  }

  private noticeRoleChange(): void {
    const leader = this.node.leader;
    if (leader !== this.knownLeader) {
      this.knownLeader = leader;
      this.options.logger.info("directory primary", {
        primary: leader,
        term: this.term,
        self: leader === this.id,
      });
    }
    // Once serving in a term, keep serving until the role goes: commit runs ahead of apply
    // between batches, which says nothing about leadership.
    const stillLeading = this.leading && this.leadingTerm === this.term;
    const leading = this.node.currentRole === "leader" && (stillLeading || this.termApplied());
    if (leading) this.leadingTerm = this.term;
    if (leading === this.leading) return;
    this.leading = leading;
    // Whatever we accepted as primary may yet commit under the next one, or may not: the
    // caller is told to retry, and commands are idempotent by their ids.
    if (!leading) this.failEverything("NOT_PRIMARY", "");
    this.options.onLeadership(leading);
  }

  /**
   * A new leader serves only once an entry of its own term is committed and applied: before
   * that its state may lack entries an earlier primary acknowledged.
   */
  private termApplied(): boolean {
    const commit = this.node.commitIndex;
    return (
      this.node.logView.termAt(commit) === this.node.currentTerm &&
      this.options.store.lastApplied() >= commit
    );
  }

  private expireWaiters(): void {
    const nowMs = this.options.nowMs();
    for (const [index, proposal] of this.proposals) {
      if (proposal.deadlineMs > nowMs) continue;
      this.proposals.delete(index);
      proposal.settle(fail("UNAVAILABLE", "the change was not committed in time; retry"));
    }
    const late = fail("UNAVAILABLE", "the directory group did not confirm the read in time; retry");
    this.unaskedReads = this.unaskedReads.filter((read) => {
      if (read.deadlineMs > nowMs) return true;
      read.settle(late);
      return false;
    });
    for (const [requestId, round] of this.readRounds) {
      const expired = round.reads.filter((read) => read.deadlineMs <= nowMs);
      if (expired.length === 0) continue;
      for (const read of expired) read.settle(late);
      const kept = round.reads.filter((read) => read.deadlineMs > nowMs);
      if (kept.length === 0) this.readRounds.delete(requestId);
      else this.readRounds.set(requestId, { reads: kept, index: round.index });
    }
  }

  private failEverything(code: ErrorCode, message: string): void {
    const answer =
      code === "NOT_PRIMARY" || message === "" ? this.notPrimary() : fail(code, message);
    for (const proposal of this.proposals.values()) proposal.settle(answer);
    this.proposals.clear();
    for (const read of this.unaskedReads) read.settle(answer);
    this.unaskedReads = [];
    for (const round of this.readRounds.values())
      for (const read of round.reads) read.settle(answer);
    this.readRounds.clear();
  }

  private notPrimary(): Result<never> {
    return notPrimary(this.id, this.leaderAddress());
  }

  /**
   * Folds the applied log into a snapshot. The state is exported by a worker (seconds for a
   * large state); the core takes it when it comes back, as of the index the export read.
   */
  private maybeCompact(): void {
    if (this.exporting) return;
    const index = this.options.store.lastApplied();
    const every = this.options.compactEveryEntries ?? RAFT_COMPACT_EVERY_ENTRIES;
    if (index - this.snapshotIndex < every) return;
    this.exporting = true;
    const startedMs = this.options.nowMs();
    const exportState =
      this.options.exportState ?? (() => exportStateInWorker(this.options.store.path));
    void exportState()
      .then((exported) => {
        // Only forward: a snapshot installed from the primary meanwhile may be newer.
        if (this.stopped || exported.index <= this.snapshotIndex) return;
        if (exported.index > this.coreApplied) return;
        this.input(() => this.node.compact(exported.index, exported.data));
        this.snapshotIndex = exported.index;
        this.options.logger.info("log compacted into a snapshot", {
          index: exported.index,
          bytes: exported.data.byteLength,
          tookMs: this.options.nowMs() - startedMs,
        });
      })
      .catch((error: unknown) => {
        this.options.logger.error(
          "snapshot export failed; the log keeps growing until the next try",
          {
            error: error instanceof Error ? error.message : String(error),
          },
        );
      })
      .finally(() => {
        this.exporting = false;
      });
  }
}
