/**
 * One directory replica, sans I/O: the Raft core, the state machine it feeds, and the
 * bookkeeping between them and the clients (proposals waiting to commit, read-index rounds,
 * deadlines, whether this replica serves as primary). The real node drives it with timers, a
 * socket transport and SQLite (io/replicator.ts); the simulator drives the same class with
 * simulated time, a faulty network and the in-memory store (tests/simulation), so seeded
 * schedules check the directory itself, not a model of it.
 *
 * Inputs (step, tick, propose, readBarrier, campaign, compact, stop) only change memory; drain()
 * then runs the one Raft drive loop (core/raft/drive.ts) through the disk, settles whoever can
 * be answered, and hands back the messages to send and what happened.
 */

import {
  assertNever,
  fail,
  ok,
  Prng,
  raft,
  type ErrorCode,
  type Result,
} from "@ftfs/protocol/core";
import { notPrimary } from "./checks.ts";
import { decodeCommand, encodeCommand, type Command, type Outcome } from "./commands.ts";
import {
  RAFT_COMPACT_EVERY_ENTRIES,
  RAFT_COMPACT_BEHIND_HELD_ENTRIES_MAX,
  RAFT_COMPACT_HELD_ENTRIES_MAX,
  RAFT_COMPACT_LAG_SLACK_ENTRIES,
  RAFT_COMPACT_LIVE_TICKS,
  RAFT_ELECTION_TICKS,
  RAFT_HEARTBEAT_TICKS,
  RAFT_PROPOSAL_TIMEOUT_MS,
  RAFT_READ_TIMEOUT_MS,
} from "./limits.ts";
import { applyCommand } from "./state-machine.ts";
import type { MetadataStore } from "./store.ts";

/** Where a replica keeps what must survive a crash: Raft's log and the applied state. */
export interface ReplicaDisk {
  readonly state: MetadataStore;
  /** What the last run left: hard state, snapshot and log entries. */
  loadRaft(): raft.DurableState;
  /** Runs `work` as one durable write (one fsync): a crash keeps all of it or none. */
  transaction<T>(work: () => T): T;
  /** The Ready's entries, hard state and snapshot; inside transaction(). */
  saveRaft(ready: raft.Ready): void;
  /**
   * Replaces the applied state with the Ready's snapshot and persists the Ready's Raft state
   * (saveRaft), as one atomic step of its own, outside transaction(): a crash leaves the old
   * state and Raft state, or the new ones, never a mix.
   */
  installSnapshot(ready: raft.Ready & { readonly snapshot: raft.Snapshot }): void;
  /**
   * The disk or the file failed (the node must stop), as opposed to a state-machine rule that
   * a committed command broke (which breaks alike on every replica).
   */
  isDiskError(error: unknown): boolean;
}

export interface ReplicaOptions {
  readonly id: string;
  readonly members: readonly string[];
  readonly disk: ReplicaDisk;
  /** Seeds the core's randomness (election timeouts); the driver draws it. */
  readonly seed: number;
  /** The address of a member, for NOT_PRIMARY hints. */
  readonly addressOf: (id: string) => string | undefined;
  /** Applied entries between snapshots; tests lower it to exercise snapshot catch-up. */
  readonly compactEveryEntries?: number;
  /** False for a node that joined with an empty folder (see raft.RaftNodeOptions.admitted). */
  readonly admitted?: boolean;
  /** This node's data folder identity (raft.RaftNodeOptions.folder). */
  readonly folder?: string;
  /** Each founder's folder when the group formed (raft.RaftNodeOptions.peerFolders). */
  readonly peerFolders?: ReadonlyMap<string, string>;
}

/** What happened in a drain that the driver reports or acts on. */
export type ReplicaEvent =
  | {
      readonly kind: "leader";
      readonly leader: string | null;
      readonly term: number;
      readonly self: boolean;
    }
  /** This replica started (true) or stopped (false) serving as primary. */
  | { readonly kind: "leadership"; readonly leading: boolean }
  | { readonly kind: "restored"; readonly index: number }
  /** A committed entry was applied as a no-op: it does not decode, or it broke a rule. */
  | { readonly kind: "skipped"; readonly index: number; readonly reason: string };

export interface ReplicaOutput {
  readonly messages: readonly raft.RaftMessage[];
  readonly events: readonly ReplicaEvent[];
  /** Commands were applied (the outbox has notices to send). */
  readonly applied: boolean;
}

export type Settle<T> = (result: Result<T>) => void;

interface PendingProposal {
  readonly term: number;
  readonly deadlineMs: number;
  readonly settle: Settle<Outcome>;
}

interface PendingChange {
  readonly term: number;
  readonly deadlineMs: number;
  readonly settle: Settle<raft.Membership>;
}

interface PendingRead {
  readonly deadlineMs: number;
  readonly settle: Settle<void>;
}

/** One read-index round: every read that arrived before it was asked. */
interface ReadRound {
  readonly reads: PendingRead[];
  index: number | null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class DirectoryReplica {
  readonly id: string;
  private readonly options: ReplicaOptions;
  private readonly node: raft.RaftNode;
  private readonly proposals = new Map<number, PendingProposal>();
  /** Membership changes proposed here, by the index of their configuration entry. */
  private readonly changes = new Map<number, PendingChange>();
  private unaskedReads: PendingRead[] = [];
  private readonly readRounds = new Map<string, ReadRound>();
  private nextReadRound = 1;
  private leading = false;
  /** The term in which `leading` last became true. */
  private leadingTerm = 0;
  private knownLeader: string | null = null;
  private snapshotIndex: number;
  /** The index the core has handed out for applying (a snapshot's, or a committed entry's). */
  private coreApplied: number;
  private stopped = false;
  private outgoing: raft.RaftMessage[] = [];
  private events: ReplicaEvent[] = [];
  private applied = false;

  constructor(options: ReplicaOptions) {
    this.options = options;
    this.id = options.id;
    const durable = options.disk.loadRaft();
    this.snapshotIndex = durable.snapshot?.index ?? 0;
    this.coreApplied = this.snapshotIndex;
    this.node = new raft.RaftNode({
      id: raft.raftId(options.id),
      peers: options.members.map(raft.raftId),
      config: { electionTicks: RAFT_ELECTION_TICKS, heartbeatTicks: RAFT_HEARTBEAT_TICKS },
      prng: new Prng(options.seed),
      durable,
      ...(options.admitted === undefined ? {} : { admitted: options.admitted }),
      ...(options.folder === undefined ? {} : { folder: options.folder }),
      ...(options.peerFolders === undefined
        ? {}
        : {
            peerFolders: new Map(
              [...options.peerFolders].map(([id, folder]) => [raft.raftId(id), folder]),
            ),
          }),
    });
    // A group of one has nobody to wait for: campaign now rather than after a timeout.
    if (options.members.length === 1) this.node.suspectLeader();
  }

  /** Raft's current term, which clients see as the directory's epoch. */
  get term(): number {
    return this.node.currentTerm;
  }

  /** The one answer to "am I primary?": leading, and serving (its term's entry applied). */
  get isLeader(): boolean {
    return this.leading;
  }

  get leaderId(): string | null {
    return this.node.leader;
  }

  get commitIndex(): number {
    return this.node.commitIndex;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** The primary's address when another node leads; null when we lead or nobody is known. */
  leaderAddress(): string | null {
    const leader = this.node.leader;
    if (leader === null || leader === this.id) return null;
    return this.options.addressOf(leader) ?? this.memberAddress(leader);
  }

  /** The configuration in force here (the newest in the log), and whether it is committed. */
  get membership(): raft.Membership {
    return this.node.currentMembership;
  }

  get membershipCommitted(): boolean {
    return this.node.membershipCommitted;
  }

  /** Whether this node may vote (see ReplicaOptions.admitted). */
  get admitted(): boolean {
    return this.node.admitted;
  }

  /** Members heard from another folder than the one the configuration binds them to. */
  strangerFolders(): ReadonlyMap<string, string> {
    return this.node.strangerFolders();
  }

  /** The configuration binds this node's id to another folder: it neither votes nor campaigns. */
  get strangerToGroup(): boolean {
    return this.node.strangerToGroup;
  }

  /** As primary: how many ticks each other member has not answered (from our election). */
  silentTicks(): ReadonlyMap<string, number> {
    return this.node.silentTicks();
  }

  /** As primary: how far each other member's log matches ours. */
  matchIndexes(): ReadonlyMap<string, number> {
    return this.node.matchIndexes();
  }

  /** Where a member of the configuration is reached, as its configuration entry says. */
  memberAddress(id: string): string | null {
    const member = this.node.currentMembership.members.find((m) => m.id === id);
    return member === undefined || member.address === "" ? null : member.address;
  }

  /** The answer to a change or a read this replica cannot serve. */
  notPrimary(): Result<never> {
    return notPrimary(this.id, this.leaderAddress());
  }

  // ---- inputs: each changes memory only; drain() then does the work ----

  step(message: raft.RaftMessage): void {
    if (this.stopped) return;
    this.node.step(message);
  }

  tick(nowMs: number): void {
    if (this.stopped) return;
    this.node.tick();
    this.expireWaiters(nowMs);
  }

  /** Evidence against `id` matters only while it is the primary we follow. */
  suspects(id: string): boolean {
    return !this.stopped && id !== this.id && this.node.leader === id;
  }

  /**
   * Starts a pre-vote: peers still hearing the primary refuse it, so a false alarm changes
   * nothing.
   */
  campaign(): void {
    if (this.stopped) return;
    this.node.suspectLeader();
  }

  /** Settles once `command` is committed by a majority and applied here, or cannot be. */
  propose(command: Command, nowMs: number, settle: Settle<Outcome>): void {
    if (this.stopped) return settle(fail("UNAVAILABLE", "directory node is stopping"));
    if (!this.leading) return settle(this.notPrimary());
    const proposed = this.node.propose(encoder.encode(encodeCommand(command)));
    if (!proposed.ok) {
      if (proposed.error.code !== "BUSY") return settle(this.notPrimary());
      const pending = proposed.error.uncommittedEntries;
      return settle(fail("TOO_BUSY", `${pending} changes await commit; retry`));
    }
    const deadlineMs = nowMs + RAFT_PROPOSAL_TIMEOUT_MS;
    this.proposals.set(proposed.index, { term: proposed.term, deadlineMs, settle });
  }

  /**
   * Settles with the new configuration once its entry is committed, or with why not: one
   * change at a time, a change that does not fit (BAD_REQUEST), or one that would leave the
   * voters this primary hears from short of the new majority (PRECONDITION_FAILED).
   */
  proposeMembership(
    change: raft.MembershipChange,
    nowMs: number,
    settle: Settle<raft.Membership>,
  ): void {
    if (this.stopped) return settle(fail("UNAVAILABLE", "directory node is stopping"));
    if (!this.leading) return settle(this.notPrimary());
    const proposed = this.node.proposeMembership(change);
    if (!proposed.ok) return settle(membershipRefusal(proposed.error, this.notPrimary()));
    const deadlineMs = nowMs + RAFT_PROPOSAL_TIMEOUT_MS;
    this.changes.set(proposed.index, { term: this.node.currentTerm, deadlineMs, settle });
  }

  /** Settles ok once a read of the local state is linearizable. */
  readBarrier(nowMs: number, settle: Settle<void>): void {
    if (this.stopped) return settle(fail("UNAVAILABLE", "directory node is stopping"));
    if (!this.leading) return settle(this.notPrimary());
    this.unaskedReads.push({ deadlineMs: nowMs + RAFT_READ_TIMEOUT_MS, settle });
  }

  /**
   * Applied entries past the last snapshot have piled up: time to export the state. Held back
   * (up to RAFT_COMPACT_HELD_ENTRIES_MAX entries) while a member fetches a snapshot image from
   * us (`fetching`, the driver knows) or, as primary, while a live member lags further than
   * RAFT_COMPACT_LAG_SLACK_ENTRIES: it catches up from the log we would fold. As a follower,
   * held back (up to RAFT_COMPACT_BEHIND_HELD_ENTRIES_MAX, a memory bound) while we trail the
   * commit index our leader told us of by more than that slack: we are the one catching up (a new member at 10,000,000 files folded three times on its
   * way, each a VACUUM INTO of the whole state beside the replay).
   */
  compactionDue(fetching = false): boolean {
    if (this.stopped) return false;
    const every = this.options.compactEveryEntries ?? RAFT_COMPACT_EVERY_ENTRIES;
    const applied = this.options.disk.state.lastApplied();
    const since = applied - this.snapshotIndex;
    if (since < every) return false;
    const lowest = this.leading ? this.node.lowestLiveMatch(RAFT_COMPACT_LIVE_TICKS) : null;
    const lagging = lowest !== null && lowest + RAFT_COMPACT_LAG_SLACK_ENTRIES < applied;
    // A follower far behind its leader is catching up: a fold now (a VACUUM INTO of the whole
    // state) slows the replay it competes with, and the next one is due again soon after.
    const behind =
      !this.leading && this.node.leaderCommitKnown > applied + RAFT_COMPACT_LAG_SLACK_ENTRIES;
    if (fetching || lagging) return since >= Math.max(every, RAFT_COMPACT_HELD_ENTRIES_MAX);
    if (behind) return since >= Math.max(every, RAFT_COMPACT_BEHIND_HELD_ENTRIES_MAX);
    return true;
  }

  /**
   * Folds the log up to `index` into `data`, the state as of `index` (exported meanwhile).
   * Only forward: a snapshot installed from the primary meanwhile may be newer. False if not.
   */
  compact(index: number, data: Uint8Array): boolean {
    if (this.stopped || index <= this.snapshotIndex || index > this.coreApplied) return false;
    this.node.compact(index, data);
    this.snapshotIndex = index;
    return true;
  }

  /** Answers every waiter (retryable) and takes no more input; false if already stopped. */
  stop(message: string): boolean {
    if (this.stopped) return false;
    this.stopped = true;
    this.leading = false;
    this.failEverything("UNAVAILABLE", message);
    return true;
  }

  // ---- the loop ----

  /**
   * Persists and applies what the core handed out, settles what can be settled, and answers
   * what to send and what happened. A throw (the disk failing, or the core's invariant) leaves
   * this replica unusable: the driver stops it, as a crash would.
   */
  drain(): ReplicaOutput {
    if (!this.stopped) {
      this.askReads();
      raft.driveReadies(this.node, {
        persist: (ready) => this.persistAndApply(ready),
        send: (messages) => this.outgoing.push(...messages),
        advanced: (ready, outcomes) => this.advanced(ready, outcomes),
      });
      this.noticeRoleChange();
      this.settleReads();
    }
    const output = { messages: this.outgoing, events: this.events, applied: this.applied };
    this.outgoing = [];
    this.events = [];
    this.applied = false;
    return output;
  }

  private advanced(ready: raft.Ready, outcomes: ReadonlyArray<[raft.Entry, Result<Outcome>]>) {
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
    this.settleChanges(ready.committedEntries);
    this.applied ||= outcomes.length > 0;
    this.noticeRoleChange();
    this.askReads();
  }

  /**
   * Entries, hard state, snapshot and the newly committed commands: one transaction; or, for a
   * snapshot newer than the state, the install (which persists the Raft state with it), then
   * the commands in a transaction of their own.
   */
  private persistAndApply(ready: raft.Ready): Array<[raft.Entry, Result<Outcome>]> {
    const { disk } = this.options;
    const state = disk.state;
    const outcomes: Array<[raft.Entry, Result<Outcome>]> = [];
    const snapshot = ready.snapshot;
    const installing = snapshot !== null && snapshot.index > state.lastApplied();
    if (installing) {
      disk.installSnapshot({ ...ready, snapshot });
      this.events.push({ kind: "restored", index: snapshot.index });
    }
    disk.transaction(() => {
      if (!installing) disk.saveRaft(ready);
      for (const entry of ready.committedEntries) {
        // After a restart the state may be ahead of what the core re-delivers.
        if (entry.index <= state.lastApplied()) continue;
        outcomes.push([entry, this.applyEntry(entry)]);
      }
    });
    return outcomes;
  }

  private applyEntry(entry: raft.Entry): Result<Outcome> {
    const state = this.options.disk.state;
    if (entry.command === null) {
      state.applyEntry(entry.index, () => undefined);
      return fail("NOT_PRIMARY", "a new primary's no-op");
    }
    const decoded = decodeCommand(decoder.decode(entry.command));
    if (!decoded.ok) {
      // Every replica holds the same bytes, so every replica skips the same entry.
      this.events.push({ kind: "skipped", index: entry.index, reason: decoded.message });
      state.applyEntry(entry.index, () => undefined);
      return fail("INTERNAL", `log entry ${entry.index} does not decode`);
    }
    try {
      return applyCommand(state, entry.index, decoded.value);
    } catch (error) {
      // The disk or the file failing is this node's problem: it must stop (rethrow). A rule of
      // the state machine broken by a committed command would break on every replica alike:
      // apply it as a no-op, loudly, rather than crash the whole group in a loop.
      if (this.options.disk.isDiskError(error)) throw error;
      const why = error instanceof Error ? error.message : String(error);
      this.events.push({
        kind: "skipped",
        index: entry.index,
        reason: `${decoded.value.type} broke a state-machine invariant: ${why}`,
      });
      state.applyEntry(entry.index, () => undefined);
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

  private settleChanges(committed: readonly raft.Entry[]): void {
    for (const entry of committed) {
      const change = this.changes.get(entry.index);
      if (change === undefined) continue;
      this.changes.delete(entry.index);
      if (change.term === entry.term && entry.membership !== undefined) {
        change.settle(ok(entry.membership));
      } else change.settle(this.notPrimary());
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
    const applied = this.options.disk.state.lastApplied();
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
      this.events.push({ kind: "leader", leader, term: this.term, self: leader === this.id });
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
    this.events.push({ kind: "leadership", leading });
  }

  /**
   * A new leader serves only once an entry of its own term is committed and applied: before
   * that its state may lack entries an earlier primary acknowledged.
   */
  private termApplied(): boolean {
    const commit = this.node.commitIndex;
    return (
      this.node.logView.termAt(commit) === this.node.currentTerm &&
      this.options.disk.state.lastApplied() >= commit
    );
  }

  private expireWaiters(nowMs: number): void {
    for (const [index, proposal] of this.proposals) {
      if (proposal.deadlineMs > nowMs) continue;
      this.proposals.delete(index);
      proposal.settle(fail("UNAVAILABLE", "the change was not committed in time; retry"));
    }
    for (const [index, change] of this.changes) {
      if (change.deadlineMs > nowMs) continue;
      this.changes.delete(index);
      change.settle(fail("UNAVAILABLE", "the membership change was not committed in time; retry"));
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
    for (const change of this.changes.values()) change.settle(answer);
    this.changes.clear();
    for (const read of this.unaskedReads) read.settle(answer);
    this.unaskedReads = [];
    for (const round of this.readRounds.values())
      for (const read of round.reads) read.settle(answer);
    this.readRounds.clear();
  }
}

/** A refused membership change as the error a caller acts on. */
function membershipRefusal(
  error: raft.MembershipChangeError,
  notPrimary: Result<never>,
): Result<never> {
  switch (error.code) {
    case "NOT_LEADER":
      return notPrimary;
    case "LEADER_NOT_READY":
      return fail("UNAVAILABLE", "the directory primary was just elected; retry in a moment");
    case "CHANGE_IN_PROGRESS":
      return fail("TOO_BUSY", "another membership change is still being committed; retry");
    case "INVALID_CHANGE":
      return fail("BAD_REQUEST", error.reason);
    case "QUORUM_AT_RISK":
      return fail(
        "PRECONDITION_FAILED",
        `refused: after it the directory group would need ${error.needed} voters to agree, ` +
          `and only ${error.liveVoters} answer now`,
      );
    default:
      return assertNever(error, "membership change error");
  }
}
