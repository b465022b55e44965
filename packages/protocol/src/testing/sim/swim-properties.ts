/**
 * The gossip properties as seeded scenarios, shared by the CI test (a fixed list of seeds) and
 * the soak script (many more). Each scenario derives everything from its seed (cluster size,
 * network faults, who fails and when) and returns the problems it found: an empty list is a
 * pass. Bounds come from the config's formulas (config.ts), never from tuning to the results.
 */

import { Prng } from "../../core/prng.ts";
import {
  probeContactBoundMs,
  pushPullIntervalMs,
  retransmitLimit,
  silentDetectionBoundMs,
  suspicionTimeoutMinMs,
  SWIM_LAN_CONFIG,
  type SwimConfig,
} from "../../core/swim/config.ts";
import type { MemberId } from "../../core/swim/types.ts";
import { PATH_LAN, type PathOptions } from "./network.ts";
import { SwimCluster } from "./swim-cluster.ts";

export interface ScenarioResult {
  readonly problems: string[];
  /** Named durations the scenario measured (ms), for reports and soak statistics. */
  readonly measuredMs: Record<string, number>;
  readonly counts: Record<string, number>;
}

/**
 * Longest a healthy cluster may take to form: joins retried each joinRetryMs, then gossip of
 * each newcomer's alive; a rumor whose budget runs out is repaired by the next push-pull.
 */
export function formationBoundMs(config: SwimConfig, members: number): number {
  return (
    5 * config.joinRetryMs +
    pushPullIntervalMs(config, members) +
    disseminationBoundMs(config, members)
  );
}

/**
 * Time for a rumor to reach every member by gossip alone, allowing for a loss or two: each
 * gossip round at least doubles the informed set until R(n) sends per node run out, so
 * log2(n) rounds suffice; we allow R(n) rounds (> 3·log2 n) plus one probe period.
 */
export function disseminationBoundMs(config: SwimConfig, members: number): number {
  return retransmitLimit(config, members) * config.gossipIntervalMs * 2 + config.probeIntervalMs;
}

/**
 * A refuting member reaches everyone again within: its first own probe after a stall (one
 * probe period at score ≤ awarenessMax−1), then dissemination. After a partition add the
 * reconnect timer, which is how the sides first talk, and one more round of refutations.
 */
export function rejoinBoundMs(config: SwimConfig, members: number): number {
  return config.probeIntervalMs * config.awarenessMax + 2 * disseminationBoundMs(config, members);
}

/**
 * Every survivor declares a cut-off member (its host silent: a cut link, a dead host) dead
 * within: some live prober reaches it within the contact bound, that probe fails one period
 * later with the host check's verdict in, the short suspicion runs out, and the death spreads.
 */
export function cutLinkDetectionBoundMs(config: SwimConfig, members: number): number {
  return (
    probeContactBoundMs(config, members) +
    config.probeIntervalMs +
    config.silentHostSuspicionMs +
    disseminationBoundMs(config, members)
  );
}

export function healBoundMs(config: SwimConfig, members: number): number {
  return (
    config.reconnectIntervalMs +
    suspicionTimeoutMinMs(config, members) +
    rejoinBoundMs(config, members) +
    probeContactBoundMs(config, members)
  );
}

interface Scenario {
  readonly prng: Prng;
  readonly cluster: SwimCluster;
  readonly size: number;
}

/** A cluster of 5–20 nodes on a mildly faulty LAN, formed and settled. */
export function formCluster(
  seed: number,
  overrides: { path?: Partial<PathOptions>; unreachableProbability?: number; size?: number } = {},
  config: SwimConfig = SWIM_LAN_CONFIG,
): Scenario & { problems: string[] } {
  const prng = new Prng(seed);
  const size = overrides.size ?? 5 + prng.intBelow(16);
  const path: PathOptions = {
    delayMinMs: 1,
    delayMaxMs: 2 + prng.intBelow(10),
    lossProbability: prng.chance(0.5) ? prng.nextFloat() * 0.02 : 0,
    duplicateProbability: prng.nextFloat() * 0.05,
    reorderProbability: prng.nextFloat() * 0.1,
    reorderDelayMs: 20,
    ...overrides.path,
  };
  const cluster = new SwimCluster({
    seed: prng.nextUint32(),
    size,
    config,
    path: { ...PATH_LAN, ...path },
    unreachableProbability: overrides.unreachableProbability ?? 0,
    pausedInbox: prng.chance(0.5) ? "queue" : "drop",
  });
  cluster.startAll();
  const problems: string[] = [];
  const formedMs = cluster.runUntilTrue(
    () => cluster.allSee(cluster.ids, cluster.ids, "alive"),
    formationBoundMs(config, size),
  );
  if (formedMs === null) problems.push(`${size} nodes did not form within the bound`);
  cluster.runFor(prng.intBelow(5000));
  return { prng, cluster, size, problems };
}

/** Distinct random members, none of the first `skip` (seeds stay up so restarts can join). */
export function pickMembers(
  prng: Prng,
  ids: readonly MemberId[],
  count: number,
  skip = 0,
): MemberId[] {
  return prng.shuffle(ids.slice(skip)).slice(0, count);
}

export function deadReportsAbout(cluster: SwimCluster, members: readonly MemberId[]): number {
  return cluster.trace.filter((e) => e.kind === "dead" && members.includes(e.member)).length;
}

function result(problems: string[]): ScenarioResult {
  return { problems, measuredMs: {}, counts: {} };
}

/**
 * (a) Every crashed member is declared dead by every live member within the silent-detection
 * bound, no live member is declared dead on the way, and a crashed member restarted with a
 * fresh state (incarnation 0) is alive again to all within the rejoin bound. Even seeds have
 * the network report closed ports (ICMP), odd seeds not (a cut cable, a dead host).
 */
export function crashDetection(seed: number): ScenarioResult {
  const icmp = seed % 2 === 0;
  const { prng, cluster, size, problems } = formCluster(seed, {
    unreachableProbability: icmp ? 1 : 0,
  });
  const out = result(problems);
  const victims = pickMembers(
    prng,
    cluster.ids,
    1 + prng.intBelow(Math.max(1, (size - 1) >> 2)),
    1,
  );
  const survivors = cluster.ids.filter((id) => !victims.includes(id));
  for (const victim of victims) {
    cluster.crash(victim);
    cluster.runFor(prng.intBelow(500));
  }
  const crashedAtMs = cluster.nowMs;
  const boundMs = silentDetectionBoundMs(cluster.config, size);
  const detectedMs = cluster.runUntilTrue(
    () => cluster.allSee(survivors, victims, "dead"),
    boundMs,
  );
  if (detectedMs === null)
    problems.push(`crashed ${victims.join(",")} not dead everywhere in ${boundMs} ms`);
  out.measuredMs[icmp ? "detectAllIcmp" : "detectAllSilent"] = detectedMs ?? boundMs;
  const firstReport = cluster.reports(
    "dead",
    victims[victims.length - 1] as MemberId,
    crashedAtMs,
  )[0];
  if (firstReport !== undefined) {
    out.measuredMs[icmp ? "detectFirstIcmp" : "detectFirstSilent"] = firstReport.atMs - crashedAtMs;
  }
  const falseDeaths = deadReportsAbout(cluster, survivors);
  if (falseDeaths > 0) problems.push(`${falseDeaths} reports declared a live member dead`);
  for (const victim of victims) cluster.boot(victim);
  const rejoinMs = cluster.runUntilTrue(
    () => cluster.allSee(cluster.ids, cluster.ids, "alive"),
    rejoinBoundMs(cluster.config, size) + formationBoundMs(cluster.config, size),
  );
  if (rejoinMs === null)
    problems.push(`restarted ${victims.join(",")} not alive everywhere in time`);
  else out.measuredMs.restartAliveAll = rejoinMs;
  return out;
}

/**
 * (i) A member cut off by the network (no answer to anything, no port-unreachable, its host
 * silent to connection attempts) is declared dead by a first survivor within one probe period
 * and the short suspicion of the first suspicion raised (Lifeguard alone needs at least Smin),
 * by every survivor within the cut-link bound, and no survivor is declared dead on the way.
 */
export function cutLinkDetection(seed: number): ScenarioResult {
  const { prng, cluster, size, problems } = formCluster(seed);
  const out = result(problems);
  const victim = pickMembers(prng, cluster.ids, 1)[0] as MemberId;
  const survivors = cluster.ids.filter((id) => id !== victim);
  const others = survivors.map((id) => cluster.address(id));
  const cutMs = cluster.nowMs;
  cluster.sim.network.partition([[cluster.address(victim)], others]);
  const boundMs = cutLinkDetectionBoundMs(cluster.config, size);
  const bySurvivor = (kind: "suspect" | "dead") =>
    cluster.reports(kind, victim, cutMs).find((e) => e.observer !== victim);
  const firstDeadMs = cluster.runUntilTrue(() => bySurvivor("dead") !== undefined, boundMs, 10);
  const suspected = bySurvivor("suspect");
  const declared = bySurvivor("dead");
  const firstBoundMs = cluster.config.probeIntervalMs + cluster.config.silentHostSuspicionMs;
  if (firstDeadMs !== null && suspected !== undefined && declared !== undefined) {
    const afterSuspicionMs = declared.atMs - suspected.atMs;
    out.measuredMs.cutLinkFirstAfterSuspicion = afterSuspicionMs;
    if (afterSuspicionMs > firstBoundMs)
      problems.push(
        `first death ${afterSuspicionMs} ms after the first suspicion (> ${firstBoundMs})`,
      );
  }
  const detectedMs = cluster.runUntilTrue(
    () => cluster.allSee(survivors, [victim], "dead"),
    boundMs,
    10,
  );
  if (detectedMs === null) problems.push(`cut-off ${victim} not dead to all within ${boundMs} ms`);
  else out.measuredMs.cutLinkDetectAll = detectedMs;
  const deaths = cluster.trace.filter(
    (e) => e.kind === "dead" && e.member !== victim && e.observer !== victim,
  );
  if (deaths.length > 0) problems.push(`${deaths.length} reports declared a survivor dead`);
  return out;
}

/** (b) With 10% of all packets lost, for a minute, nobody is ever declared dead. */
export function lossWithoutFalsePositives(seed: number, durationMs = 60_000): ScenarioResult {
  const { cluster, problems } = formCluster(seed, { path: { lossProbability: 0.1 } });
  const out = result(problems);
  const startMs = cluster.nowMs;
  cluster.runFor(durationMs);
  const deaths = cluster.trace.filter((e) => e.kind === "dead" || e.kind === "left");
  for (const death of deaths.slice(0, 3)) {
    problems.push(`${death.observer} declared ${death.member} ${death.kind} at ${death.atMs} ms`);
  }
  out.counts.suspicions = cluster.trace.filter(
    (e) => e.kind === "suspect" && e.atMs >= startMs,
  ).length;
  return out;
}

/**
 * (c) A member paused for up to 2 s is never declared dead; one paused far longer (declared
 * dead, most likely) refutes after it resumes and is alive to everyone within the rejoin bound.
 */
export function pauses(seed: number): ScenarioResult {
  const { prng, cluster, size, problems } = formCluster(seed);
  const out = result(problems);
  const victim = pickMembers(prng, cluster.ids, 1)[0] as MemberId;
  const shortPauseMs = 200 + prng.intBelow(1801);
  cluster.pause(victim);
  cluster.runFor(shortPauseMs);
  cluster.resume(victim);
  cluster.runFor(20_000);
  const shortDeaths = deadReportsAbout(cluster, [victim]);
  if (shortDeaths > 0) problems.push(`${victim} paused ${shortPauseMs} ms was declared dead`);
  const longPauseMs = 8000 + prng.intBelow(20_000);
  cluster.pause(victim);
  cluster.runFor(longPauseMs);
  cluster.resume(victim);
  const boundMs = rejoinBoundMs(cluster.config, size);
  const backMs = cluster.runUntilTrue(
    () => cluster.allSee(cluster.ids, cluster.ids, "alive"),
    boundMs,
  );
  if (backMs === null)
    problems.push(`${victim} paused ${longPauseMs} ms not alive to all in ${boundMs} ms`);
  else out.measuredMs.refuteAfterLongPause = backMs;
  out.counts.declaredDeadDuringLongPause = deadReportsAbout(cluster, [victim]);
  return out;
}

type PartitionKind = "split" | "one-way" | "isolate";
const PARTITION_KINDS: readonly PartitionKind[] = ["split", "one-way", "isolate"];

function applyPartition(cluster: SwimCluster, prng: Prng, kind: PartitionKind): string {
  const ids = prng.shuffle([...cluster.ids]);
  const cut = kind === "isolate" ? 1 : 2 + prng.intBelow(Math.max(1, ids.length - 3));
  const sideA = ids.slice(0, cut).map((id) => cluster.address(id));
  const sideB = ids.slice(cut).map((id) => cluster.address(id));
  if (kind === "one-way") {
    for (const from of sideA) for (const to of sideB) cluster.sim.network.cutOneWay(from, to);
  } else {
    cluster.sim.network.partition([sideA, sideB]);
  }
  return `${kind} ${sideA.length}|${sideB.length}`;
}

/**
 * (d) After a partition (two sides, a one-way cut, or one node isolated) that lasted long
 * enough for each side to declare the other dead, healing it brings every view back to the
 * same members, all alive, within the heal bound.
 */
export function partitionHeals(seed: number): ScenarioResult {
  const { prng, cluster, size, problems } = formCluster(seed);
  const out = result(problems);
  const kind = PARTITION_KINDS[prng.intBelow(PARTITION_KINDS.length)] as PartitionKind;
  const shape = applyPartition(cluster, prng, kind);
  cluster.runFor(10_000 + prng.intBelow(50_000));
  cluster.sim.network.heal();
  const boundMs = healBoundMs(cluster.config, size);
  const healedMs = cluster.runUntilTrue(
    () => cluster.allSee(cluster.ids, cluster.ids, "alive"),
    boundMs,
  );
  if (healedMs === null)
    problems.push(`views did not converge ${boundMs} ms after healing ${shape}`);
  else out.measuredMs[`heal-${kind}`] = healedMs;
  for (const observer of cluster.ids) {
    const members = cluster.node(observer).members().length;
    if (members !== size) problems.push(`${observer} tracks ${members} members, not ${size}`);
  }
  return out;
}

/** (e) A member that leaves gracefully ends up `left` everywhere, and nobody reports it dead. */
export function gracefulLeave(seed: number): ScenarioResult {
  const { prng, cluster, size, problems } = formCluster(seed);
  const out = result(problems);
  const leaver = pickMembers(prng, cluster.ids, 1, 1)[0] as MemberId;
  const others = cluster.ids.filter((id) => id !== leaver);
  cluster.leave(leaver);
  // The driver's linger: keep gossiping the leave for a second, then the process exits.
  cluster.runFor(1000);
  cluster.crash(leaver);
  const boundMs = disseminationBoundMs(cluster.config, size) + healBoundMs(cluster.config, size);
  const seenMs = cluster.runUntilTrue(() => cluster.allSee(others, [leaver], "left"), boundMs);
  if (seenMs === null) problems.push(`${leaver}'s leave not seen by all within ${boundMs} ms`);
  else out.measuredMs.leaveSeenAll = seenMs + 1000;
  cluster.runFor(30_000);
  if (!cluster.allSee(others, [leaver], "left"))
    problems.push(`${leaver} is no longer left everywhere`);
  const deaths = deadReportsAbout(cluster, [leaver]);
  if (deaths > 0) problems.push(`${leaver} left gracefully but was reported dead ${deaths} times`);
  return out;
}

/**
 * (f) Metadata updates (several, on several members) reach every member within the bound.
 * Gossip reaches everyone with high probability within the dissemination bound, but a rumor
 * whose retransmit budget runs out may miss a member for good; the periodic push-pull is what
 * guarantees delivery, so the bound is one push-pull interval on top of dissemination.
 */
export function metadataSpreads(seed: number): ScenarioResult {
  const { prng, cluster, size, problems } = formCluster(seed);
  const out = result(problems);
  const updates = 1 + prng.intBelow(8);
  const firstUpdateMs = cluster.nowMs;
  for (let i = 0; i < updates; i += 1) {
    const who = pickMembers(prng, cluster.ids, 1)[0] as MemberId;
    cluster.updateMeta(who, {
      usedBytes: prng.intBelow(1_000_000),
      primary: prng.chance(0.5),
      epoch: i,
    });
    cluster.runFor(prng.intBelow(700));
  }
  const agreed = (): boolean =>
    cluster.ids.every((member) => {
      const own = cluster.node(member).member(member);
      return cluster.ids.every((observer) => {
        const seen = cluster.viewAt(observer, member);
        return (
          seen !== undefined &&
          own !== undefined &&
          seen.meta.metaVersion === own.meta.metaVersion &&
          seen.meta.usedBytes === own.meta.usedBytes
        );
      });
    });
  const boundMs =
    pushPullIntervalMs(cluster.config, size) + disseminationBoundMs(cluster.config, size);
  const spreadMs = cluster.runUntilTrue(agreed, boundMs);
  if (spreadMs === null)
    problems.push(`${updates} metadata updates not everywhere in ${boundMs} ms`);
  else out.measuredMs.metadataSpreadFromFirstUpdate = cluster.nowMs - firstUpdateMs;
  return out;
}

/**
 * A bit of everything, for replay: crash, pause, partition, leave, metadata, restart. Returns
 * the full event trace and traffic figures as text, which must match byte for byte per seed.
 */
export function mixedScenarioTranscript(seed: number): string {
  const { prng, cluster } = formCluster(seed, { unreachableProbability: 0.5 });
  const [crashed, paused, leaver, updater] = pickMembers(prng, cluster.ids, 4, 1) as MemberId[];
  cluster.crash(crashed as MemberId);
  cluster.pause(paused as MemberId);
  cluster.runFor(3000);
  cluster.resume(paused as MemberId);
  applyPartition(cluster, prng, PARTITION_KINDS[prng.intBelow(3)] as PartitionKind);
  cluster.updateMeta(updater as MemberId, { usedBytes: 42 });
  cluster.runFor(15_000);
  cluster.sim.network.heal();
  cluster.leave(leaver as MemberId);
  cluster.runFor(1000);
  cluster.crash(leaver as MemberId);
  cluster.boot(crashed as MemberId);
  cluster.runFor(30_000);
  const traffic = cluster.ids.map((id) => cluster.sim.traffic(cluster.address(id)));
  return JSON.stringify({ trace: cluster.trace, traffic });
}

/**
 * One member of `size` crashes: how long until the first and until every survivor declares it
 * dead. With `icmp` the network reports the closed port (a killed process on a live host);
 * without, silence (a cut link). For comparison with Serf's measured medians.
 */
export function singleCrashDetection(seed: number, size: number, icmp: boolean): ScenarioResult {
  const path = { lossProbability: 0, duplicateProbability: 0, reorderProbability: 0 };
  const formed = formCluster(seed, { size, path, unreachableProbability: icmp ? 1 : 0 });
  const { prng, cluster, problems } = formed;
  const out = result(problems);
  const victim = pickMembers(prng, cluster.ids, 1)[0] as MemberId;
  const survivors = cluster.ids.filter((id) => id !== victim);
  cluster.crash(victim);
  const crashedAtMs = cluster.nowMs;
  const boundMs = silentDetectionBoundMs(cluster.config, size);
  const allMs = cluster.runUntilTrue(
    () => cluster.allSee(survivors, [victim], "dead"),
    boundMs,
    10,
  );
  if (allMs === null) problems.push(`${victim} not dead everywhere within ${boundMs} ms`);
  const first = cluster.reports("dead", victim, crashedAtMs)[0];
  out.measuredMs.first = first === undefined ? boundMs : first.atMs - crashedAtMs;
  out.measuredMs.all = allMs ?? boundMs;
  return out;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

/**
 * (h) Sluggish members (a saturated CPU: many short stalls, each under the stall threshold
 * or just over it) are never declared dead, and their late answers get nobody else declared
 * dead either. Every member is expected alive everywhere at the end.
 */
export function sluggishMembers(seed: number, durationMs = 60_000): ScenarioResult {
  const { prng, cluster, size, problems } = formCluster(seed);
  const out = result(problems);
  const slow = pickMembers(prng, cluster.ids, 1 + prng.intBelow(Math.min(3, size >> 2)));
  const endMs = cluster.nowMs + durationMs;
  while (cluster.nowMs < endMs) {
    cluster.runFor(200 + prng.intBelow(800));
    for (const id of slow) cluster.pause(id);
    cluster.runFor(100 + prng.intBelow(351));
    for (const id of slow) cluster.resume(id);
  }
  cluster.runFor(5000);
  const deaths = cluster.trace.filter((e) => e.kind === "dead");
  for (const death of deaths.slice(0, 3)) {
    problems.push(`${death.observer} declared ${death.member} dead at ${death.atMs} ms`);
  }
  if (!cluster.allSee(cluster.ids, cluster.ids, "alive")) problems.push("not all alive at the end");
  out.counts.suspicions = cluster.trace.filter((e) => e.kind === "suspect").length;
  return out;
}
