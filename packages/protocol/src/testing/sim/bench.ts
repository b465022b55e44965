/**
 * Simulated gossip figures at scale (default 100 and 1,000 members), LAN preset, a clean
 * 1–5 ms network: how long a cluster takes to form and to fall quiet, a restarted member to be
 * seen, a crash to be known (closed port, and silence), a metadata update to spread, and the
 * steady load per node.
 *
 *   bun packages/protocol/src/testing/sim/bench.ts [members...] [--seed n]
 *
 * Simulated time, not wall time: the figures are the protocol's, free of CPU noise. Bytes are
 * gossip payloads; on the wire add 28 (IPv4 + UDP) and the driver's tag per packet.
 */

import { pushPullIntervalMs } from "../../core/swim/config.ts";
import type { MemberId } from "../../core/swim/types.ts";
import { PATH_LAN } from "./network.ts";
import { SwimCluster } from "./swim-cluster.ts";

/** At least a minute, and one push-pull interval, so full syncs are in the average. */
const STEADY_WINDOW_MS_MIN = 60_000;
const SETTLE_MS = 10_000;
const CONVERGE_TIMEOUT_MS = 600_000;
/** Rolling start: one member boots every this many ms, joining through the three seeds. */
const BOOT_GAP_MS = 10;

interface Figures {
  readonly members: number;
  readonly formMs: number | null;
  /** From formed to every rumor queue empty: the join wave's gossip tail. */
  readonly quietMs: number | null;
  readonly restartSeenMs: number | null;
  readonly killedDetectedMs: number | null;
  readonly silentDetectedMs: number | null;
  readonly metaSpreadMs: number | null;
  readonly packetsPerNodeSecond: number;
  readonly bytesPerNodeSecond: number;
  readonly wallMs: number;
}

function parseArgs(argv: readonly string[]): { sizes: number[]; seed: number } {
  const sizes: number[] = [];
  let seed = 1;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === "--seed") {
      seed = Number(argv[i + 1]);
      i += 1;
    } else {
      sizes.push(Number(arg));
    }
  }
  return { sizes: sizes.length > 0 ? sizes : [100, 1000], seed };
}

function runUntil(cluster: SwimCluster, predicate: () => boolean, stepMs = 50): number | null {
  return cluster.runUntilTrue(predicate, CONVERGE_TIMEOUT_MS, stepMs);
}

/** Time from the last boot until every member sees every other alive. */
function form(cluster: SwimCluster): number | null {
  for (const id of cluster.ids) {
    cluster.boot(id);
    cluster.runFor(BOOT_GAP_MS);
  }
  return runUntil(cluster, () => cluster.allSee(cluster.ids, cluster.ids, "alive"), 100);
}

/** Packets and bytes each node sends per second, averaged over a quiet window. */
function steadyLoad(cluster: SwimCluster): { packets: number; bytes: number } {
  const ids = cluster.ids;
  const windowMs = Math.max(STEADY_WINDOW_MS_MIN, pushPullIntervalMs(cluster.config, ids.length));
  const before = ids.map((id) => cluster.sim.traffic(cluster.address(id)));
  cluster.runFor(windowMs);
  let packets = 0;
  let bytes = 0;
  ids.forEach((id, index) => {
    const after = cluster.sim.traffic(cluster.address(id));
    packets += after.packetsSent - (before[index]?.packetsSent ?? 0);
    bytes += after.bytesSent - (before[index]?.bytesSent ?? 0);
  });
  const nodeSeconds = (ids.length * windowMs) / 1000;
  return { packets: packets / nodeSeconds, bytes: bytes / nodeSeconds };
}

function detectCrash(cluster: SwimCluster, victim: MemberId, closedPort: boolean): number | null {
  cluster.sim.setUnreachableProbability(closedPort ? 1 : 0);
  const survivors = cluster.ids.filter((id) => id !== victim);
  cluster.crash(victim);
  const detectedMs = runUntil(cluster, () => cluster.allSee(survivors, [victim], "dead"));
  cluster.sim.setUnreachableProbability(0);
  return detectedMs;
}

/** A crashed member restarts with fresh state: time until every running member sees it. */
function restartSeen(cluster: SwimCluster, member: MemberId): number | null {
  cluster.boot(member);
  const running = cluster.ids.filter((id) => cluster.isRunning(id));
  return runUntil(cluster, () => cluster.allSee(running, [member], "alive"));
}

function metaSpread(cluster: SwimCluster, updater: MemberId): number | null {
  cluster.updateMeta(updater, { usedBytes: 12_345 });
  const running = cluster.ids.filter((id) => cluster.isRunning(id));
  return runUntil(cluster, () =>
    running.every((id) => cluster.viewAt(id, updater)?.meta.usedBytes === 12_345),
  );
}

function measure(members: number, seed: number): Figures {
  const startedMs = performance.now();
  const cluster = new SwimCluster({ seed, size: members, path: PATH_LAN });
  const formMs = form(cluster);
  const quietMs = runUntil(
    cluster,
    () => cluster.ids.every((id) => cluster.node(id).stats().queuedRumors === 0),
    500,
  );
  const load = steadyLoad(cluster);
  const [killed, silent, updater] = cluster.ids.slice(-3) as [MemberId, MemberId, MemberId];
  const killedDetectedMs = detectCrash(cluster, killed, true);
  cluster.runFor(SETTLE_MS);
  const silentDetectedMs = detectCrash(cluster, silent, false);
  cluster.runFor(SETTLE_MS);
  const restartSeenMs = restartSeen(cluster, silent);
  cluster.runFor(SETTLE_MS);
  return {
    members,
    formMs,
    quietMs,
    restartSeenMs,
    killedDetectedMs,
    silentDetectedMs,
    metaSpreadMs: metaSpread(cluster, updater),
    packetsPerNodeSecond: load.packets,
    bytesPerNodeSecond: load.bytes,
    wallMs: performance.now() - startedMs,
  };
}

function seconds(ms: number | null): string {
  return ms === null ? "timeout" : `${(ms / 1000).toFixed(2)} s`;
}

const COLUMNS: ReadonlyArray<[string, (f: Figures) => string]> = [
  ["members", (f) => String(f.members)],
  ["formed", (f) => seconds(f.formMs)],
  ["quiet", (f) => seconds(f.quietMs)],
  ["killed→all", (f) => seconds(f.killedDetectedMs)],
  ["silent→all", (f) => seconds(f.silentDetectedMs)],
  ["restart→all", (f) => seconds(f.restartSeenMs)],
  ["meta→all", (f) => seconds(f.metaSpreadMs)],
  ["pkt/node/s", (f) => f.packetsPerNodeSecond.toFixed(2)],
  ["B/node/s", (f) => f.bytesPerNodeSecond.toFixed(0)],
  ["wall", (f) => seconds(f.wallMs)],
];

function main(): void {
  const { sizes, seed } = parseArgs(process.argv.slice(2));
  console.log(COLUMNS.map(([title]) => title.padStart(11)).join(" "));
  for (const size of sizes) {
    const figures = measure(size, seed);
    console.log(COLUMNS.map(([, cell]) => cell(figures).padStart(11)).join(" "));
  }
}

main();
