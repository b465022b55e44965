/**
 * `ftfs status` from several directory nodes' answers: the primary's view first, completed by
 * what the other configured directory addresses say about themselves (a node the primary
 * does not list yet, such as a directory it has not heard from), and the addresses that did
 * not answer. Pure; the asking is io/client.ts's.
 */

import type { GroupView, MemberView, TrafficSample } from "@ftfs/protocol/core";

const PERCENT = 100;

export interface StatusAnswer {
  readonly node: string;
  readonly members: readonly MemberView[];
  readonly groups: readonly GroupView[];
  /** The answering node's file requests since it started (absent from older builds). */
  readonly traffic?: TrafficSample;
}

export interface ClusterStatus extends StatusAnswer {
  /** Configured directory addresses that did not answer. */
  readonly unreachable: readonly string[];
}

export function mergeStatus(
  primary: StatusAnswer,
  others: ReadonlyArray<{ readonly address: string; readonly view: StatusAnswer | null }>,
): ClusterStatus {
  const members = [...primary.members];
  const known = new Set(members.map((member) => member.node));
  const unreachable: string[] = [];
  for (const { address, view } of others) {
    if (view === null) {
      unreachable.push(address);
      continue;
    }
    // Only what the primary lacks: on anything both know, the primary's word is the current one.
    for (const member of view.members) {
      if (known.has(member.node)) continue;
      known.add(member.node);
      members.push(member);
    }
  }
  return {
    node: primary.node,
    members,
    groups: primary.groups,
    unreachable,
    ...(primary.traffic === undefined ? {} : { traffic: primary.traffic }),
  };
}

/** The cluster's health in one word, and why. */
export interface HealthVerdict {
  /**
   * unavailable: some files cannot be written (a group has no primary); degraded: everything
   * serves, with less redundancy than it should have; healthy: neither.
   */
  readonly level: "healthy" | "degraded" | "unavailable";
  /** What makes it so, worst first; empty when healthy. */
  readonly reasons: readonly string[];
}

/**
 * What keeps one group from being whole: `unavailable` (no primary, or its data lost) and
 * `degraded` (fewer in-sync replicas than its factor, a node catching up). A group with
 * neither is whole: a primary, every replica in sync, no learner.
 */
export function groupProblems(
  group: GroupView,
  members: ReadonlyMap<string, MemberView> = new Map(),
  secondsLeft: ReadonlyMap<string, number> = new Map(),
): {
  readonly unavailable: readonly string[];
  readonly degraded: readonly string[];
} {
  const unavailable: string[] = [];
  const degraded: string[] = [];
  if (group.dataLost === true) {
    unavailable.push(`${group.group} lost its data (every in-sync disk was replaced)`);
  } else if (group.primary === null) {
    unavailable.push(`${group.group} has no primary`);
  }
  const factor = group.replicationFactor ?? group.replicas.length;
  if (group.replicas.length < factor) {
    degraded.push(`${group.group} has ${group.replicas.length} of ${factor} in-sync replicas`);
  }
  const learners = group.learners ?? [];
  if (learners.length > 0) {
    const shown = learners.map((learner) =>
      withShare(learner.node, group, members, secondsLeft.get(`${group.group}/${learner.node}`)),
    );
    degraded.push(`${group.group} is catching up ${shown.join(", ")}`);
  }
  return { unavailable, degraded };
}

/**
 * `s1c (40%, about 12 s left)`: how much of its primary's bytes a learner holds, when both are
 * known, and the time left when a rate was measured.
 */
function withShare(
  node: string,
  group: GroupView,
  members: ReadonlyMap<string, MemberView>,
  secondsLeft: number | undefined,
): string {
  const target = group.primaryNode === null ? undefined : members.get(group.primaryNode);
  const held = members.get(node)?.usedBytes;
  if (target === undefined || held === undefined || target.usedBytes === 0) return node;
  const share = Math.min(PERCENT, Math.floor((held * PERCENT) / target.usedBytes));
  const left = secondsLeft === undefined ? "" : `, about ${Math.ceil(secondsLeft)} s left`;
  return `${node} (${share}%${left})`;
}

/** Fully replicated: what the churn bench waits for after a storage node comes back. */
export function isGroupWhole(group: GroupView): boolean {
  const problems = groupProblems(group);
  return problems.unavailable.length === 0 && problems.degraded.length === 0;
}

/**
 * `ftfs status`'s first line: what an operator must know before reading the tables.
 * `secondsLeft`: catch-ups' times left by `group/node`, where a rate was measured.
 */
export function healthVerdict(
  status: ClusterStatus,
  secondsLeft: ReadonlyMap<string, number> = new Map(),
): HealthVerdict {
  const unavailable: string[] = [];
  const degraded: string[] = [];
  const members = new Map(status.members.map((member) => [member.node, member]));
  for (const group of status.groups) {
    const problems = groupProblems(group, members, secondsLeft);
    unavailable.push(...problems.unavailable);
    degraded.push(...problems.degraded);
  }
  for (const member of status.members) {
    if (member.state === "dead" || member.state === "suspect") {
      degraded.push(`${member.node} is ${member.state}`);
    }
  }
  for (const address of status.unreachable) degraded.push(`no answer from ${address}`);
  if (unavailable.length > 0) {
    return { level: "unavailable", reasons: [...unavailable, ...degraded] };
  }
  return { level: degraded.length > 0 ? "degraded" : "healthy", reasons: degraded };
}
