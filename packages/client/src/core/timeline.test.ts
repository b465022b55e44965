/**
 * The cluster timeline: rates come from the difference of two answers of the same node (none
 * across a failover of the answering directory, none from a restarted counter); a member's
 * state change, a failover and a catch-up begun or ended each leave one event; a catch-up's
 * progress is the learner's bytes against its primary's, with an ETA from the measured rate;
 * memory stays bounded.
 */
import { describe, expect, test } from "bun:test";
import {
  countRequest,
  newTrafficCount,
  type GroupView,
  type MemberView,
  type TrafficCount,
} from "@ftfs/protocol/core";
import type { ClusterStatus } from "./status.ts";
import { ClusterTimeline, TIMELINE_EVENTS_MAX, TIMELINE_SAMPLES_MAX } from "./timeline.ts";

function storage(node: string, extra: Partial<MemberView> = {}): MemberView {
  return {
    node,
    role: "storage",
    group: "s1",
    address: "127.0.0.1:1",
    state: "alive",
    incarnation: 0,
    primary: false,
    epoch: 1,
    usedBytes: 0,
    capacityBytes: 1_000,
    ...extra,
  };
}

function group(primaryNode: string | null, inSync: string[], learners: string[] = []): GroupView {
  return {
    group: "s1",
    epoch: 1,
    primary: primaryNode === null ? null : "127.0.0.1:1",
    primaryNode,
    replicas: inSync.map((node) => ({ node, address: "127.0.0.1:1" })),
    learners: learners.map((node) => ({ node, address: "127.0.0.1:1" })),
    replicationFactor: 3,
  };
}

function answer(
  members: MemberView[],
  groups: GroupView[],
  traffic?: TrafficCount,
  node = "d1",
): ClusterStatus {
  return { node, members, groups, unreachable: [], ...(traffic === undefined ? {} : { traffic }) };
}

function trafficOf(requests: number, failed: number, durationMs: number): TrafficCount {
  const traffic = newTrafficCount();
  for (let i = 0; i < requests; i += 1) countRequest(traffic, i < requests - failed, durationMs);
  return traffic;
}

const whole = [group("s1a", ["s1a", "s1b", "s1c"])];
const three = ["s1a", "s1b", "s1c"].map((node) => storage(node));

describe("ClusterTimeline", () => {
  test("rates are the difference of two answers of one node, per second", () => {
    const timeline = new ClusterTimeline();
    const bytes = (total: number) =>
      three.map((m) => ({ ...m, bytesInTotal: total, bytesOutTotal: total * 2 }));
    timeline.observe(1_000, answer(bytes(0), whole, trafficOf(10, 0, 3)));
    timeline.observe(3_000, answer(bytes(500), whole, trafficOf(110, 20, 3)));
    const [first, second] = timeline.samples();
    expect(first?.requestsPerS).toBeNull();
    expect(second?.requestsPerS).toBe(50);
    expect(second?.failedPerS).toBe(10);
    expect(second?.latencyP99Ms).toBe(5);
    expect(second?.bytesInPerS).toBe(750); // 3 nodes × 500 bytes over 2 s
    expect(second?.bytesOutPerS).toBe(1_500);
  });

  test("no request rate when another directory answers or its counts restarted", () => {
    const timeline = new ClusterTimeline();
    timeline.observe(1_000, answer(three, whole, trafficOf(100, 0, 1), "d1"));
    timeline.observe(2_000, answer(three, whole, trafficOf(200, 0, 1), "d2"));
    timeline.observe(3_000, answer(three, whole, trafficOf(5, 0, 1), "d2"));
    timeline.observe(4_000, answer(three, whole, trafficOf(25, 0, 1), "d2"));
    expect(timeline.samples().map((sample) => sample.requestsPerS)).toEqual([null, null, null, 20]);
  });

  test("a storage node restarted counts its bytes from zero", () => {
    const timeline = new ClusterTimeline();
    timeline.observe(0, answer([storage("s1a", { bytesInTotal: 900, bytesOutTotal: 0 })], whole));
    timeline.observe(
      1_000,
      answer([storage("s1a", { bytesInTotal: 40, bytesOutTotal: 0 })], whole),
    );
    expect(timeline.samples()[1]?.bytesInPerS).toBe(40);
  });

  test("a death, a failover, a replica out of sync, a catch-up and its end: one event each", () => {
    const timeline = new ClusterTimeline();
    timeline.observe(0, answer(three, whole));
    const dead = three.map((m) => (m.node === "s1a" ? { ...m, state: "dead" as const } : m));
    timeline.observe(1_000, answer(dead, [group("s1b", ["s1b", "s1c"])]));
    timeline.observe(2_000, answer(three, [group("s1b", ["s1b", "s1c"], ["s1a"])]));
    timeline.observe(3_000, answer(three, [group("s1b", ["s1b", "s1c"], ["s1a"])]));
    timeline.observe(4_000, answer(three, [group("s1b", ["s1a", "s1b", "s1c"])]));
    expect(timeline.events().map((event) => event.text)).toEqual([
      "watching: the cluster is healthy",
      "s1a is dead (was alive)",
      "s1 failed over: s1a → s1b",
      "s1: s1a out of sync (2 of 3 in sync)",
      "the cluster is degraded: s1 has 2 of 3 in-sync replicas",
      "s1a is alive again (was dead)",
      "s1: s1a catching up",
      "s1: s1a in sync (3 of 3 in sync)",
      "the cluster is healthy",
    ]);
  });

  test("a catch-up's progress is against its primary, with an ETA at the measured rate", () => {
    const timeline = new ClusterTimeline();
    const at = (learnerBytes: number) => [
      storage("s1b", { usedBytes: 1_000 }),
      storage("s1a", { usedBytes: learnerBytes }),
    ];
    const learning = [group("s1b", ["s1b", "s1c"], ["s1a"])];
    timeline.observe(0, answer(at(100), learning));
    expect(timeline.catchUps()[0]?.etaS).toBeNull();
    timeline.observe(2_000, answer(at(300), learning));
    expect(timeline.catchUps()).toEqual([
      { group: "s1", node: "s1a", heldBytes: 300, targetBytes: 1_000, bytesPerS: 100, etaS: 7 },
    ]);
    timeline.observe(3_000, answer(at(300), whole));
    expect(timeline.catchUps()).toEqual([]);
  });

  test("samples and events are bounded", () => {
    const timeline = new ClusterTimeline();
    for (let i = 0; i < TIMELINE_SAMPLES_MAX + 10; i += 1) {
      const state = i % 2 === 0 ? "alive" : "suspect";
      timeline.observe(i * 1_000, answer([storage("s1a", { state })], whole));
    }
    expect(timeline.samples()).toHaveLength(TIMELINE_SAMPLES_MAX);
    expect(timeline.events()).toHaveLength(TIMELINE_EVENTS_MAX);
    expect(timeline.samples().at(-1)?.atMs).toBe((TIMELINE_SAMPLES_MAX + 9) * 1_000);
    // The first answer leaves one event; each flip after it two (the member, the verdict).
    expect(timeline.eventsTotal).toBe(1 + 2 * (TIMELINE_SAMPLES_MAX + 9));
    expect(timeline.eventsAfter(timeline.eventsTotal - 2)).toEqual(timeline.events().slice(-2));
    expect(timeline.eventsAfter(0)).toHaveLength(TIMELINE_EVENTS_MAX);
    expect(timeline.eventsAfter(timeline.eventsTotal)).toEqual([]);
  });
});
