/**
 * Raft properties as seeded scenarios (TigerBeetle's VOPR shape): a safety phase of crashes,
 * restarts, pauses, partitions, false suspicions and proposals on a lossy, duplicating,
 * reordering network, then a liveness phase that heals a majority and must commit a new
 * proposal within a bound. Each returns the problems it found; an empty list is a pass. The
 * safety checks themselves run online in raft-cluster.ts.
 */

import { Prng } from "../../core/prng.ts";
import type { RaftId } from "../../core/raft/types.ts";
import { faultyPath } from "./network.ts";
import { RAFT_SIM_TICK_MS, RaftCluster } from "./raft-cluster.ts";

export interface RaftScenarioResult {
  readonly problems: string[];
  readonly measuredMs: Record<string, number>;
}

/** Length of the fault phase, and how often the nemesis acts in it. */
const FAULT_PHASE_MS = 6_000;
const NEMESIS_STEP_MS = 200;
/** Between proposals in the fault phase (clients keep writing through the chaos). */
const PROPOSE_EVERY_MS = 100;
/**
 * After heal, a majority commits a new proposal within: a stale leader's check-quorum round
 * (1 election timeout), a few election rounds of at most 2 timeouts each (split votes are
 * broken by the randomized timeout), and a commit round trip. 10 election timeouts of slack.
 */
const LIVENESS_BOUND_MS = 10 * 10 * RAFT_SIM_TICK_MS;
/** How often the durable logs are compared for log matching. */
const LOG_CHECK_EVERY_MS = 500;

const encoder = new TextEncoder();

function groupSize(prng: Prng): number {
  const sizes = [1, 3, 3, 5, 5];
  return sizes[prng.intBelow(sizes.length)] ?? 3;
}

/** Proposes `command` at whoever leads (a client retrying across leaders). */
function proposeAtLeader(cluster: RaftCluster, command: string, among?: readonly RaftId[]): void {
  const leader = cluster.leader(among);
  if (leader === null) return;
  cluster.act(leader, (node) => node.propose(encoder.encode(command)));
}

/** One random fault: the nemesis's move for this step. */
function nemesis(cluster: RaftCluster, prng: Prng): void {
  const id = cluster.ids[prng.intBelow(cluster.ids.length)] as RaftId;
  const status = cluster.status(id);
  const roll = prng.intBelow(100);
  if (roll < 10 && status === "up") cluster.crash(id);
  else if (roll < 25 && status === "down") cluster.boot(id);
  else if (roll < 33 && status === "up") cluster.sim.pause(id);
  else if (roll < 45 && status === "paused") cluster.sim.resume(id);
  else if (roll < 55) cluster.sim.network.partition(randomSplit(cluster.ids, prng));
  else if (roll < 68) cluster.sim.network.heal();
  else if (roll < 75) {
    const other = cluster.ids[prng.intBelow(cluster.ids.length)] as RaftId;
    if (other !== id) cluster.sim.network.cutOneWay(id, other);
  } else if (roll < 85 && status === "up") {
    // Gossip may suspect a healthy leader: pre-vote must keep that harmless.
    cluster.act(id, (node) => node.suspectLeader());
  }
}

function randomSplit(ids: readonly RaftId[], prng: Prng): RaftId[][] {
  const shuffled = prng.shuffle([...ids]);
  const cut = 1 + prng.intBelow(Math.max(1, ids.length - 1));
  return [shuffled.slice(0, cut), shuffled.slice(cut)];
}

function runFaultPhase(cluster: RaftCluster, prng: Prng, seed: number): void {
  const endMs = cluster.nowMs + FAULT_PHASE_MS;
  let proposal = 0;
  let nextNemesisMs = cluster.nowMs;
  let nextCheckMs = cluster.nowMs + LOG_CHECK_EVERY_MS;
  while (cluster.nowMs < endMs) {
    cluster.sim.runFor(PROPOSE_EVERY_MS);
    proposal += 1;
    proposeAtLeader(cluster, `s${seed}-c${proposal}`);
    if (cluster.nowMs >= nextNemesisMs) {
      nemesis(cluster, prng);
      nextNemesisMs += NEMESIS_STEP_MS;
    }
    if (cluster.nowMs >= nextCheckMs) {
      cluster.checkLogMatching();
      nextCheckMs += LOG_CHECK_EVERY_MS;
    }
  }
}

/** The network healed and lossless, every node up and running. */
function healEverything(cluster: RaftCluster): void {
  const sim = cluster.sim;
  sim.network.heal();
  sim.network.setDefaults({
    ...sim.network.pathOptions(cluster.ids[0] as RaftId, "x"),
    lossProbability: 0,
  });
  for (const id of cluster.ids) {
    if (cluster.status(id) === "down") cluster.boot(id);
    if (cluster.status(id) === "paused") sim.resume(id);
  }
}

/**
 * Heals everything except, sometimes, one minority node left cut off: the majority side must
 * commit a new proposal within LIVENESS_BOUND_MS. Returns the time taken or null.
 */
function runLivenessPhase(cluster: RaftCluster, prng: Prng, seed: number): number | null {
  const sim = cluster.sim;
  healEverything(cluster);
  let majority = [...cluster.ids];
  if (cluster.ids.length >= 3 && prng.chance(0.5)) {
    const loner = cluster.ids[prng.intBelow(cluster.ids.length)] as RaftId;
    majority = cluster.ids.filter((id) => id !== loner);
    sim.network.partition([[loner], majority]);
  }
  const command = `s${seed}-final`;
  const committedOnMajority = (): boolean => {
    const index = [...cluster.appliedAt].find(([, c]) => c === command)?.[0];
    if (index === undefined) return false;
    const holders = majority.filter((id) => cluster.appliedIndex(id) >= index).length;
    return holders * 2 > cluster.ids.length;
  };
  let lastProposalMs = -Infinity;
  return cluster.runUntilTrue(() => {
    if (committedOnMajority()) return true;
    // A client re-proposes each election timeout until it sees the write applied.
    if (cluster.nowMs - lastProposalMs >= 10 * RAFT_SIM_TICK_MS && cluster.leader(majority)) {
      proposeAtLeader(cluster, command, majority);
      lastProposalMs = cluster.nowMs;
    }
    return false;
  }, LIVENESS_BOUND_MS);
}

/** The whole VOPR-style run for one seed. */
export function safetyAndLiveness(seed: number): RaftScenarioResult {
  const prng = new Prng(seed);
  const size = groupSize(prng);
  const cluster = new RaftCluster({ seed, size, path: faultyPath(prng) });
  cluster.startAll();
  runFaultPhase(cluster, prng, seed);
  const healedMs = runLivenessPhase(cluster, prng, seed);
  cluster.checkLogMatching();
  const problems = [...cluster.problems];
  if (healedMs === null) {
    problems.push(`liveness: no commit on the majority within ${LIVENESS_BOUND_MS} ms of heal`);
  }
  return { problems, measuredMs: healedMs === null ? {} : { heal: healedMs } };
}

/**
 * Pre-vote and check-quorum on a clean network: a follower cut off for several election
 * timeouts, or falsely suspecting the leader, must not change the leader's term when it comes
 * back; a paused leader is replaced, and steps down when it resumes.
 */
export function noDisruption(seed: number): RaftScenarioResult {
  const prng = new Prng(seed);
  const size = prng.chance(0.5) ? 3 : 5;
  const cluster = new RaftCluster({ seed, size });
  cluster.startAll();
  const problems: string[] = [];
  const electedMs = cluster.runUntilTrue(() => cluster.leader() !== null, LIVENESS_BOUND_MS);
  const leader = cluster.leader();
  if (electedMs === null || leader === null)
    return { problems: ["no first leader"], measuredMs: {} };
  const term = cluster.node(leader).currentTerm;
  const followers = cluster.ids.filter((id) => id !== leader);
  const loner = followers[prng.intBelow(followers.length)] as RaftId;
  cluster.sim.network.partition([[loner], cluster.ids.filter((id) => id !== loner)]);
  cluster.sim.runFor(5 * 20 * RAFT_SIM_TICK_MS);
  cluster.sim.network.heal();
  cluster.sim.runFor(3 * 20 * RAFT_SIM_TICK_MS);
  if (cluster.leader() !== leader || cluster.node(leader).currentTerm !== term) {
    problems.push(`pre-vote: a rejoining follower disrupted leader ${leader} of term ${term}`);
  }
  // A false suspicion while everyone else still hears the leader: their lease refuses it.
  const suspicious = followers[prng.intBelow(followers.length)] as RaftId;
  cluster.act(suspicious, (node) => node.suspectLeader());
  cluster.sim.runFor(3 * 20 * RAFT_SIM_TICK_MS);
  if (cluster.leader() !== leader || cluster.node(leader).currentTerm !== term) {
    problems.push(`pre-vote: a false suspicion disrupted leader ${leader} of term ${term}`);
  }
  cluster.sim.pause(leader);
  const failoverMs = cluster.runUntilTrue(
    () => cluster.leader(followers) !== null,
    LIVENESS_BOUND_MS,
  );
  if (failoverMs === null) problems.push("no new leader while the old one is paused");
  cluster.sim.resume(leader);
  cluster.sim.runFor(RAFT_SIM_TICK_MS);
  if (cluster.node(leader).currentRole === "leader") {
    problems.push(`check-quorum: ${leader} still leads after resuming`);
  }
  problems.push(...cluster.problems);
  return {
    problems,
    measuredMs: failoverMs === null ? {} : { failover: failoverMs },
  };
}

/** Of the nemesis's steps in the wipe scenario, the share that wipes a node's disk. */
const WIPE_PER_STEP_CHANCE = 0.05;

/**
 * A member's disk dies and it comes back empty under its old id, once per run, among the
 * other faults: it forgot its votes and the entries it acknowledged, so its vote must not
 * elect a leader missing them, nor its acknowledgement commit anything. Safety must hold
 * throughout; after heal, the members whose disks survived commit on a majority.
 */
export function wipedDisk(seed: number): RaftScenarioResult {
  const prng = new Prng(seed);
  const size = prng.chance(0.5) ? 3 : 5;
  const cluster = new RaftCluster({ seed, size, path: faultyPath(prng) });
  cluster.startAll();
  const endMs = cluster.nowMs + FAULT_PHASE_MS;
  let proposal = 0;
  let nextNemesisMs = cluster.nowMs;
  let wiped: RaftId | null = null;
  while (cluster.nowMs < endMs) {
    cluster.sim.runFor(PROPOSE_EVERY_MS);
    proposal += 1;
    proposeAtLeader(cluster, `s${seed}-c${proposal}`);
    if (cluster.nowMs < nextNemesisMs) continue;
    nextNemesisMs += NEMESIS_STEP_MS;
    if (wiped === null && prng.chance(WIPE_PER_STEP_CHANCE)) {
      wiped = cluster.ids[prng.intBelow(cluster.ids.length)] as RaftId;
      cluster.wipe(wiped);
    } else nemesis(cluster, prng);
    if (proposal % 5 === 0) cluster.checkLogMatching();
  }
  const survivors = cluster.ids.filter((id) => id !== wiped);
  const healedMs = healAndCommitOn(cluster, seed, survivors);
  cluster.checkLogMatching();
  const problems = [...cluster.problems];
  if (healedMs === null) {
    problems.push(`liveness: no commit on the survivors within ${LIVENESS_BOUND_MS} ms of heal`);
  }
  return { problems, measuredMs: healedMs === null ? {} : { heal: healedMs } };
}

/**
 * Everything healed and up, with no loss: a client proposes a new command (at the leader
 * among `proposeAmong`, each election timeout until it is applied) until `committed` holds of
 * the index it was applied at. Returns the time taken or null.
 */
function healAndCommitWhere(
  cluster: RaftCluster,
  seed: number,
  committed: (index: number) => boolean,
  proposeAmong?: readonly RaftId[],
): number | null {
  healEverything(cluster);
  const command = `s${seed}-final`;
  let lastProposalMs = -Infinity;
  return cluster.runUntilTrue(() => {
    const index = [...cluster.appliedAt].find(([, c]) => c === command)?.[0];
    if (index !== undefined && committed(index)) return true;
    if (cluster.nowMs - lastProposalMs >= 10 * RAFT_SIM_TICK_MS) {
      proposeAtLeader(cluster, command, proposeAmong);
      lastProposalMs = cluster.nowMs;
    }
    return false;
  }, LIVENESS_BOUND_MS);
}

/** Healed: a new command must be applied on a majority of the group, by `voters` alone. */
function healAndCommitOn(
  cluster: RaftCluster,
  seed: number,
  voters: readonly RaftId[],
): number | null {
  const holders = (index: number) =>
    voters.filter((id) => cluster.appliedIndex(id) >= index).length;
  return healAndCommitWhere(
    cluster,
    seed,
    (index) => holders(index) * 2 > cluster.ids.length,
    voters,
  );
}

/** Pool of nodes a membership scenario draws from, and the group it starts as. */
const MEMBERSHIP_POOL_SIZE = 6;
const MEMBERSHIP_BOOTSTRAP_SIZES = [1, 3] as const;
/** Voters a membership scenario keeps at most (the nemesis stops adding past it). */
const MEMBERSHIP_VOTERS_MAX = 5;

/** A single-server change at whoever leads: add a learner, promote one, or remove a member. */
function changeMembership(cluster: RaftCluster, prng: Prng): void {
  const leader = cluster.leader();
  if (leader === null) return;
  const membership = cluster.node(leader).currentMembership;
  const members = membership.members;
  const outsiders = cluster.ids.filter((id) => !members.some((member) => member.id === id));
  // The driver's policy: a learner is promoted only once it holds everything committed.
  const matches = cluster.node(leader).matchIndexes();
  const commit = cluster.node(leader).commitIndex;
  const learners = members.filter((m) => !m.voter && (matches.get(m.id) ?? 0) >= commit);
  const voters = members.filter((member) => member.voter);
  const roll = prng.intBelow(3);
  cluster.act(leader, (node) => {
    if (roll === 0 && outsiders.length > 0) {
      const id = outsiders[prng.intBelow(outsiders.length)] as RaftId;
      return node.proposeMembership({ kind: "addLearner", id, address: `sim-${id}` });
    }
    if (roll === 1 && learners.length > 0 && voters.length < MEMBERSHIP_VOTERS_MAX) {
      const id = (learners[prng.intBelow(learners.length)] as { id: RaftId }).id;
      return node.proposeMembership({ kind: "promote", id });
    }
    const member = members[prng.intBelow(members.length)];
    if (member === undefined) return null;
    return node.proposeMembership({ kind: "remove", id: member.id });
  });
}

/**
 * Membership changes through the log (thesis §4.1) under the same faults: nodes are added as
 * learners, promoted, and removed (the leader too) one at a time while crashes, pauses,
 * partitions and loss go on; election safety, log matching, leader completeness and
 * state-machine safety must hold across every configuration. After heal, the configuration a
 * leader then has must commit a new proposal on a majority of its voters within the bound.
 */
export function membershipChanges(seed: number): RaftScenarioResult {
  const prng = new Prng(seed);
  const bootstrapSize =
    MEMBERSHIP_BOOTSTRAP_SIZES[prng.intBelow(MEMBERSHIP_BOOTSTRAP_SIZES.length)] ?? 3;
  const cluster = new RaftCluster({
    seed,
    size: MEMBERSHIP_POOL_SIZE,
    bootstrapSize,
    path: faultyPath(prng),
  });
  cluster.startAll();
  const endMs = cluster.nowMs + FAULT_PHASE_MS;
  let proposal = 0;
  while (cluster.nowMs < endMs) {
    cluster.sim.runFor(PROPOSE_EVERY_MS);
    proposal += 1;
    proposeAtLeader(cluster, `s${seed}-c${proposal}`);
    const roll = prng.intBelow(100);
    if (roll < 25) changeMembership(cluster, prng);
    else if (roll < 45) nemesis(cluster, prng);
    if (proposal % 5 === 0) cluster.checkLogMatching();
  }
  const healedMs = healAndCommit(cluster, seed);
  cluster.checkLogMatching();
  const problems = [...cluster.problems];
  if (healedMs === null) {
    problems.push(`liveness: no commit on the voters' majority within ${LIVENESS_BOUND_MS} ms`);
  }
  return { problems, measuredMs: healedMs === null ? {} : { heal: healedMs } };
}

/** Everything healed and up: the leader's voters must apply a new command on a majority. */
function healAndCommit(cluster: RaftCluster, seed: number): number | null {
  return healAndCommitWhere(cluster, seed, (index) => {
    const leader = cluster.leader();
    if (leader === null) return false;
    const voters = cluster.node(leader).currentMembership.members.filter((m) => m.voter);
    const holders = voters.filter((m) => cluster.appliedIndex(m.id) >= index).length;
    return holders * 2 > voters.length;
  });
}
