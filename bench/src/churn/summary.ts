/**
 * The run's figures in one object (for metrics.json) and as a table for stdout, each beside the
 * peer's figure recorded in ../shared/peers/README.md. Pure.
 */

import type { MachineLimits } from "../machine/limits.ts";
import type { ChurnRecord } from "./churn.ts";
import { OP_KINDS, type BenchOptions, type OpKind } from "./config.ts";
import type { Violation, ViolationKind } from "@ftfs/protocol/testing/history";
import type { LoadState, VerifyResult } from "./load.ts";
import { longestGap } from "../common/completions.ts";
import { percentile, type SecondMetrics } from "./metrics.ts";
import { formatRecoveries, type Recovery } from "./recovery.ts";

const MIB = 1024 * 1024;
/** Every write is stored on the 3 replicas of its group, all on this one disk. */
const REPLICAS = 3;
const MS_PER_S = 1000;
/** Swift 2.30 under the same 100-client kill -9 test, as recorded 2026-11-24 (peers/README.md). */
const PEER = {
  errors: "0",
  longestGap: "0.15 s",
  opsPerS: "~250 (mixed 64 KiB)",
  cpuPerOp: "~17 ms (64 KiB PUT)",
  lost: "0",
} as const;

export interface SummaryInput {
  readonly options: BenchOptions;
  readonly wallMs: number;
  readonly durationMs: number;
  readonly metrics: readonly SecondMetrics[];
  readonly load: LoadState;
  readonly verify: VerifyResult;
  /** What the history checker found over every op of the run (bench/src/history). */
  readonly violations: readonly Violation[];
  readonly limits: MachineLimits | null;
  readonly churn: readonly ChurnRecord[];
  readonly serverCpuSeconds: number;
  readonly loadCpuSeconds: number;
  readonly loopLagMsMax: number;
  readonly recoveries: readonly Recovery[];
}

export interface Summary {
  readonly clients: number;
  readonly durationS: number;
  readonly churnEvents: number;
  readonly opsTotal: number;
  readonly opsPerS: number;
  readonly opsByKind: Readonly<Record<OpKind, number>>;
  readonly mibPerS: number;
  readonly writeMibPerS: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly errors: number;
  readonly retries: number;
  readonly longestGapMs: number;
  readonly longestGapAtS: number;
  readonly acknowledgedWrites: number;
  readonly readBackExact: number;
  readonly lost: number;
  readonly corrupted: number;
  readonly conflictingAcks: number;
  /** History violations by kind (stale, phantom, corrupt, non-monotonic reads, …): all 0. */
  readonly violations: Readonly<Partial<Record<ViolationKind, number>>>;
  readonly listMissing: number;
  readonly serverCpuSeconds: number;
  readonly serverCpuMsPerOp: number;
  readonly loadCpuSeconds: number;
  readonly loadCpuShareOfOneCore: number;
  readonly loopLagMsMax: number;
  readonly limits: MachineLimits | null;
  readonly writeTimesReplicasOverDiskFsync: number | null;
  readonly mibPerSOverLoopback: number | null;
  /** Per return of a storage node: how long until its group was whole again (recovery.ts). */
  readonly recoveries: readonly Recovery[];
  readonly samples: readonly string[];
}

export function buildSummary(input: SummaryInput): Summary {
  const records = input.load.records;
  const ok = records.filter((record) => record.ok);
  const seconds = input.wallMs / MS_PER_S;
  const latencies = ok.map((record) => record.endMs - record.startMs).sort((a, b) => a - b);
  const opsByKind = Object.fromEntries(
    OP_KINDS.map((kind) => [kind, ok.filter((record) => record.kind === kind).length]),
  ) as Record<OpKind, number>;
  const bytes = ok.reduce((sum, record) => sum + record.bytes, 0);
  const writeBytes = ok
    .filter((record) => record.kind === "upload" || record.kind === "update")
    .reduce((sum, record) => sum + record.bytes, 0);
  const gap = longestGap(records);
  const mibPerS = bytes / MIB / seconds;
  const writeMibPerS = writeBytes / MIB / seconds;
  const violations: Partial<Record<ViolationKind, number>> = {};
  for (const violation of input.violations) {
    violations[violation.kind] = (violations[violation.kind] ?? 0) + 1;
  }
  return {
    clients: input.options.clients,
    durationS: seconds,
    churnEvents: input.churn.filter((record) => record.node !== null).length,
    opsTotal: ok.length,
    opsPerS: ok.length / seconds,
    opsByKind,
    mibPerS,
    writeMibPerS,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    errors: records.length - ok.length,
    retries: input.load.retryTimesMs.length,
    longestGapMs: gap.gapMs,
    longestGapAtS: gap.atMs / MS_PER_S,
    acknowledgedWrites: input.verify.checked,
    readBackExact: input.verify.exact,
    lost: input.verify.lost,
    corrupted: input.verify.corrupted,
    conflictingAcks: violations["split-brain"] ?? 0,
    violations,
    listMissing: input.load.listMissing,
    serverCpuSeconds: input.serverCpuSeconds,
    serverCpuMsPerOp: (input.serverCpuSeconds * MS_PER_S) / Math.max(1, ok.length),
    loadCpuSeconds: input.loadCpuSeconds,
    loadCpuShareOfOneCore: input.loadCpuSeconds / seconds,
    loopLagMsMax: input.loopLagMsMax,
    limits: input.limits,
    writeTimesReplicasOverDiskFsync:
      input.limits === null ? null : (writeMibPerS * REPLICAS) / input.limits.diskWriteFsyncMiBps,
    mibPerSOverLoopback: input.limits === null ? null : mibPerS / input.limits.loopbackTcpMiBps,
    recoveries: input.recoveries,
    samples: [
      ...input.load.errorSamples,
      ...input.verify.samples,
      ...input.violations
        .slice(0, VIOLATION_SAMPLES_MAX)
        .map((violation) => `${violation.kind}: ${violation.detail}`),
    ],
  };
}

/** Violations shown in the summary's samples; every one is counted by kind. */
const VIOLATION_SAMPLES_MAX = 5;

function violationsText(summary: Summary): string {
  const parts = Object.entries(summary.violations).map(([kind, count]) => `${kind} ${count}`);
  return parts.length === 0 ? "0" : parts.join(", ");
}

/** "1 of 1 (2.4 s)": how many storage returns saw their group whole again, and the slowest. */
function recoveriesText(recoveries: readonly Recovery[]): string {
  if (recoveries.length === 0) return "- (no storage node came back)";
  const times = recoveries.flatMap((recovery) =>
    recovery.wholeAfterS === null ? [] : [recovery.wholeAfterS],
  );
  const slowest = times.length === 0 ? "" : ` (${Math.max(...times).toFixed(1)} s)`;
  return `${times.length} of ${recoveries.length}${slowest}`;
}

const fixed = (value: number | null, digits = 1): string =>
  value === null ? "-" : value.toFixed(digits);

export function formatSummary(summary: Summary): string {
  const kinds = OP_KINDS.map((kind) => `${kind} ${summary.opsByKind[kind]}`).join(", ");
  const rows: Array<[string, string, string]> = [
    [
      "clients / seconds / churn events",
      `${summary.clients} / ${fixed(summary.durationS)} / ${summary.churnEvents}`,
      "100 / - / 1 kill",
    ],
    ["operations completed", `${summary.opsTotal} (${kinds})`, ""],
    ["operations/s (mixed sizes)", fixed(summary.opsPerS), PEER.opsPerS],
    [
      "MiB/s moved (of which written)",
      `${fixed(summary.mibPerS)} (${fixed(summary.writeMibPerS)})`,
      "",
    ],
    [
      "latency p50 / p95 / p99 ms",
      `${fixed(summary.p50Ms, 0)} / ${fixed(summary.p95Ms, 0)} / ${fixed(summary.p99Ms, 0)}`,
      "",
    ],
    [
      "errors (client gave up) / retries",
      `${summary.errors} / ${summary.retries}`,
      `${PEER.errors} / -`,
    ],
    [
      "longest gap between completions",
      `${fixed(summary.longestGapMs / MS_PER_S, 2)} s at ${fixed(summary.longestGapAtS)} s`,
      PEER.longestGap,
    ],
    [
      "acknowledged writes read back exact",
      `${summary.readBackExact} of ${summary.acknowledgedWrites}`,
      "all",
    ],
    [
      "lost / corrupted / conflicting acks",
      `${summary.lost} / ${summary.corrupted} / ${summary.conflictingAcks}`,
      `${PEER.lost} / 0 / -`,
    ],
    ["history violations (reads, listings, acknowledgements)", violationsText(summary), "0"],
    ["listings missing an acked name", String(summary.listMissing), ""],
    [
      "server CPU s (all FTFS processes) / ms per op",
      `${fixed(summary.serverCpuSeconds)} / ${fixed(summary.serverCpuMsPerOp)}`,
      PEER.cpuPerOp,
    ],
    ["storage returns whole again (slowest)", recoveriesText(summary.recoveries), ""],
    [
      "load process CPU (share of one core) / max loop lag",
      `${fixed(summary.loadCpuShareOfOneCore * 100, 0)}% / ${fixed(summary.loopLagMsMax, 0)} ms`,
      "",
    ],
  ];
  if (summary.limits !== null) {
    rows.push([
      "disk write+fsync / loopback TCP MiB/s",
      `${fixed(summary.limits.diskWriteFsyncMiBps, 0)} / ${fixed(summary.limits.loopbackTcpMiBps, 0)}`,
      "0.7-2.9 GiB/s / ~4 GiB/s",
    ]);
    rows.push([
      "written MiB/s × 3 replicas ÷ disk",
      fixed(summary.writeTimesReplicasOverDiskFsync, 3),
      "",
    ]);
    rows.push(["MiB/s moved ÷ loopback TCP", fixed(summary.mibPerSOverLoopback, 4), ""]);
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  const header = `${"".padEnd(width)}  ${"FTFS (this run)".padEnd(valueWidth)}  Swift (recorded, peers/README.md)`;
  const lines = rows.map(
    ([label, value, peer]) => `${label.padEnd(width)}  ${value.padEnd(valueWidth)}  ${peer}`,
  );
  const recoveries = formatRecoveries(summary.recoveries);
  const samples =
    summary.samples.length === 0
      ? []
      : ["", "samples:", ...summary.samples.map((sample) => `  ${sample}`)];
  return [
    header,
    ...lines,
    ...(recoveries.length === 0 ? [] : ["", ...recoveries]),
    ...samples,
  ].join("\n");
}
