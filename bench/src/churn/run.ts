/**
 * `bun run bench`: a cluster of real processes (3 directories, 2 storage groups of 3), N
 * clients with a mixed workload while a churn schedule kills, pauses and stops nodes; per-second
 * metrics, the time each group takes to be whole again after a storage node comes back, the
 * end-of-run history check, and the outputs (summary, metrics.json, report.html, metrics.png).
 * Owns the cluster and its temporary folder, removed unless --keep.
 */

import { mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  clusterView,
  startCluster,
  toSample,
  type LocalCluster,
  type MembershipSample,
} from "@ftfs/protocol/testing";
import { measureMachineLimits, type MachineLimits } from "../machine/limits.ts";
import { cpuSeconds } from "../common/proc-stats.ts";
import { formatProgress, startProgress } from "../common/progress.ts";
import { renderSvg } from "../common/svg-png.ts";
import { ChurnPlayer, outages } from "./churn.ts";
import { parseArgs, type BenchOptions } from "./config.ts";
import { checkHistory } from "@ftfs/protocol/testing/history";
import { isWrite } from "@ftfs/protocol/testing/history";
import { Load, verifyAcknowledged } from "./load.ts";
import { perSecond } from "./metrics.ts";
import { measureRecoveries, storageReturns, type Recovery } from "./recovery.ts";
import { RecoveryWatch } from "./recovery-watch.ts";
import { renderReportHtml, renderReportSvg } from "./report-svg.ts";
import {
  DEFAULT_SCHEDULE,
  QUICK_SCHEDULE,
  describeNextEvent,
  parseSchedule,
  type ChurnEvent,
} from "./schedule.ts";
import { buildSummary, formatSummary, type Summary } from "./summary.ts";

const MIB = 1024 * 1024;
const DIRECTORIES = 3;
const GROUPS = [
  { name: "s1", size: 3 },
  { name: "s2", size: 3 },
] as const;
/** Enough bytes for a stable disk and loopback figure, few enough to cost ~5 s. */
const LIMITS_BYTES = 512 * MIB;
const SAMPLE_INTERVAL_MS = 1_000;
/** After the load, the healed cluster must be whole again within this long. */
const HEAL_READY_TIMEOUT_MS = 60_000;

async function loadSchedule(options: BenchOptions): Promise<readonly ChurnEvent[]> {
  if (options.churn === "none") return [];
  if (options.churn === "default") return options.quick ? QUICK_SCHEDULE : DEFAULT_SCHEDULE;
  return parseSchedule(await Bun.file(options.churn).text());
}

function log(text: string): void {
  process.stderr.write(`${process.stderr.isTTY ? "\r\x1b[K" : ""}[bench] ${text}\n`);
}

/** Samples membership, server CPU per pid and the event loop's lateness once a second. */
class Sampler {
  readonly membership: MembershipSample[] = [];
  readonly cpuByPid = new Map<number, { first: number; last: number }>();
  loopLagMsMax = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private busy = false;

  constructor(
    private readonly cluster: LocalCluster,
    private readonly load: Load,
  ) {}

  async sampleCpu(): Promise<void> {
    await Promise.all(
      this.cluster.nodes.map(async (node) => {
        const pid = node.pid;
        if (pid === null) return;
        const seconds = await cpuSeconds(pid);
        if (seconds === null) return;
        const entry = this.cpuByPid.get(pid);
        // A pid first seen after t0 is a restarted node: all its CPU is this run's.
        this.cpuByPid.set(pid, {
          first: entry?.first ?? (this.membership.length === 0 ? seconds : 0),
          last: seconds,
        });
      }),
    );
  }

  start(): void {
    let expectedMs = performance.now() + SAMPLE_INTERVAL_MS;
    const tick = async (): Promise<void> => {
      this.loopLagMsMax = Math.max(this.loopLagMsMax, performance.now() - expectedMs);
      expectedMs = performance.now() + SAMPLE_INTERVAL_MS;
      this.timer = setTimeout(() => void tick(), SAMPLE_INTERVAL_MS);
      if (this.busy) return;
      this.busy = true;
      try {
        const tMs = this.load.nowMs();
        const [view] = await Promise.all([clusterView(this.cluster), this.sampleCpu()]);
        this.membership.push(toSample(view, tMs));
      } finally {
        this.busy = false;
      }
    };
    this.timer = setTimeout(() => void tick(), SAMPLE_INTERVAL_MS);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }

  serverCpuSeconds(): number {
    let total = 0;
    for (const entry of this.cpuByPid.values()) total += entry.last - entry.first;
    return total;
  }
}

/** The terminal's progress line: the load so far, the next churn event, who leads what. */
function progressLine(
  load: Load,
  sampler: Sampler,
  schedule: readonly ChurnEvent[],
  durationMs: number,
): string {
  const { records } = load.state;
  const ok = records.filter((record) => record.ok).length;
  const last = sampler.membership.at(-1);
  const groups = Object.entries(last?.groupPrimary ?? {}).map(
    ([group, node]) => `${group}:${node ?? "-"}`,
  );
  const elapsedMs = load.nowMs();
  const detail = [
    describeNextEvent(schedule, elapsedMs, durationMs),
    `${load.state.retryTimesMs.length} retries`,
    `primaries dir:${last?.directoryPrimary ?? "-"} ${groups.join(" ")}`,
  ];
  return formatProgress({
    elapsedMs,
    totalMs: durationMs,
    ok,
    errors: records.length - ok,
    detail: detail.join("  "),
  });
}

async function machineLimits(options: BenchOptions): Promise<MachineLimits | null> {
  if (options.skipLimits) return null;
  log("measuring the machine's limits (disk write+fsync, loopback TCP)");
  return measureMachineLimits(join(tmpdir(), `ftfs-churn-limits-${process.pid}`), LIMITS_BYTES);
}

interface RunOutcome {
  readonly summary: Summary;
  readonly failed: boolean;
}

/** What the timed part of the run leaves for the checks and the report. */
interface Played {
  readonly load: Load;
  readonly sampler: Sampler;
  readonly churn: ChurnPlayer;
  readonly wallMs: number;
  readonly loadCpuSeconds: number;
  readonly recoveries: readonly Recovery[];
}

/** The load with its churn, samplers, status watch and progress line, for `durationMs`. */
async function play(
  options: BenchOptions,
  cluster: LocalCluster,
  schedule: readonly ChurnEvent[],
  durationMs: number,
): Promise<Played> {
  const load = new Load(options, cluster.directoryAddresses, performance.now());
  await load.connect();
  const t0Ms = performance.now();
  load.resetClock(t0Ms);
  const sampler = new Sampler(cluster, load);
  await sampler.sampleCpu();
  sampler.membership.push(toSample(await clusterView(cluster), 0));
  const cpu0 = process.cpuUsage();
  sampler.start();
  const watch = new RecoveryWatch(cluster.directoryAddresses, () => load.nowMs());
  watch.start();
  const progress = startProgress(() => progressLine(load, sampler, schedule, durationMs));
  const churn = new ChurnPlayer(cluster);
  const churnDone = churn.play(schedule, t0Ms, durationMs);
  await load.run(durationMs);
  const wallMs = performance.now() - t0Ms;
  progress.stop();
  churn.stop();
  await Promise.all([churnDone, watch.stop()]);
  await sampler.sampleCpu();
  sampler.stop();
  const cpu = process.cpuUsage(cpu0);
  return {
    load,
    sampler,
    churn,
    wallMs,
    loadCpuSeconds: (cpu.user + cpu.system) / 1e6,
    recoveries: measureRecoveries(storageReturns(churn.records), watch.observations),
  };
}

async function runLoad(
  options: BenchOptions,
  cluster: LocalCluster,
  limits: MachineLimits | null,
  schedule: readonly ChurnEvent[],
): Promise<RunOutcome> {
  const durationMs = options.durationS * 1000;
  const { load, sampler, churn, wallMs, loadCpuSeconds, recoveries } = await play(
    options,
    cluster,
    schedule,
    durationMs,
  );
  for (const record of churn.records)
    log(
      `${(record.atMs / 1000).toFixed(1)}s ${record.action} ${record.target} → ` +
        `${record.node ?? "?"} ${record.note}`,
    );
  const healed = churn.heal();
  if (healed.length > 0) log(`healed: ${healed.join(", ")}`);
  await cluster.waitReady(HEAL_READY_TIMEOUT_MS);
  const ops = load.state.ops.ops;
  const acked = ops.filter((op) => isWrite(op) && op.status === "ok");
  log(`reading back ${acked.length} acknowledged writes`);
  const verify = await verifyAcknowledged(cluster.directoryAddresses, acked);
  load.close();
  // The chaos suite's checker: per-file linearizability of reads, listings and acknowledgements.
  const violations = checkHistory(ops, []);
  const metrics = perSecond(
    load.state.records,
    load.state.retryTimesMs,
    sampler.membership,
    durationMs,
  );
  const summary = buildSummary({
    options,
    wallMs,
    durationMs,
    metrics,
    load: load.state,
    verify,
    violations,
    limits,
    churn: churn.records,
    serverCpuSeconds: sampler.serverCpuSeconds(),
    loadCpuSeconds,
    loopLagMsMax: sampler.loopLagMsMax,
    recoveries,
  });
  const failed =
    verify.lost > 0 || verify.corrupted > 0 || violations.length > 0 || load.state.listMissing > 0;
  await writeOutputs(options, summary, metrics, churn, durationMs);
  return { summary, failed };
}

async function writeOutputs(
  options: BenchOptions,
  summary: Summary,
  metrics: ReturnType<typeof perSecond>,
  churn: ChurnPlayer,
  durationMs: number,
): Promise<void> {
  const outDir = resolve(options.outDir);
  await mkdir(outDir, { recursive: true });
  const text = formatSummary(summary);
  await writeFile(
    join(outDir, "metrics.json"),
    JSON.stringify({ summary, churn: churn.records, seconds: metrics }, null, 1),
  );
  const events = churn.records
    .filter((record) => record.node !== null)
    .map((record) => ({
      atS: record.atMs / 1000,
      label: `${record.action} ${record.node}`,
    }));
  const spans = outages(churn.records, durationMs).map((span) => ({
    fromS: span.fromMs / 1000,
    toS: span.toMs / 1000,
    label: span.label,
  }));
  const title = `FTFS churn bench: ${options.clients} clients, ${options.durationS} s`;
  const svg = renderReportSvg({
    title,
    summaryText: text,
    metrics,
    events,
    spans,
    recoveries: summary.recoveries.map((recovery) => ({
      group: recovery.group,
      fromS: recovery.atS,
      toS: recovery.wholeAfterS === null ? null : recovery.atS + recovery.wholeAfterS,
    })),
  });
  await writeFile(join(outDir, "report.html"), renderReportHtml(title, svg));
  const image = await renderSvg(svg);
  await writeFile(join(outDir, "metrics.png"), image.png);
  process.stdout.write(`${text}\n`);
  process.stdout.write(`outputs: ${outDir}/{metrics.json,report.html,metrics.png}\n`);
}

/**
 * The run reads back every acknowledged version at the end, so the directories keep them all
 * (the most `--keep-versions` takes; no name here gets near it). Pruning under the default
 * policy is the directory's unit and end-to-end tests' business.
 */
const KEEP_EVERY_VERSION = 1_000;

export async function main(argv: readonly string[]): Promise<number> {
  const options = parseArgs(argv);
  const schedule = await loadSchedule(options);
  const limits = await machineLimits(options);
  log(`starting a cluster: ${DIRECTORIES} directories, ${GROUPS.length} storage groups of 3`);
  const cluster = await startCluster({
    directories: DIRECTORIES,
    groups: GROUPS,
    keep: options.keep,
    env: { FTFS_KEEP_VERSIONS: String(KEEP_EVERY_VERSION) },
  });
  const stopOnSignal = (): void => void cluster.stop().finally(() => process.exit(130));
  process.once("SIGINT", stopOnSignal);
  try {
    log(`${options.clients} clients for ${options.durationS} s; churn: ${schedule.length} events`);
    const outcome = await runLoad(options, cluster, limits, schedule);
    return outcome.failed ? 1 : 0;
  } finally {
    process.off("SIGINT", stopOnSignal);
    await cluster.stop();
    if (options.keep) log(`cluster data kept in ${cluster.dataRoot}`);
    else await rm(cluster.dataRoot, { recursive: true, force: true });
  }
}
