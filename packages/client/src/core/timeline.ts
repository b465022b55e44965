/**
 * The cluster over time, from successive `ftfs status` answers: file requests per second and
 * their latency, bytes in and out of the storage nodes per second, what changed between two
 * answers (a member suspected, dead or back, a failover, a replica out of sync or in sync
 * again, a catch-up begun or abandoned, the health verdict moving), and how far each catch-up has come with an estimate of when it ends.
 * The console and `ftfs status --watch` sample the cluster and feed this. Pure: every answer
 * comes with the time it was read; memory is bounded by TIMELINE_SAMPLES_MAX and
 * TIMELINE_EVENTS_MAX.
 */

import {
  latencyQuantileMs,
  type MemberView,
  type TrafficSample,
  trafficBetween,
} from "@ftfs/protocol/core";
import { type ClusterStatus, type HealthVerdict, healthVerdict } from "./status.ts";

/** Ten minutes of one sample a second. */
export const TIMELINE_SAMPLES_MAX = 600;
export const TIMELINE_EVENTS_MAX = 200;
/** A catch-up's rate is measured over at most this window, so an estimate follows changes. */
export const CATCH_UP_RATE_WINDOW_MS = 30_000;

export interface TimelineSample {
  readonly atMs: number;
  /** Null where two answers could not be compared (the first, or the answering node changed). */
  readonly requestsPerS: number | null;
  readonly failedPerS: number | null;
  readonly latencyP50Ms: number | null;
  readonly latencyP99Ms: number | null;
  readonly bytesInPerS: number | null;
  readonly bytesOutPerS: number | null;
}

export type TimelineEventKind = "member" | "failover" | "replicas" | "catch-up" | "health";

export interface TimelineEvent {
  readonly atMs: number;
  readonly kind: TimelineEventKind;
  readonly text: string;
}

export interface CatchUpProgress {
  readonly group: string;
  readonly node: string;
  /** What the learner holds, and what its group's primary holds: the target. */
  readonly heldBytes: number;
  readonly targetBytes: number;
  readonly bytesPerS: number | null;
  /** Seconds left at the measured rate; null until a rate is known. */
  readonly etaS: number | null;
}

interface Observation {
  readonly atMs: number;
  readonly status: ClusterStatus;
  readonly verdict: HealthVerdict;
}

export class ClusterTimeline {
  private readonly sampleRing: TimelineSample[] = [];
  private readonly eventRing: TimelineEvent[] = [];
  private last: Observation | null = null;
  private eventCount = 0;
  /** Per learner (group/node): where its current catch-up was first seen, for its rate. */
  private readonly catchUpMarks = new Map<string, Array<{ atMs: number; heldBytes: number }>>();

  observe(atMs: number, status: ClusterStatus): void {
    const verdict = healthVerdict(status);
    const previous = this.last;
    if (previous === null) {
      this.pushEvent(atMs, "health", `watching: the cluster is ${describe(verdict)}`);
    } else {
      this.diffMembers(atMs, previous.status, status);
      this.diffGroups(atMs, previous.status, status);
      if (previous.verdict.level !== verdict.level) {
        this.pushEvent(atMs, "health", `the cluster is ${describe(verdict)}`);
      }
    }
    this.pushSample(sampleBetween(previous, atMs, status));
    this.markCatchUps(atMs, status);
    this.last = { atMs, status, verdict };
  }

  samples(): readonly TimelineSample[] {
    return this.sampleRing;
  }

  /** Newest last. */
  events(): readonly TimelineEvent[] {
    return this.eventRing;
  }

  /** Every event ever recorded, including those the ring no longer holds. */
  get eventsTotal(): number {
    return this.eventCount;
  }

  /** The events recorded after the first `seenTotal`, as far as the ring still holds them. */
  eventsAfter(seenTotal: number): readonly TimelineEvent[] {
    const newer = Math.min(this.eventRing.length, Math.max(0, this.eventCount - seenTotal));
    return newer === 0 ? [] : this.eventRing.slice(-newer);
  }

  latest(): { readonly status: ClusterStatus; readonly verdict: HealthVerdict } | null {
    return this.last;
  }

  /** Every learner of the latest answer, with its progress against its primary. */
  catchUps(): CatchUpProgress[] {
    const status = this.last?.status;
    if (status === undefined) return [];
    const members = new Map(status.members.map((member) => [member.node, member]));
    const progress: CatchUpProgress[] = [];
    for (const group of status.groups) {
      const targetBytes = group.primaryNode === null ? 0 : held(members.get(group.primaryNode));
      for (const learner of group.learners ?? []) {
        const heldBytes = held(members.get(learner.node));
        const marks = this.catchUpMarks.get(`${group.group}/${learner.node}`) ?? [];
        const first = marks[0];
        const lastMark = marks.at(-1);
        const spanMs =
          first === undefined || lastMark === undefined ? 0 : lastMark.atMs - first.atMs;
        const bytesPerS =
          first === undefined || lastMark === undefined || spanMs <= 0
            ? null
            : Math.max(0, ((lastMark.heldBytes - first.heldBytes) * 1000) / spanMs);
        const leftBytes = Math.max(0, targetBytes - heldBytes);
        const etaS = bytesPerS === null || bytesPerS === 0 ? null : leftBytes / bytesPerS;
        progress.push({
          group: group.group,
          node: learner.node,
          heldBytes,
          targetBytes,
          bytesPerS,
          etaS: leftBytes === 0 ? 0 : etaS,
        });
      }
    }
    return progress;
  }

  private diffMembers(atMs: number, before: ClusterStatus, after: ClusterStatus): void {
    const previous = new Map(before.members.map((member) => [member.node, member]));
    for (const member of after.members) {
      const was = previous.get(member.node);
      if (was === undefined) {
        this.pushEvent(atMs, "member", `${member.node} joined (${member.state})`);
      } else if (was.state !== member.state) {
        const how = member.state === "alive" ? "is alive again" : `is ${member.state}`;
        this.pushEvent(atMs, "member", `${member.node} ${how} (was ${was.state})`);
      }
    }
  }

  private diffGroups(atMs: number, before: ClusterStatus, after: ClusterStatus): void {
    const previous = new Map(before.groups.map((group) => [group.group, group]));
    for (const group of after.groups) {
      const was = previous.get(group.group);
      if (was === undefined) continue;
      if (was.primaryNode !== group.primaryNode) {
        const text =
          group.primaryNode === null
            ? `${group.group} lost its primary ${was.primaryNode ?? ""}`.trimEnd()
            : was.primaryNode === null
              ? `${group.group}: ${group.primaryNode} is primary`
              : `${group.group} failed over: ${was.primaryNode} → ${group.primaryNode}`;
        this.pushEvent(atMs, "failover", text);
      }
      const wasLearning = new Set((was.learners ?? []).map((learner) => learner.node));
      const learning = new Set((group.learners ?? []).map((learner) => learner.node));
      const wasInSync = new Set(was.replicas.map((replica) => replica.node));
      const inSync = new Set(group.replicas.map((replica) => replica.node));
      const count = `${inSync.size} of ${group.replicationFactor ?? inSync.size}`;
      for (const node of wasInSync) {
        if (!inSync.has(node))
          this.pushEvent(
            atMs,
            "replicas",
            `${group.group}: ${node} out of sync (${count} in sync)`,
          );
      }
      for (const node of learning) {
        if (!wasLearning.has(node))
          this.pushEvent(atMs, "catch-up", `${group.group}: ${node} catching up`);
      }
      for (const node of wasLearning) {
        if (!learning.has(node) && !inSync.has(node)) {
          this.pushEvent(atMs, "catch-up", `${group.group}: ${node} stopped catching up`);
        }
      }
      for (const node of inSync) {
        if (!wasInSync.has(node))
          this.pushEvent(atMs, "replicas", `${group.group}: ${node} in sync (${count} in sync)`);
      }
    }
  }

  private markCatchUps(atMs: number, status: ClusterStatus): void {
    const members = new Map(status.members.map((member) => [member.node, member]));
    const current = new Set<string>();
    for (const group of status.groups) {
      for (const learner of group.learners ?? []) {
        const key = `${group.group}/${learner.node}`;
        current.add(key);
        const marks = this.catchUpMarks.get(key) ?? [];
        marks.push({ atMs, heldBytes: held(members.get(learner.node)) });
        while (marks.length > 2 && atMs - (marks[0]?.atMs ?? atMs) > CATCH_UP_RATE_WINDOW_MS) {
          marks.shift();
        }
        this.catchUpMarks.set(key, marks);
      }
    }
    for (const key of [...this.catchUpMarks.keys()]) {
      if (!current.has(key)) this.catchUpMarks.delete(key);
    }
  }

  private pushSample(sample: TimelineSample): void {
    this.sampleRing.push(sample);
    if (this.sampleRing.length > TIMELINE_SAMPLES_MAX) this.sampleRing.shift();
  }

  private pushEvent(atMs: number, kind: TimelineEventKind, text: string): void {
    this.eventRing.push({ atMs, kind, text });
    this.eventCount += 1;
    if (this.eventRing.length > TIMELINE_EVENTS_MAX) this.eventRing.shift();
  }
}

function describe(verdict: HealthVerdict): string {
  const why = verdict.reasons[0];
  return why === undefined ? verdict.level : `${verdict.level}: ${why}`;
}

function held(member: MemberView | undefined): number {
  return member?.usedBytes ?? 0;
}

const NO_RATES = {
  requestsPerS: null,
  failedPerS: null,
  latencyP50Ms: null,
  latencyP99Ms: null,
  bytesInPerS: null,
  bytesOutPerS: null,
} as const;

/** Rates between the previous answer and this one, where the two can be compared. */
function sampleBetween(
  previous: Observation | null,
  atMs: number,
  status: ClusterStatus,
): TimelineSample {
  const elapsedMs = previous === null ? 0 : atMs - previous.atMs;
  if (previous === null || elapsedMs <= 0) return { atMs, ...NO_RATES };
  const perS = (count: number) => (count * 1000) / elapsedMs;
  const traffic = sameNodeTraffic(previous.status, status);
  const bytes = storageBytesBetween(previous.status.members, status.members);
  return {
    atMs,
    requestsPerS: traffic === null ? null : perS(traffic.requests),
    failedPerS: traffic === null ? null : perS(traffic.failed),
    latencyP50Ms: traffic === null ? null : latencyQuantileMs(traffic.latencyBuckets, 0.5),
    latencyP99Ms: traffic === null ? null : latencyQuantileMs(traffic.latencyBuckets, 0.99),
    bytesInPerS: bytes === null ? null : perS(bytes.in),
    bytesOutPerS: bytes === null ? null : perS(bytes.out),
  };
}

/** Counts of one node can be subtracted; after a failover the new primary counts afresh. */
function sameNodeTraffic(before: ClusterStatus, after: ClusterStatus) {
  const earlier: TrafficSample | undefined = before.traffic;
  const later: TrafficSample | undefined = after.traffic;
  if (earlier === undefined || later === undefined || before.node !== after.node) return null;
  return trafficBetween(earlier, later);
}

/**
 * Bytes every storage node moved between two answers: a node whose totals went down
 * restarted, and counts from zero; one missing from either answer is left out.
 */
function storageBytesBetween(
  before: readonly MemberView[],
  after: readonly MemberView[],
): { in: number; out: number } | null {
  const previous = new Map(before.map((member) => [member.node, member]));
  let inBytes = 0;
  let outBytes = 0;
  let compared = 0;
  for (const member of after) {
    const was = previous.get(member.node);
    if (member.role !== "storage" || was === undefined) continue;
    if (member.bytesInTotal === undefined || member.bytesOutTotal === undefined) continue;
    const wasIn = was.bytesInTotal ?? 0;
    const wasOut = was.bytesOutTotal ?? 0;
    inBytes += member.bytesInTotal >= wasIn ? member.bytesInTotal - wasIn : member.bytesInTotal;
    outBytes +=
      member.bytesOutTotal >= wasOut ? member.bytesOutTotal - wasOut : member.bytesOutTotal;
    compared += 1;
  }
  return compared === 0 ? null : { in: inBytes, out: outBytes };
}
