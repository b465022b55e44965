/**
 * RaftNode: one member of a directory group, sans I/O (etcd-io/raft's RawNode shape). Inputs are
 * `tick()`, `step(message)`, `propose(command)`, `readIndex(id)`, `suspectLeader()` and
 * `compact(index, data)`; output is a Ready batch the driver persists, then sends, then applies,
 * then hands back to `advance()`. Each role is a swapped step/tick function pair; the log rules
 * live in log.ts, follower bookkeeping in progress.ts, majority arithmetic in quorum.ts. It
 * must not read clocks, randomness other than the injected PRNG, or do any I/O.
 */

import { assert } from "../assert.ts";
import type { Random } from "../prng.ts";
import { RaftLog } from "./log.ts";
import {
  bootstrapMembership,
  changedMembership,
  isVoter,
  memberIds,
  memberOf,
  voterIds,
} from "./membership.ts";
import { Progress } from "./progress.ts";
import { committedIndex, majority, voteOutcome } from "./quorum.ts";
import {
  RAFT_APPEND_BYTES_MAX,
  RAFT_APPEND_ENTRIES_MAX,
  RAFT_GROUP_SIZES,
  RAFT_PENDING_READS_MAX,
  RAFT_UNCOMMITTED_ENTRIES_MAX,
  type Append,
  type AppendResponse,
  type Entry,
  type HardState,
  type Heartbeat,
  type HeartbeatResponse,
  type InstallSnapshot,
  type Membership,
  type MembershipChange,
  type MembershipChangeResult,
  type PreVote,
  type ProposeResult,
  type RaftConfig,
  type RaftId,
  type RaftMessage,
  type RaftNodeOptions,
  type ReadIndexResult,
  type ReadState,
  type Ready,
  type Role,
  type Vote,
  type VoteResponse,
} from "./types.ts";

/** The read-only view of a node's log that drivers and tests may inspect. */
export type LogView = Pick<
  RaftLog,
  "firstIndex" | "lastIndex" | "lastTerm" | "termAt" | "entryAt" | "snapshotIndex" | "snapshot"
>;

interface PendingRead {
  readonly requestId: string;
  readonly index: number;
  readonly seq: number;
}

export class RaftNode {
  readonly id: RaftId;
  /** The configuration the group was formed with (empty for a node that joined later). */
  private readonly bootstrap: Membership;
  /** The configuration in force: the newest in the log, committed or not (thesis §4.1). */
  private membership: Membership;
  /** The index of the entry that set it; 0 when it comes from the snapshot or bootstrap. */
  private configIndex = 0;
  /** See RaftNodeOptions.admitted: an unadmitted node neither votes nor campaigns. */
  private admittedAsMember: boolean;
  /** See RaftNodeOptions.folder; undefined: this node stamps none and binds none. */
  private readonly folder: string | undefined;
  /** The folder each member was last heard from: what a promotion binds it to. */
  private readonly heardFolders = new Map<RaftId, string>();
  /** Members heard from a folder other than the one bound for them, and that folder. */
  private readonly strangers = new Map<RaftId, string>();
  private readonly config: RaftConfig;
  private readonly prng: Random;
  private readonly log: RaftLog;
  private term = 0;
  private vote: RaftId | null = null;
  private lead: RaftId | null = null;
  /** See leaderCommitKnown. */
  private leaderCommitSeen = 0;
  private role: Role = "follower";
  private persisted: HardState;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private electionTimeout = 0;
  private readonly votes = new Map<RaftId, boolean>();
  private readonly progress = new Map<RaftId, Progress>();
  private outbox: RaftMessage[] = [];
  private readStates: ReadState[] = [];
  private pendingReads: PendingRead[] = [];
  private readSeq = 0;
  /** Between ready() and advance() no input is allowed: the batch must stay what it said. */
  private awaitingAdvance = false;
  private stepRole: (message: RaftMessage) => void = (m) => this.stepFollower(m);
  private tickRole: () => void = () => this.tickElection();

  constructor(options: RaftNodeOptions) {
    const size = options.peers.length;
    if (size > 0) {
      assert((RAFT_GROUP_SIZES as readonly number[]).includes(size), `group size ${size}`);
      assert(new Set(options.peers).size === size, "peer ids are distinct");
      assert(options.peers.includes(options.id), "a node is one of its own peers");
    }
    const { electionTicks, heartbeatTicks } = options.config;
    assert(heartbeatTicks >= 1 && heartbeatTicks < electionTicks, "heartbeat < election timeout");
    this.id = options.id;
    this.folder = options.folder;
    this.bootstrap = bootstrapMembership(options.peers, options.peerFolders);
    this.membership = this.bootstrap;
    this.admittedAsMember = options.admitted ?? true;
    this.config = options.config;
    this.prng = options.prng;
    const durable = options.durable;
    const hard = durable?.hardState ?? { term: 0, vote: null, commit: 0 };
    this.log = RaftLog.restore(durable?.snapshot ?? null, durable?.entries ?? [], hard.commit);
    this.refreshMembership();
    this.term = hard.term;
    this.vote = hard.vote;
    this.persisted = {
      term: hard.term,
      vote: hard.vote,
      commit: this.log.committed,
    };
    this.resetTimers();
  }

  // ---- inspection (for drivers, gossip metadata and tests) ----

  get currentRole(): Role {
    return this.role;
  }

  get currentTerm(): number {
    return this.term;
  }

  get votedFor(): RaftId | null {
    return this.vote;
  }

  get leader(): RaftId | null {
    return this.lead;
  }

  get commitIndex(): number {
    return this.log.committed;
  }

  get logView(): LogView {
    return this.log;
  }

  /** The configuration in force on this node now. */
  get currentMembership(): Membership {
    return this.membership;
  }

  /** Whether this node may vote and campaign (see RaftNodeOptions.admitted). */
  get admitted(): boolean {
    return this.admittedAsMember;
  }

  /**
   * Members whose messages come from another folder than the configuration binds them to
   * (their disks were wiped or replaced): ignored until removed and added back. Driver logs.
   */
  strangerFolders(): ReadonlyMap<RaftId, string> {
    return this.strangers;
  }

  /** The configuration in force binds this node's id to another folder than its own. */
  get strangerToGroup(): boolean {
    return this.boundElsewhere(this.membership);
  }

  /** Whether the newest configuration change in our log is committed. */
  get membershipCommitted(): boolean {
    return this.configIndex <= this.log.committed;
  }

  /**
   * A leader's view of how long each other member has been silent, in ticks since it last
   * answered (counted from when this node became leader: a new leader knows no older silence).
   */
  silentTicks(): ReadonlyMap<RaftId, number> {
    const silent = new Map<RaftId, number>();
    for (const [peer, pr] of this.progress) silent.set(peer, pr.ticksSinceHeard);
    return silent;
  }

  /** A leader's view of how far each other member's log matches its own (0 if unknown). */
  matchIndexes(): ReadonlyMap<RaftId, number> {
    const matches = new Map<RaftId, number>();
    for (const [peer, pr] of this.progress) matches.set(peer, pr.match);
    return matches;
  }

  /**
   * As leader: the lowest match index among members heard from within `withinTicks` (null if
   * none, or not leading). A log folded past it would send that member a snapshot.
   */
  lowestLiveMatch(withinTicks: number): number | null {
    let lowest: number | null = null;
    for (const pr of this.progress.values()) {
      if (pr.ticksSinceHeard > withinTicks) continue;
      lowest = lowest === null ? pr.match : Math.min(lowest, pr.match);
    }
    return lowest;
  }

  /**
   * The highest commit index a leader has told us of (appends carry its own), or our own if
   * higher: a follower whose applied index trails it far is catching up, not keeping up.
   * Not persisted: a restarted node learns it again from the next append.
   */
  get leaderCommitKnown(): number {
    return Math.max(this.leaderCommitSeen, this.log.committed);
  }

  // ---- inputs ----

  /** One logical tick; timeouts are counted in ticks so the driver owns the clock. */
  tick(): void {
    this.assertAcceptingInput();
    this.tickRole();
  }

  step(message: RaftMessage): void {
    this.assertAcceptingInput();
    // A message for someone else is a peer's fault: dropped. Senders outside our configuration
    // are heard: a leader adding us, or a member our log does not list yet (thesis §4.1); the
    // transport has already authenticated them as nodes of this cluster.
    if (message.to !== this.id) return;
    if (message.from === this.id) return;
    if (!this.fromBoundFolder(message)) return;
    if (message.term > this.term) {
      if (!this.acceptHigherTerm(message)) return;
    } else if (message.term < this.term) {
      this.answerStaleTerm(message);
      return;
    }
    if (message.type === "preVote" || message.type === "vote") {
      this.onVoteRequest(message);
      return;
    }
    this.stepRole(message);
  }

  propose(command: Uint8Array): ProposeResult {
    this.assertAcceptingInput();
    if (this.role !== "leader") {
      return {
        ok: false,
        error: { code: "NOT_LEADER", leaderHint: this.lead },
      };
    }
    const uncommitted = this.log.lastIndex() - this.log.committed;
    if (uncommitted >= RAFT_UNCOMMITTED_ENTRIES_MAX) {
      return {
        ok: false,
        error: { code: "BUSY", uncommittedEntries: uncommitted },
      };
    }
    const index = this.log.lastIndex() + 1;
    this.log.append({ index, term: this.term, command });
    this.broadcastAppend(false);
    return { ok: true, index, term: this.term };
  }

  /**
   * One single-server change (thesis §4.1), appended as a configuration entry that is in
   * force at once. Refused until the leader has committed an entry of its own term (so a
   * change from an earlier term it has not seen committed cannot overlap this one), while the
   * last change is uncommitted, and when the voters we hear from would be fewer than the new
   * configuration's majority.
   */
  proposeMembership(change: MembershipChange): MembershipChangeResult {
    this.assertAcceptingInput();
    if (this.role !== "leader") {
      return { ok: false, error: { code: "NOT_LEADER", leaderHint: this.lead } };
    }
    if (this.log.termAt(this.log.committed) !== this.term) {
      return { ok: false, error: { code: "LEADER_NOT_READY" } };
    }
    if (this.configIndex > this.log.committed) {
      return {
        ok: false,
        error: { code: "CHANGE_IN_PROGRESS", configIndex: this.configIndex },
      };
    }
    const heard = change.kind === "promote" ? this.heardFolders.get(change.id) : undefined;
    if (change.kind === "promote" && this.folder !== undefined && heard === undefined) {
      // Its folder must be bound before it votes; it comes with its first answer.
      const reason = `${change.id} has not answered yet`;
      return { ok: false, error: { code: "INVALID_CHANGE", reason } };
    }
    const changed = changedMembership(this.membership, change, heard);
    if (!changed.ok) {
      return { ok: false, error: { code: "INVALID_CHANGE", reason: changed.reason } };
    }
    const voters = voterIds(changed.membership);
    // Up means it answered one of the last two heartbeats: a voter that died a moment ago
    // must not count, or the change could leave the group without a majority.
    const upWithinTicks = 2 * this.config.heartbeatTicks;
    const live = voters.filter((id) => {
      const pr = this.progress.get(id);
      return id === this.id || (pr !== undefined && pr.ticksSinceHeard <= upWithinTicks);
    });
    if (live.length < majority(voters.length)) {
      const needed = majority(voters.length);
      return { ok: false, error: { code: "QUORUM_AT_RISK", liveVoters: live.length, needed } };
    }
    const index = this.log.lastIndex() + 1;
    this.log.append({ index, term: this.term, command: null, membership: changed.membership });
    this.adoptMembership(changed.membership, index);
    this.broadcastAppend(false);
    return { ok: true, index, membership: changed.membership };
  }

  /**
   * Asks for a linearizable read (thesis §6.4): once a heartbeat round proves we still lead,
   * a ReadState says which index the state machine must reach before the read is answered.
   */
  readIndex(requestId: string): ReadIndexResult {
    this.assertAcceptingInput();
    if (this.role !== "leader") {
      return {
        ok: false,
        error: { code: "NOT_LEADER", leaderHint: this.lead },
      };
    }
    if (this.log.termAt(this.log.committed) !== this.term) {
      return { ok: false, error: { code: "LEADER_NOT_READY" } };
    }
    if (this.pendingReads.length >= RAFT_PENDING_READS_MAX) {
      return {
        ok: false,
        error: { code: "BUSY", pendingReads: this.pendingReads.length },
      };
    }
    this.readSeq += 1;
    this.pendingReads.push({
      requestId,
      index: this.log.committed,
      seq: this.readSeq,
    });
    this.releaseReads();
    if (this.pendingReads.length > 0) this.broadcastHeartbeat();
    return { ok: true };
  }

  /**
   * Gossip suspects the leader: forget it (so we grant others' pre-votes) and start a pre-vote
   * now rather than after the election timeout. Pre-vote keeps a false suspicion harmless: the
   * peers still hearing the leader refuse, and nobody's term moves.
   */
  suspectLeader(): void {
    this.assertAcceptingInput();
    if (this.role !== "follower" || !this.mayCampaign()) return;
    this.lead = null;
    this.campaign();
  }

  /** The state machine has applied up to `index` and serialized itself as `data`. */
  compact(index: number, data: Uint8Array): void {
    this.assertAcceptingInput();
    this.log.compact(index, data, this.membershipAt(index));
  }

  // ---- output ----

  hasReady(): boolean {
    return (
      !sameHardState(this.hardState(), this.persisted) ||
      this.log.stableIndex < this.log.lastIndex() ||
      this.log.pendingSnapshot !== null ||
      this.outbox.length > 0 ||
      this.log.applied < this.log.committed ||
      this.readStates.length > 0
    );
  }

  ready(): Ready {
    this.assertAcceptingInput();
    const hardState = this.hardState();
    const ready: Ready = {
      hardState: sameHardState(hardState, this.persisted) ? null : hardState,
      entries: this.log.unstableEntries(),
      snapshot: this.log.pendingSnapshot,
      messages: this.outbox,
      committedEntries: this.log.entriesToApply(),
      readStates: this.readStates,
    };
    this.outbox = [];
    this.readStates = [];
    this.awaitingAdvance = true;
    return ready;
  }

  /** The driver persisted, sent and applied `ready`: move the durable and applied marks. */
  advance(ready: Ready): void {
    assert(this.awaitingAdvance, "advance() without an outstanding ready()");
    this.awaitingAdvance = false;
    if (ready.hardState !== null) this.persisted = ready.hardState;
    if (ready.snapshot !== null && this.log.pendingSnapshot === ready.snapshot) {
      this.log.pendingSnapshot = null;
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) {
      assert(this.log.matchTerm(lastEntry.index, lastEntry.term), "entries changed before advance");
      this.log.stableIndex = lastEntry.index;
    }
    const lastApplied = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastApplied !== undefined) this.log.applied = lastApplied.index;
    // The leader counts itself toward a majority only for entries on its own disk.
    if (this.role === "leader" && this.maybeCommit()) this.broadcastAppend(true);
    this.stepDownIfRemoved();
  }

  // ---- terms and votes (every role) ----

  /** A message from a higher term: adopt it, unless it is a vote we must not let disrupt us. */
  private acceptHigherTerm(message: RaftMessage): boolean {
    if (message.type === "preVote") return true;
    // A granted pre-vote carries the term we would campaign at; nothing to adopt yet.
    if (message.type === "preVoteResponse" && message.granted) return true;
    if (message.type === "vote" && this.inLease()) return false;
    const fromLeader =
      message.type === "append" ||
      message.type === "heartbeat" ||
      message.type === "installSnapshot";
    this.becomeFollower(message.term, fromLeader ? message.from : null);
    return true;
  }

  /** A deposed leader learns the new term from our answer and steps down (Figure 2). */
  private answerStaleTerm(message: RaftMessage): void {
    switch (message.type) {
      case "append":
      case "heartbeat":
      case "installSnapshot":
        this.send(appendReply(this, message.from, false, 0, 0));
        return;
      case "preVote":
        this.send(voteReply(this, message, false));
        return;
      default:
        return;
    }
  }

  /**
   * Figure 2, RequestVote receiver: grant if we have not voted for another in this term and the
   * candidate's log is at least as up to date. A pre-vote is granted on the same log rule, for a
   * term above ours, unless we are in a live leader's lease (thesis §9.6).
   */
  private onVoteRequest(message: PreVote | Vote): void {
    const canVote =
      message.type === "preVote"
        ? message.term > this.term && !this.inLease() && this.role !== "leader"
        : this.vote === message.from || (this.vote === null && this.lead === null);
    const granted =
      canVote &&
      this.admittedAsMember &&
      !this.strangerToGroup &&
      this.log.isUpToDate(message.lastIndex, message.lastTerm);
    if (granted && message.type === "vote") {
      this.vote = message.from;
      this.electionElapsed = 0;
    }
    this.send(voteReply(this, message, granted));
  }

  /** We heard from a leader within the minimum election timeout. */
  private inLease(): boolean {
    return this.lead !== null && this.electionElapsed < this.config.electionTicks;
  }

  // ---- role transitions ----

  private becomeFollower(term: number, lead: RaftId | null): void {
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    this.role = "follower";
    this.lead = lead;
    this.stepRole = (m) => this.stepFollower(m);
    this.tickRole = () => this.tickElection();
    this.leaveLeadership();
    this.resetTimers();
  }

  /** Starts an election with a pre-vote round: our term moves only if a majority would agree. */
  private campaign(): void {
    this.role = "preCandidate";
    // Out of the leader's lease from now on: we are asking for a new one.
    this.lead = null;
    this.stepRole = (m) => this.stepCandidate(m, "preVoteResponse");
    this.tickRole = () => this.tickElection();
    this.resetTimers();
    this.requestVotes("preVote", this.term + 1);
  }

  private becomeCandidate(): void {
    this.term += 1;
    this.vote = this.id;
    this.lead = null;
    this.role = "candidate";
    this.stepRole = (m) => this.stepCandidate(m, "voteResponse");
    this.tickRole = () => this.tickElection();
    this.resetTimers();
    this.requestVotes("vote", this.term);
  }

  private requestVotes(type: "preVote" | "vote", term: number): void {
    this.votes.set(this.id, true);
    for (const peer of this.otherVoters()) {
      const lastIndex = this.log.lastIndex();
      const lastTerm = this.log.lastTerm();
      this.send({ type, from: this.id, to: peer, term, lastIndex, lastTerm });
    }
    this.tallyVotes();
  }

  private tallyVotes(): void {
    const voters = voterIds(this.membership);
    let granted = 0;
    let rejected = 0;
    for (const [from, vote] of this.votes) {
      if (!voters.includes(from)) continue; // only the configuration's voters decide
      if (vote) granted += 1;
      else rejected += 1;
    }
    const outcome = voteOutcome(granted, rejected, voters.length);
    if (outcome === "lost") this.becomeFollower(this.term, null);
    if (outcome !== "won") return;
    if (this.role === "preCandidate") this.becomeCandidate();
    else this.becomeLeader();
  }

  /** Figure 2, Leaders: reinitialize next/match, then append a no-op to commit our term. */
  private becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    this.role = "leader";
    this.lead = this.id;
    this.stepRole = (m) => this.stepLeader(m);
    this.tickRole = () => this.tickLeader();
    this.resetTimers();
    for (const peer of this.otherPeers()) {
      this.progress.set(peer, new Progress(this.log.lastIndex() + 1));
    }
    this.log.append({
      index: this.log.lastIndex() + 1,
      term: this.term,
      command: null,
    });
    this.broadcastAppend(false);
  }

  private leaveLeadership(): void {
    this.progress.clear();
    // Reads waiting on a quorum we no longer lead cannot be confirmed; the client retries.
    this.pendingReads = [];
  }

  private resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    const { electionTicks } = this.config;
    this.electionTimeout = electionTicks + this.prng.intBelow(electionTicks);
    this.votes.clear();
  }

  // ---- ticks ----

  private tickElection(): void {
    this.electionElapsed += 1;
    if (this.electionElapsed < this.electionTimeout) return;
    if (this.mayCampaign()) {
      this.campaign();
      return;
    }
    // A learner, a node not yet added, or one removed waits to hear from a leader; having not
    // heard one for a whole timeout, it no longer vouches for one (its lease ends), so it can
    // vote for a candidate that needs it (a learner the candidate's log already promoted).
    this.lead = null;
    this.electionElapsed = 0;
  }

  /** Heartbeats, and check-quorum: a leader cut off from a majority steps down (§6.2). */
  private tickLeader(): void {
    this.heartbeatElapsed += 1;
    for (const pr of this.progress.values()) pr.ticksSinceHeard += 1;
    this.electionElapsed += 1;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      const voters = voterIds(this.membership);
      let active = voters.includes(this.id) ? 1 : 0;
      for (const [peer, pr] of this.progress) {
        if (pr.recentActive && voters.includes(peer)) active += 1;
        pr.recentActive = false;
      }
      if (active < majority(voters.length)) {
        this.becomeFollower(this.term, null);
        return;
      }
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  // ---- follower, candidates ----

  private stepFollower(message: RaftMessage): void {
    switch (message.type) {
      case "append":
        this.heardFromLeader(message.from);
        return this.onAppend(message);
      case "heartbeat":
        this.heardFromLeader(message.from);
        return this.onHeartbeat(message);
      case "installSnapshot":
        this.heardFromLeader(message.from);
        return this.onInstallSnapshot(message);
      default:
        return;
    }
  }

  private stepCandidate(message: RaftMessage, awaited: VoteResponse["type"]): void {
    switch (message.type) {
      case "append":
      case "heartbeat":
      case "installSnapshot":
        // Figure 2: a candidate hearing a leader of its own term returns to follower.
        this.becomeFollower(this.term, message.from);
        return this.stepFollower(message);
      case "preVoteResponse":
      case "voteResponse":
        if (message.type !== awaited) return;
        this.votes.set(message.from, message.granted);
        return this.tallyVotes();
      default:
        return;
    }
  }

  private heardFromLeader(from: RaftId): void {
    this.lead = from;
    this.electionElapsed = 0;
  }

  private onAppend(message: Append): void {
    this.leaderCommitSeen = Math.max(this.leaderCommitSeen, message.commit);
    if (message.prevIndex < this.log.committed) {
      // Everything up to our commit index matches any leader's log: resume from there.
      this.send(appendReply(this, message.from, true, this.log.committed, 0));
      return;
    }
    const matched = this.log.tryAppend(message.prevIndex, message.prevTerm, message.entries);
    if (matched === null) {
      const hint = this.log.conflictHint(message.prevIndex);
      this.send(appendReply(this, message.from, false, message.prevIndex, hint));
      return;
    }
    const ourConfigEntry = this.configIndex === 0 ? null : this.log.entryAt(this.configIndex);
    const configTouched =
      message.entries.some((entry) => entry.membership !== undefined) ||
      (this.configIndex > 0 && ourConfigEntry?.membership === undefined);
    if (configTouched) this.refreshMembership();
    this.log.commitTo(Math.min(message.commit, matched));
    this.send(appendReply(this, message.from, true, matched, 0));
  }

  private onHeartbeat(message: Heartbeat): void {
    this.log.commitTo(Math.min(message.commit, this.log.lastIndex()));
    const reply: HeartbeatResponse = {
      type: "heartbeatResponse",
      from: this.id,
      to: message.from,
      term: this.term,
      readSeq: message.readSeq,
    };
    this.send(reply);
  }

  private onInstallSnapshot(message: InstallSnapshot): void {
    const snapshot = message.snapshot;
    if (snapshot.index <= this.log.committed) {
      this.send(appendReply(this, message.from, true, this.log.committed, 0));
      return;
    }
    if (this.log.matchTerm(snapshot.index, snapshot.term)) {
      // We already hold the entry the snapshot ends at, so our log through it is the leader's.
      this.log.commitTo(snapshot.index);
    } else {
      this.log.restoreSnapshot(snapshot);
      this.refreshMembership();
    }
    this.send(appendReply(this, message.from, true, snapshot.index, 0));
  }

  // ---- leader ----

  private stepLeader(message: RaftMessage): void {
    switch (message.type) {
      case "appendResponse":
        return this.onAppendResponse(message);
      case "heartbeatResponse":
        return this.onHeartbeatResponse(message);
      case "append":
      case "heartbeat":
      case "installSnapshot":
        // Two leaders in one term would break election safety: our bug, never a peer's.
        assert(false, `${this.id} leads term ${this.term}; ${message.from} sent ${message.type}`);
        return;
      default:
        return;
    }
  }

  private onAppendResponse(message: AppendResponse): void {
    const pr = this.progress.get(message.from);
    if (pr === undefined) return; // a member since removed, answering late
    pr.recentActive = true;
    pr.ticksSinceHeard = 0;
    if (!message.success) {
      if (pr.rejected(message.index, message.hintIndex)) this.replicateTo(message.from, pr, false);
      return;
    }
    const advanced = pr.matched(message.index);
    if (advanced && pr.state !== "replicate") pr.becomeReplicate();
    if (advanced && this.maybeCommit()) {
      this.broadcastAppend(true);
      this.stepDownIfRemoved();
    } else this.replicateTo(message.from, pr, false);
  }

  private onHeartbeatResponse(message: HeartbeatResponse): void {
    const pr = this.progress.get(message.from);
    if (pr === undefined) return; // a member since removed, answering late
    pr.recentActive = true;
    pr.ticksSinceHeard = 0;
    // The link works, yet the follower still lags a heartbeat interval (≫ a round trip) later:
    // treat what is in flight as lost and resend from its match, by probing.
    if (pr.match < this.log.lastIndex()) {
      pr.next = pr.match + 1;
      pr.becomeProbe();
      this.replicateTo(message.from, pr, false);
    }
    pr.readSeqAcked = Math.max(pr.readSeqAcked, message.readSeq);
    this.releaseReads();
  }

  /**
   * §5.4.2: commit by counting replicas only for an entry of the current term; earlier terms'
   * entries then commit with it by the Log Matching Property.
   */
  private maybeCommit(): boolean {
    const voters = voterIds(this.membership);
    // A leader that removed itself still leads until that change commits, without counting.
    const matches = voters.includes(this.id) ? [this.log.stableIndex] : [];
    for (const [peer, pr] of this.progress) if (voters.includes(peer)) matches.push(pr.match);
    if (matches.length === 0) return false;
    const index = committedIndex(matches);
    if (index <= this.log.committed || this.log.termAt(index) !== this.term) return false;
    this.log.commitTo(index);
    this.releaseReads();
    return true;
  }

  /** Reads whose heartbeat round a majority confirmed, once our term has a committed entry. */
  private releaseReads(): void {
    if (this.log.termAt(this.log.committed) !== this.term) return;
    while (this.pendingReads.length > 0) {
      const read = this.pendingReads[0];
      assert(read !== undefined, "non-empty queue has a head");
      const voters = voterIds(this.membership);
      let acks = voters.includes(this.id) ? 1 : 0;
      for (const [peer, pr] of this.progress) {
        if (voters.includes(peer) && pr.readSeqAcked >= read.seq) acks += 1;
      }
      if (acks < majority(voters.length)) return;
      this.pendingReads.shift();
      this.readStates.push({ requestId: read.requestId, index: read.index });
    }
  }

  private broadcastAppend(sendIfEmpty: boolean): void {
    for (const [peer, pr] of this.progress) this.replicateTo(peer, pr, sendIfEmpty);
  }

  private broadcastHeartbeat(): void {
    for (const [peer, pr] of this.progress) {
      const heartbeat: Heartbeat = {
        type: "heartbeat",
        from: this.id,
        to: peer,
        term: this.term,
        // Never tell a follower to commit past what it is known to hold (it may lag).
        commit: Math.min(pr.match, this.log.committed),
        readSeq: this.readSeq,
      };
      this.send(heartbeat);
    }
  }

  /** Sends appends to `peer` until its window is full or it has everything. */
  private replicateTo(peer: RaftId, pr: Progress, sendIfEmpty: boolean): void {
    let sentOne = false;
    while (!pr.isPaused()) {
      const hasEntries = pr.next <= this.log.lastIndex();
      if (!hasEntries && (sentOne || !sendIfEmpty)) return;
      const prevIndex = pr.next - 1;
      const prevTerm = this.log.termAt(prevIndex);
      if (prevTerm === null) {
        this.sendSnapshot(peer, pr);
        return;
      }
      const last = Math.min(this.log.lastIndex(), pr.next + RAFT_APPEND_ENTRIES_MAX - 1);
      const entries = capEntryBytes(this.log.slice(pr.next, last));
      const commit = this.log.committed;
      const term = this.term;
      const from = this.id;
      this.send({
        type: "append",
        from,
        to: peer,
        term,
        prevIndex,
        prevTerm,
        entries,
        commit,
      });
      pr.sent(prevIndex + entries.length, entries.length);
      sentOne = true;
      if (!hasEntries) return;
    }
  }

  /** The follower needs entries we compacted: send the snapshot instead (§7). */
  private sendSnapshot(peer: RaftId, pr: Progress): void {
    const snapshot = this.log.snapshot;
    assert(snapshot !== null, "a compacted prefix implies a snapshot");
    this.send({
      type: "installSnapshot",
      from: this.id,
      to: peer,
      term: this.term,
      snapshot,
    });
    pr.becomeSnapshot(snapshot.index);
  }

  // ---- plumbing ----

  private send(message: RaftMessage): void {
    this.outbox.push(this.folder === undefined ? message : { ...message, folder: this.folder });
  }

  /**
   * A message from a member bound to a folder counts only if it comes from that folder: the
   * same id on a wiped disk forgot its votes and the entries it acknowledged, so its vote
   * could elect a leader missing committed entries, and its acknowledgement commit what only
   * it and a minority hold. Such a message is dropped and its sender remembered as a stranger.
   */
  private fromBoundFolder(message: RaftMessage): boolean {
    const bound = memberOf(this.membership, message.from)?.folder;
    if (bound !== undefined && message.folder !== bound) {
      this.strangers.set(message.from, message.folder ?? "");
      return false;
    }
    this.strangers.delete(message.from);
    if (message.folder !== undefined) this.heardFolders.set(message.from, message.folder);
    return true;
  }

  /** `membership` binds this node's id to a folder other than its own. */
  private boundElsewhere(membership: Membership): boolean {
    const bound = memberOf(membership, this.id)?.folder;
    return this.folder !== undefined && bound !== undefined && bound !== this.folder;
  }

  private otherPeers(): RaftId[] {
    return memberIds(this.membership).filter((peer) => peer !== this.id);
  }

  private otherVoters(): RaftId[] {
    return voterIds(this.membership).filter((peer) => peer !== this.id);
  }

  // ---- configuration ----

  /** The newest configuration in the log, else the snapshot's, else the bootstrap one. */
  private refreshMembership(): void {
    for (let index = this.log.lastIndex(); index > this.log.snapshotIndex; index -= 1) {
      const membership = this.log.entryAt(index)?.membership;
      if (membership !== undefined) return this.adoptMembership(membership, index);
    }
    this.adoptMembership(this.log.snapshot?.membership ?? this.bootstrap, 0);
  }

  /** The configuration in force at `index` (for a snapshot ending there). */
  private membershipAt(index: number): Membership {
    for (let at = index; at > this.log.snapshotIndex; at -= 1) {
      const membership = this.log.entryAt(at)?.membership;
      if (membership !== undefined) return membership;
    }
    return this.log.snapshot?.membership ?? this.bootstrap;
  }

  /** A leader starts (or stops) replicating to members as soon as a configuration is in force. */
  private adoptMembership(membership: Membership, index: number): void {
    this.membership = membership;
    this.configIndex = index;
    const self = membership.members.find((member) => member.id === this.id);
    if (self !== undefined && !self.voter) this.admittedAsMember = true;
    if (this.role !== "leader") return;
    const others = new Set(this.otherPeers());
    for (const peer of [...this.progress.keys()]) if (!others.has(peer)) this.progress.delete(peer);
    for (const peer of others) {
      if (!this.progress.has(peer)) this.progress.set(peer, new Progress(this.log.lastIndex() + 1));
    }
  }

  /**
   * A voter of the configuration in force may campaign; so may a voter of the newest committed
   * one. The second case is a leader that removed itself and lost its leadership before the
   * removal committed: the remaining voters may need its log to elect anyone (their logs can
   * lack entries only it and they together hold), so it must be able to lead again and finish
   * the change. Votes are still counted by the configuration in force.
   */
  private mayCampaign(): boolean {
    if (!this.admittedAsMember || this.strangerToGroup) return false;
    const committed = this.membershipAt(this.log.committed);
    return (
      isVoter(this.membership, this.id) ||
      (isVoter(committed, this.id) && !this.boundElsewhere(committed))
    );
  }

  /** A leader whose removal committed hands over by stepping down (thesis §4.2.2). */
  private stepDownIfRemoved(): void {
    if (this.role !== "leader" || isVoter(this.membership, this.id)) return;
    if (this.configIndex <= this.log.committed) this.becomeFollower(this.term, null);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private assertAcceptingInput(): void {
    assert(!this.awaitingAdvance, "the driver must advance() the last ready() before new input");
  }
}

/** The longest prefix within RAFT_APPEND_BYTES_MAX, but at least one entry (progress). */
function capEntryBytes(entries: Entry[]): Entry[] {
  let bytes = 0;
  for (const [at, entry] of entries.entries()) {
    bytes += entry.command?.byteLength ?? 0;
    if (bytes > RAFT_APPEND_BYTES_MAX && at > 0) return entries.slice(0, at);
  }
  return entries;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function appendReply(
  node: RaftNode,
  to: RaftId,
  success: boolean,
  index: number,
  hintIndex: number,
): AppendResponse {
  const term = node.currentTerm;
  return {
    type: "appendResponse",
    from: node.id,
    to,
    term,
    success,
    index,
    hintIndex,
  };
}

/** A granted pre-vote echoes the campaign term; anything else carries ours, to teach it. */
function voteReply(node: RaftNode, request: PreVote | Vote, granted: boolean): VoteResponse {
  const type = request.type === "preVote" ? "preVoteResponse" : "voteResponse";
  const term = request.type === "preVote" && granted ? request.term : node.currentTerm;
  return { type, from: node.id, to: request.from, term, granted };
}
