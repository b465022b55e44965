/**
 * RaftNode against sentences of the Raft paper (Ongaro & Ousterhout 2014) and thesis (§9.6
 * pre-vote, §6.2 check-quorum), each test a short transcript on a hand-driven network.
 */
import { describe, expect, test } from "bun:test";
import { Prng } from "../prng.ts";
import { RaftNode } from "./node.ts";
import { RAFT_APPEND_BYTES_MAX, raftId, type RaftId, type RaftMessage } from "./types.ts";

const IDS = [raftId("a"), raftId("b"), raftId("c")];
const CONFIG = { electionTicks: 10, heartbeatTicks: 2 };
const encoder = new TextEncoder();

function makeNode(id: RaftId, seed = 1): RaftNode {
  return new RaftNode({ id, peers: IDS, config: CONFIG, prng: new Prng(seed) });
}

/** Read requests released by any drained node, in order. */
const released: string[] = [];

/** Drains a node's Ready as a driver would, returning the messages it sent. */
function drain(node: RaftNode): RaftMessage[] {
  const sent: RaftMessage[] = [];
  while (node.hasReady()) {
    const ready = node.ready();
    sent.push(...ready.messages);
    released.push(...ready.readStates.map((r) => `${r.requestId}@${r.index}`));
    node.advance(ready);
  }
  return sent;
}

/** Delivers messages among `nodes` until quiet (a perfect network). */
function settle(nodes: Map<RaftId, RaftNode>, pending: RaftMessage[]): void {
  let delivered = 0;
  for (let m = pending.shift(); m !== undefined; m = pending.shift()) {
    delivered += 1;
    if (delivered > 100000) throw new Error(`no quiet: ${JSON.stringify(m).slice(0, 300)}`);
    const to = nodes.get(m.to);
    if (to === undefined) continue;
    to.step(m);
    pending.push(...drain(to));
  }
}

function cluster(): Map<RaftId, RaftNode> {
  return new Map(IDS.map((id, i) => [id, makeNode(id, i + 1)]));
}

function elect(nodes: Map<RaftId, RaftNode>, id: RaftId): RaftNode {
  const node = nodes.get(id) as RaftNode;
  node.suspectLeader();
  settle(nodes, drain(node));
  return node;
}

describe("leader election (§5.2)", () => {
  test("a follower that receives no communication for an election timeout begins an election", () => {
    const node = makeNode(IDS[0] as RaftId);
    for (let i = 0; i < 2 * CONFIG.electionTicks; i += 1) node.tick();
    expect(node.currentRole).toBe("preCandidate");
    const sent = drain(node);
    expect(sent.map((m) => m.type)).toEqual(["preVote", "preVote"]);
    expect(node.currentTerm).toBe(0); // pre-vote does not move the term
  });

  test("a candidate wins with votes from a majority and then sends heartbeats", () => {
    const nodes = cluster();
    const a = elect(nodes, IDS[0] as RaftId);
    expect(a.currentRole).toBe("leader");
    expect(a.currentTerm).toBe(1);
    expect(nodes.get(IDS[1] as RaftId)?.leader).toBe(a.id);
  });

  test("election safety: each server votes for at most one candidate in a given term", () => {
    const b = makeNode(IDS[1] as RaftId);
    const vote = (from: RaftId): RaftMessage => ({
      type: "vote",
      from,
      to: b.id,
      term: 1,
      lastIndex: 0,
      lastTerm: 0,
    });
    b.step(vote(IDS[0] as RaftId));
    b.step(vote(IDS[2] as RaftId));
    const replies = drain(b).filter((m) => m.type === "voteResponse");
    expect(replies.map((m) => (m.type === "voteResponse" ? m.granted : null))).toEqual([
      true,
      false,
    ]);
    expect(b.votedFor).toBe(IDS[0] as RaftId);
  });

  test("the voter denies its vote if its own log is more up-to-date than the candidate's (§5.4.1)", () => {
    const nodes = cluster();
    elect(nodes, IDS[0] as RaftId); // everyone now holds the term-1 no-op at index 1
    const c = nodes.get(IDS[2] as RaftId) as RaftNode;
    c.step({
      type: "vote",
      from: IDS[1] as RaftId,
      to: c.id,
      term: 5,
      lastIndex: 0,
      lastTerm: 0,
    });
    const reply = drain(c).find((m) => m.type === "voteResponse");
    expect(reply?.type === "voteResponse" && reply.granted).toBe(false);
  });

  test("if a server learns of a larger term it updates its term and reverts to follower", () => {
    const nodes = cluster();
    const a = elect(nodes, IDS[0] as RaftId);
    a.step({
      type: "heartbeat",
      from: IDS[1] as RaftId,
      to: a.id,
      term: 7,
      commit: 0,
      readSeq: 0,
    });
    expect(a.currentRole).toBe("follower");
    expect(a.currentTerm).toBe(7);
  });
});

describe("log replication and commitment (§5.3, §5.4.2)", () => {
  test("an entry is committed once replicated on a majority, and then applied", () => {
    const nodes = cluster();
    const a = elect(nodes, IDS[0] as RaftId);
    const result = a.propose(encoder.encode("x"));
    expect(result.ok).toBe(true);
    settle(nodes, drain(a));
    expect(a.commitIndex).toBe(2);
    const ready = a.hasReady() ? a.ready() : null;
    if (ready !== null) a.advance(ready);
  });

  test("a follower rejects AppendEntries whose prevLogIndex/prevLogTerm it lacks", () => {
    const b = makeNode(IDS[1] as RaftId);
    b.step({
      type: "append",
      from: IDS[0] as RaftId,
      to: b.id,
      term: 1,
      prevIndex: 3,
      prevTerm: 1,
      entries: [],
      commit: 0,
    });
    const reply = drain(b).find((m) => m.type === "appendResponse");
    expect(reply?.type === "appendResponse" && !reply.success && reply.hintIndex === 0).toBe(true);
  });

  test("a leader never commits entries from previous terms by counting replicas", () => {
    const [aId, bId] = [IDS[0] as RaftId, IDS[1] as RaftId];
    const old = { index: 1, term: 1, command: encoder.encode("old") };
    const durable = {
      hardState: { term: 1, vote: aId, commit: 0 },
      snapshot: null,
      entries: [old],
    };
    const a = new RaftNode({
      id: aId,
      peers: IDS,
      config: CONFIG,
      prng: new Prng(1),
      durable,
    });
    a.suspectLeader();
    drain(a);
    a.step({
      type: "preVoteResponse",
      from: bId,
      to: aId,
      term: 2,
      granted: true,
    });
    drain(a);
    a.step({
      type: "voteResponse",
      from: bId,
      to: aId,
      term: 2,
      granted: true,
    });
    drain(a); // persists the term-2 no-op at index 2
    expect(a.currentRole).toBe("leader");
    const ack = (index: number): RaftMessage => ({
      type: "appendResponse",
      from: bId,
      to: aId,
      term: 2,
      success: true,
      index,
      hintIndex: 0,
    });
    a.step(ack(1)); // entry 1 (term 1) is now on a majority, but it is not of term 2
    expect(a.commitIndex).toBe(0);
    a.step(ack(2)); // the term-2 entry commits, and entry 1 with it
    expect(a.commitIndex).toBe(2);
  });

  test("a proposal at a follower is refused with a hint of the leader", () => {
    const nodes = cluster();
    const a = elect(nodes, IDS[0] as RaftId);
    const b = nodes.get(IDS[1] as RaftId) as RaftNode;
    const result = b.propose(encoder.encode("x"));
    expect(result).toEqual({
      ok: false,
      error: { code: "NOT_LEADER", leaderHint: a.id },
    });
  });
});

describe("pre-vote (§9.6) and check-quorum (§6.2)", () => {
  test("a follower that heard from its leader within the election timeout refuses a pre-vote", () => {
    const nodes = cluster();
    elect(nodes, IDS[0] as RaftId);
    const b = nodes.get(IDS[1] as RaftId) as RaftNode;
    b.step({
      type: "preVote",
      from: IDS[2] as RaftId,
      to: b.id,
      term: 2,
      lastIndex: 9,
      lastTerm: 9,
    });
    const reply = drain(b).find((m) => m.type === "preVoteResponse");
    expect(reply?.type === "preVoteResponse" && reply.granted).toBe(false);
    expect(b.currentTerm).toBe(1);
  });

  test("a leader that hears from no majority within an election timeout steps down", () => {
    const nodes = cluster();
    const a = elect(nodes, IDS[0] as RaftId);
    for (let i = 0; i < 2 * CONFIG.electionTicks; i += 1) {
      a.tick();
      drain(a); // messages go nowhere: a is cut off
    }
    expect(a.currentRole).toBe("follower");
  });

  test("read index: a read is released once a heartbeat round confirms leadership", () => {
    const nodes = cluster();
    const a = elect(nodes, IDS[0] as RaftId);
    released.length = 0;
    expect(a.readIndex("r1")).toEqual({ ok: true });
    const heartbeats = drain(a);
    expect(released).toEqual([]);
    settle(nodes, heartbeats);
    expect(released).toEqual(["r1@1"]);
  });
});

describe("append size", () => {
  test("a catch-up append carries at most RAFT_APPEND_BYTES_MAX of commands, yet one entry at least", () => {
    const nodes = cluster();
    const a = elect(nodes, IDS[0] as RaftId);
    const b = nodes.get(IDS[1] as RaftId) as RaftNode;
    const big = new Uint8Array(RAFT_APPEND_BYTES_MAX / 2 + 1);
    for (let n = 0; n < 3; n += 1) expect(a.propose(big).ok).toBe(true);
    drain(a); // lost: b never hears of the three big entries
    expect(a.propose(encoder.encode("small")).ok).toBe(true);
    const toB = drain(a).filter((m) => m.to === b.id);
    for (const message of toB) b.step(message);
    // b refuses (it lacks the big entries); a goes back and resends them, byte-capped.
    const refusals = drain(b);
    expect(refusals.some((m) => m.type === "appendResponse" && !m.success)).toBe(true);
    for (const message of refusals) a.step(message);
    const resent = drain(a).filter((m) => m.type === "append" && m.to === b.id);
    const sizes = resent.map((m) => (m.type === "append" ? m.entries.length : -1));
    // Two entries of half the cap plus one exceed it: each append holds one, none is empty.
    expect(sizes.length).toBeGreaterThan(0);
    expect(sizes.every((size) => size === 1)).toBe(true);
    const bytes = resent.map((m) =>
      m.type === "append" ? m.entries.reduce((sum, e) => sum + (e.command?.byteLength ?? 0), 0) : 0,
    );
    expect(Math.max(...bytes)).toBe(big.byteLength);
  });
});

describe("membership changes (thesis §4.1: one server at a time)", () => {
  const D = raftId("d");

  /** a, b, c formed the group; d starts empty, not yet a member. */
  function withJoiner(): Map<RaftId, RaftNode> {
    const nodes = cluster();
    nodes.set(D, new RaftNode({ id: D, peers: [], config: CONFIG, prng: new Prng(9) }));
    return nodes;
  }

  function change(
    nodes: Map<RaftId, RaftNode>,
    leader: RaftNode,
    ...args: Parameters<RaftNode["proposeMembership"]>
  ) {
    const result = leader.proposeMembership(...args);
    settle(nodes, drain(leader));
    return result;
  }

  /** A few heartbeat rounds, so check-quorum has seen who answers. */
  function rounds(nodes: Map<RaftId, RaftNode>, count: number): void {
    for (let i = 0; i < count * CONFIG.electionTicks; i += 1) {
      for (const node of nodes.values()) node.tick();
      for (const node of nodes.values()) settle(nodes, drain(node));
    }
  }

  test("a node added as a learner gets the log but no vote; promoted, it counts; the change is in the log", () => {
    const nodes = withJoiner();
    const leader = elect(nodes, IDS[0] as RaftId);
    const d = nodes.get(D) as RaftNode;
    rounds(nodes, 2);
    const added = change(nodes, leader, { kind: "addLearner", id: D, address: "h4:1" });
    expect(added.ok).toBe(true);
    expect(d.currentMembership).toEqual(leader.currentMembership);
    expect(d.commitIndex).toBe(leader.commitIndex);
    // A learner never campaigns, however long it hears nothing.
    for (let i = 0; i < 5 * CONFIG.electionTicks; i += 1) d.tick();
    expect(d.currentRole).toBe("follower");
    rounds(nodes, 2);
    expect(change(nodes, leader, { kind: "promote", id: D }).ok).toBe(true);
    expect(d.currentMembership.members.find((m) => m.id === D)?.voter).toBe(true);
    const entry = leader.logView.entryAt(leader.logView.lastIndex());
    expect(entry?.membership?.members.map((m) => `${m.id}:${m.voter}`)).toEqual([
      "a:true",
      "b:true",
      "c:true",
      "d:true",
    ]);
  });

  test("one change at a time; a change that does not fit is refused with its reason", () => {
    const nodes = withJoiner();
    const leader = elect(nodes, IDS[0] as RaftId);
    rounds(nodes, 2);
    const first = leader.proposeMembership({ kind: "addLearner", id: D, address: "h4:1" });
    expect(first.ok).toBe(true);
    const second = leader.proposeMembership({ kind: "remove", id: IDS[1] as RaftId });
    expect(second.ok ? null : second.error.code).toBe("CHANGE_IN_PROGRESS");
    settle(nodes, drain(leader));
    const twice = leader.proposeMembership({ kind: "addLearner", id: D, address: "h4:1" });
    expect(twice).toEqual({
      ok: false,
      error: { code: "INVALID_CHANGE", reason: "d is already a member" },
    });
    const follower = nodes.get(IDS[1] as RaftId) as RaftNode;
    const notLeader = follower.proposeMembership({ kind: "remove", id: D });
    expect(notLeader).toEqual({
      ok: false,
      error: { code: "NOT_LEADER", leaderHint: IDS[0] ?? null },
    });
  });

  test("a removal that would leave fewer live voters than the new majority is refused", () => {
    const nodes = cluster();
    const leader = elect(nodes, IDS[0] as RaftId);
    rounds(nodes, 2);
    // c goes silent: a and b still make 2 of 3.
    nodes.delete(IDS[2] as RaftId);
    rounds(nodes, 2);
    const result = leader.proposeMembership({ kind: "remove", id: IDS[1] as RaftId });
    expect(result).toEqual({
      ok: false,
      error: { code: "QUORUM_AT_RISK", liveVoters: 1, needed: 2 },
    });
    // Removing the silent c instead keeps a and b: allowed.
    expect(change(nodes, leader, { kind: "remove", id: IDS[2] as RaftId }).ok).toBe(true);
    expect(leader.currentMembership.members.map((m) => String(m.id))).toEqual(["a", "b"]);
  });

  test("a leader that removes itself leads until the removal commits, then steps down and never campaigns", () => {
    const nodes = cluster();
    const leader = elect(nodes, IDS[0] as RaftId);
    rounds(nodes, 2);
    const removed = change(nodes, leader, { kind: "remove", id: IDS[0] as RaftId });
    expect(removed.ok).toBe(true);
    expect(leader.currentRole).toBe("follower");
    expect(leader.commitIndex).toBe(removed.ok ? removed.index : -1);
    rounds(nodes, 5);
    const leaders = [...nodes.values()].filter((node) => node.currentRole === "leader");
    expect(leaders.map((node) => node.id)).not.toContain(IDS[0]);
    expect(leaders).toHaveLength(1);
    expect(leader.currentRole).toBe("follower");
  });
});

describe("admission: an empty folder never votes until the log adds it as a learner", () => {
  test("a wiped member restarted empty learns it is a voter but neither votes nor campaigns", () => {
    const nodes = cluster();
    const leader = elect(nodes, IDS[0] as RaftId);
    leader.propose(encoder.encode("x"));
    settle(nodes, drain(leader));
    const wiped = new RaftNode({
      id: IDS[2] as RaftId,
      peers: [],
      config: CONFIG,
      prng: new Prng(5),
      admitted: false,
    });
    nodes.set(IDS[2] as RaftId, wiped);
    leader.propose(encoder.encode("y"));
    for (let i = 0; i < 3 * CONFIG.electionTicks; i += 1) {
      leader.tick();
      settle(nodes, drain(leader));
    }
    expect(wiped.admitted).toBe(false);
    // b asks for c's vote with a log that lacks what c holds now: c must not grant.
    const request: RaftMessage = {
      type: "vote",
      from: IDS[1] as RaftId,
      to: IDS[2] as RaftId,
      term: leader.currentTerm + 5,
      lastIndex: wiped.logView.lastIndex() + 10,
      lastTerm: leader.currentTerm + 4,
    };
    for (let i = 0; i < 3 * CONFIG.electionTicks; i += 1) wiped.tick();
    wiped.step(request);
    const answers = drain(wiped).filter((m) => m.type === "voteResponse");
    expect(answers.map((m) => (m.type === "voteResponse" ? m.granted : null))).toEqual([false]);
    expect(wiped.currentRole).toBe("follower");
  });

  test("a node added as a learner is admitted", () => {
    const nodes = cluster();
    const D = raftId("d");
    const joiner = new RaftNode({
      id: D,
      peers: [],
      config: CONFIG,
      prng: new Prng(6),
      admitted: false,
    });
    nodes.set(D, joiner);
    const leader = elect(nodes, IDS[0] as RaftId);
    for (let i = 0; i < 2 * CONFIG.electionTicks; i += 1) {
      for (const node of nodes.values()) node.tick();
      for (const node of nodes.values()) settle(nodes, drain(node));
    }
    expect(leader.proposeMembership({ kind: "addLearner", id: D, address: "h:1" }).ok).toBe(true);
    settle(nodes, drain(leader));
    expect(joiner.admitted).toBe(true);
  });
});

describe("lowestLiveMatch (what a fold of the log would cut)", () => {
  test("the lowest match among members heard from lately; a silent member stops counting", () => {
    const nodes = cluster();
    const a = elect(nodes, IDS[0] as RaftId);
    const c = IDS[2] as RaftId;
    expect(nodes.get(IDS[1] as RaftId)?.lowestLiveMatch(10)).toBeNull(); // not leading
    const live = new Map([...nodes].filter(([id]) => id !== c));
    for (let n = 0; n < 5; n += 1) {
      a.propose(encoder.encode(`x${n}`));
      settle(live, drain(a));
    }
    // c answered the first heartbeats, then nothing: it lags, and counts while recently heard.
    expect(a.lowestLiveMatch(1_000)).toBeLessThan(a.commitIndex);
    for (let tick = 0; tick < 20; tick += 1) {
      a.tick();
      settle(live, drain(a));
    }
    expect(a.lowestLiveMatch(10)).toBe(a.commitIndex);
  });
});

describe("leaderCommitKnown (how far behind a follower is)", () => {
  test("a follower learns the leader's commit from its appends, beyond what it holds", () => {
    const nodes = cluster();
    const a = elect(nodes, IDS[0] as RaftId);
    const c = nodes.get(IDS[2] as RaftId) as RaftNode;
    const live = new Map([...nodes].filter(([id]) => id !== c.id));
    for (let n = 0; n < 5; n += 1) {
      a.propose(encoder.encode(`x${n}`));
      settle(live, drain(a));
    }
    expect(c.leaderCommitKnown).toBeLessThan(a.commitIndex);
    // One append reaches c, which lacks the entries before it: c commits nothing more, but
    // now knows how far the leader is.
    a.propose(encoder.encode("y"));
    const append = drain(a).find((m) => m.type === "append" && m.to === c.id);
    expect(append).toBeDefined();
    if (append !== undefined) c.step(append);
    expect(c.leaderCommitKnown).toBe(a.commitIndex);
    expect(c.commitIndex).toBeLessThan(a.commitIndex);
  });
});
