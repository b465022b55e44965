/**
 * The trade-off behind issue 20, in simulated time: for each candidate gossip config, how fast a
 * silent member (a cut link: no answer, no port-unreachable) is declared dead by every survivor,
 * against the false alarms the same config raises: suspicions and deaths at 10% loss for 60 s,
 * and deaths of a member paused (SIGSTOP) for 3 s. Also how many independent confirmations of
 * the suspicion arrive before the first death, and how fast, at 10 and 100 members.
 *
 *   bun packages/protocol/src/testing/sim/detection-curve.ts [--seeds n] [--big-seeds n]
 *
 * Figures are the protocol's (simulated time, LAN paths of 1–5 ms), not a benchmark of
 * processes: bench/src/gossip measures real members beside Serf.
 */

import { parseArgs } from "node:util";
import { SWIM_LAN_CONFIG, type SwimConfig, swimConfig } from "../../core/swim/config.ts";
import type { MemberId } from "../../core/swim/types.ts";
import { seedList } from "./seeds.ts";
import { formCluster, median, percentile, pickMembers } from "./swim-properties.ts";

const CLUSTER_MEMBERS = 10;
const BIG_CLUSTER_MEMBERS = 100;
const LOSS_WINDOW_MS = 60_000;
const LOSS_PROBABILITY = 0.1;
/** Where a live host's checks start to fail too: the fast path's own false alarms show here. */
const HEAVY_LOSS_PROBABILITY = 0.3;
const PAUSE_MS = 3_000;
/** After a pause, watch this long for a late death (a suspicion must resolve first). */
const PAUSE_OBSERVE_MS = 30_000;
const DETECT_DEADLINE_MS = 60_000;
const SAMPLE_STEP_MS = 10;
const CLEAN_PATH = { lossProbability: 0, duplicateProbability: 0, reorderProbability: 0 };

interface Candidate {
  readonly name: string;
  readonly config: SwimConfig;
}

const CANDIDATES: readonly Candidate[] = [
  { name: "Lifeguard only (host checks off), LAN", config: swimConfig({ hostCheckTimeoutMs: 0 }) },
  {
    name: "Lifeguard only, suspicionMult 3",
    config: swimConfig({ hostCheckTimeoutMs: 0, suspicionMult: 3 }),
  },
  {
    name: "Lifeguard only, suspicionMult 2",
    config: swimConfig({ hostCheckTimeoutMs: 0, suspicionMult: 2 }),
  },
  {
    name: "Lifeguard only, suspicionMult 1",
    config: swimConfig({ hostCheckTimeoutMs: 0, suspicionMult: 1 }),
  },
  ...[0, 250, 400, 500, 1000, 2000].map((ms) => ({
    name: `host checks, silentHostSuspicionMs ${ms}`,
    config: swimConfig({ silentHostSuspicionMs: ms }),
  })),
  {
    name: "host checks, probeTimeoutMs 500 (memberlist's)",
    config: swimConfig({ probeTimeoutMs: 500 }),
  },
  {
    name: "host checks, probeTimeoutMs 250, relays and checks wait 200 ms, silentHost 250",
    config: swimConfig({
      probeTimeoutMs: 250,
      relayNackTimeoutMs: 200,
      hostCheckTimeoutMs: 200,
      silentHostSuspicionMs: 250,
    }),
  },
  {
    name: "host checks, probeTimeoutMs 500, silentHostSuspicionMs 500, relays and checks 400 ms",
    config: swimConfig({
      probeTimeoutMs: 500,
      relayNackTimeoutMs: 400,
      hostCheckTimeoutMs: 400,
      silentHostSuspicionMs: 500,
    }),
  },
];

interface Detection {
  firstMs: number;
  allMs: number;
  /** Confirmations the first declarer held when it declared, and when the k-th arrived. */
  confirmationsAtDeath: number;
  confirmationTimesMs: number[];
}

/** One silent member of `size`; confirmations sampled every SAMPLE_STEP_MS at each survivor. */
function silentDetection(seed: number, size: number, config: SwimConfig): Detection | null {
  const { prng, cluster } = formCluster(seed, { size, path: CLEAN_PATH }, config);
  const victim = pickMembers(prng, cluster.ids, 1, 1)[0] as MemberId;
  const survivors = cluster.ids.filter((id) => id !== victim);
  cluster.crash(victim);
  const confirmationTimesMs: number[] = [];
  let lastConfirmations = new Map<MemberId, number>();
  let firstMs: number | null = null;
  let confirmationsAtDeath = 0;
  for (let t = 0; t < DETECT_DEADLINE_MS; t += SAMPLE_STEP_MS) {
    const now = new Map<MemberId, number>();
    for (const id of survivors) {
      const node = cluster.node(id);
      const suspicion = node.suspicionOf(victim);
      if (suspicion !== null) now.set(id, suspicion.confirmations);
      if (firstMs === null && node.member(victim)?.state === "dead") {
        firstMs = t;
        confirmationsAtDeath = lastConfirmations.get(id) ?? 0;
      }
    }
    const best = Math.max(0, ...now.values());
    while (confirmationTimesMs.length < best) confirmationTimesMs.push(t);
    lastConfirmations = now;
    if (cluster.allSee(survivors, [victim], "dead")) {
      return { firstMs: firstMs ?? t, allMs: t, confirmationsAtDeath, confirmationTimesMs };
    }
    cluster.runFor(SAMPLE_STEP_MS);
  }
  return null;
}

function lossFalseAlarms(
  seed: number,
  config: SwimConfig,
  lossProbability: number,
): { suspicions: number; deaths: number } {
  const { cluster } = formCluster(
    seed,
    { size: CLUSTER_MEMBERS, path: { lossProbability } },
    config,
  );
  const startMs = cluster.nowMs;
  cluster.runFor(LOSS_WINDOW_MS);
  const window = cluster.trace.filter((e) => e.atMs >= startMs);
  const raised = new Set(
    window.filter((e) => e.kind === "suspect").map((e) => `${e.member}@${e.incarnation}`),
  );
  return { suspicions: raised.size, deaths: window.filter((e) => e.kind === "dead").length };
}

function pauseDeclaredDead(seed: number, config: SwimConfig): boolean {
  const { prng, cluster } = formCluster(seed, { size: CLUSTER_MEMBERS, path: CLEAN_PATH }, config);
  const victim = pickMembers(prng, cluster.ids, 1)[0] as MemberId;
  const fromMs = cluster.nowMs;
  cluster.pause(victim);
  cluster.runFor(PAUSE_MS);
  cluster.resume(victim);
  cluster.runFor(PAUSE_OBSERVE_MS);
  return cluster.reports("dead", victim, fromMs).length > 0;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

function measure(candidate: Candidate, seeds: number, bigSeeds: number): string[] {
  const detections = seedList(seeds, 90_001)
    .map((seed) => silentDetection(seed, CLUSTER_MEMBERS, candidate.config))
    .filter((d): d is Detection => d !== null);
  const all = detections.map((d) => d.allMs);
  const first = detections.map((d) => d.firstMs);
  const confirmations = detections.map((d) => d.confirmationsAtDeath);
  const alarms = [LOSS_PROBABILITY, HEAVY_LOSS_PROBABILITY].map((loss) => {
    let suspicions = 0;
    let deaths = 0;
    for (const seed of seedList(seeds, 91_001)) {
      const found = lossFalseAlarms(seed, candidate.config, loss);
      suspicions += found.suspicions;
      deaths += found.deaths;
    }
    return (
      `  ${loss * 100}% loss ${LOSS_WINDOW_MS / 1000} s: ${(suspicions / seeds).toFixed(2)} ` +
      `suspicions and ${(deaths / seeds).toFixed(2)} deaths per run (${seeds} runs)`
    );
  });
  const pausesDead = seedList(seeds, 92_001).filter((s) => pauseDeclaredDead(s, candidate.config));
  const lines = [
    `${candidate.name}`,
    `  cut link, ${CLUSTER_MEMBERS} members: first ${seconds(median(first))} s, every survivor ` +
      `${seconds(median(all))} s median, p90 ${seconds(percentile(all, 0.9))} s ` +
      `(${detections.length}/${seeds} detected); confirmations at the first death: median ` +
      `${median(confirmations)}`,
    ...alarms,
    `  ${PAUSE_MS / 1000} s pause declared dead: ${pausesDead.length} of ${seeds}`,
  ];
  if (bigSeeds > 0) lines.push(...confirmationArrivals(candidate.config, bigSeeds));
  return lines;
}

/** When the c-th independent confirmation reaches some survivor, from the cut (median). */
function confirmationArrivals(config: SwimConfig, seeds: number): string[] {
  const lines: string[] = [];
  for (const size of [CLUSTER_MEMBERS, BIG_CLUSTER_MEMBERS]) {
    const runs = seedList(seeds, 93_001)
      .map((seed) => silentDetection(seed, size, config))
      .filter((d): d is Detection => d !== null);
    const arrivals: string[] = [];
    for (let c = 1; c <= 4; c += 1) {
      const times = runs.map((d) => d.confirmationTimesMs[c - 1]).filter((t) => t !== undefined);
      if (times.length > 0)
        arrivals.push(`#${c} ${seconds(median(times))} s (${times.length}/${runs.length})`);
    }
    const all = runs.map((d) => d.allMs);
    lines.push(
      `  ${size} members: confirmations reach a survivor at ${arrivals.join(", ") || "none"}; ` +
        `dead to all ${seconds(median(all))} s median`,
    );
  }
  return lines;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string", default: "40" },
      "big-seeds": { type: "string", default: "0" },
      only: { type: "string", default: "" },
    },
  });
  const seeds = Number(values.seeds);
  const bigSeeds = Number(values["big-seeds"]);
  console.log(`LAN preset: ${JSON.stringify(SWIM_LAN_CONFIG)}`);
  for (const candidate of CANDIDATES) {
    if (values.only !== "" && !candidate.name.includes(values.only)) continue;
    for (const line of measure(candidate, seeds, bigSeeds)) console.log(line);
  }
}

main();
