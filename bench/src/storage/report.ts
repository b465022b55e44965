/**
 * The printed table of `bench:storage`: FTFS layouts and Swift side by side, ratios FTFS/Swift,
 * then the issue's aims as met or not met with the figures that decide them. Pure formatting
 * of results already measured; it measures nothing and starts nothing.
 */

import { median, type MachineLimits } from "../machine/limits.ts";
import { cellKey, type Cell, type CellResult, type KillResult } from "./ftfs.ts";
import type { SwiftCell, SwiftFigures, SwiftKill } from "./swift.ts";

const KIB = 1024;
const MIB = 1024 * 1024;
const LABEL_COLUMNS = 44;
const VALUE_COLUMNS = 20;
const RATIO_COLUMNS = 16;
const VERDICT_COLUMNS = 8;
/** The kill table's FTFS cells hold a median and a maximum. */
const KILL_VALUE_COLUMNS = 30;
/** The issue's aims, each a ratio or a bound. */
const AIM_SMALL_RATE_RATIO = 10;
const AIM_SMALL_P99_RATIO_MAX = 0.1;
const AIM_LARGE_RATE_RATIO = 3;
/** Issue 17: 4 MiB PUT at 100 clients at least this share of the disk-write limit ÷ replicas. */
const AIM_DISK_SHARE = 0.9;
/** Issue 17: a 64 KiB PUT costs the servers at most this much CPU. */
const AIM_SMALL_PUT_SERVER_CPU_MS_MAX = 1;
/** Issue 17: secure (cluster key, MACed frames) at least this share of insecure, every cell. */
const AIM_SECURE_SHARE = 0.9;
const AIM_KILL_ERRORS_MAX = 0;
const AIM_KILL_GAP_MS_MAX = 500;

export interface FtfsColumn {
  readonly label: string;
  readonly cells: ReadonlyMap<string, readonly CellResult[]>;
  readonly secure: boolean;
  /** A secure column measured beside an insecure twin: the twin's label (--secure-pair). */
  readonly pairedWith: string | null;
}

export interface Report {
  readonly command: string;
  readonly header: readonly string[];
  readonly cells: readonly Cell[];
  readonly ftfs: readonly FtfsColumn[];
  readonly swift: SwiftFigures;
  readonly swiftNote: string;
  readonly limits: MachineLimits | null;
  readonly replicas: number;
  readonly kill: readonly KillResult[];
  readonly killShape: string;
  readonly swiftKillShape: string;
  /** Rejections of the client library's promises that nothing handled (see storage.ts). */
  readonly unhandledRejections: { readonly count: number; readonly samples: readonly string[] };
}

type Num = number | null | undefined;

function fmt(value: Num, digits = 0): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? "-"
    : value.toFixed(digits);
}

function ratio(a: Num, b: Num): string {
  if (a === null || a === undefined || b === null || b === undefined) return "-";
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "-";
  return `${(a / b).toFixed(2)}×`;
}

function row(
  label: string,
  values: readonly string[],
  ratios: readonly string[],
  width = VALUE_COLUMNS,
): string {
  const cells = values.map((value) => value.padEnd(width)).join("");
  const ratioCells = ratios.map((value) => value.padEnd(RATIO_COLUMNS)).join("");
  return `${label.padEnd(LABEL_COLUMNS)}${cells}${ratioCells}`.trimEnd();
}

function medianOf<T>(list: readonly T[] | undefined, pick: (item: T) => number): number {
  return list === undefined || list.length === 0 ? Number.NaN : median(list.map(pick));
}

function sizeLabel(bytes: number): string {
  return bytes >= MIB ? `${bytes / MIB} MiB` : `${bytes / KIB} KiB`;
}

interface Metric {
  readonly label: string;
  readonly ftfs: (r: CellResult) => number;
  readonly swift: (s: SwiftCell) => number;
  readonly digits: number;
}

function cellMetrics(cell: Cell): Metric[] {
  const large = cell.sizeBytes >= MIB;
  const metrics: Metric[] = [];
  for (const side of ["put", "get"] as const) {
    const up = side.toUpperCase();
    const sw = (put: keyof SwiftCell, get: keyof SwiftCell) => (s: SwiftCell) =>
      s[side === "put" ? put : get];
    metrics.push(
      large
        ? {
            label: `${up} MiB/s`,
            ftfs: (r) => r[side].mibPerS,
            swift: sw("putMiBps", "getMiBps"),
            digits: 0,
          }
        : {
            label: `${up} ops/s`,
            ftfs: (r) => r[side].opsPerS,
            swift: sw("putOpsPerS", "getOpsPerS"),
            digits: 0,
          },
      {
        label: `${up} p50 ms`,
        ftfs: (r) => r[side].p50Ms,
        swift: sw("putP50Ms", "getP50Ms"),
        digits: 1,
      },
      {
        label: `${up} p99 ms`,
        ftfs: (r) => r[side].p99Ms,
        swift: sw("putP99Ms", "getP99Ms"),
        digits: 1,
      },
      {
        label: `${up} errors`,
        ftfs: (r) => r[side].errors,
        swift: sw("putErrors", "getErrors"),
        digits: 0,
      },
      {
        label: `${up} server CPU ms/op`,
        ftfs: (r) => (side === "put" ? r.putCpuMsPerOp : r.getCpuMsPerOp),
        swift: sw("putCpuMsPerOp", "getCpuMsPerOp"),
        digits: 2,
      },
      {
        label: `${up} load-generator CPU ms/op`,
        ftfs: (r) => (side === "put" ? r.putClientCpuMsPerOp : r.getClientCpuMsPerOp),
        swift: sw("putClientCpuMsPerOp", "getClientCpuMsPerOp"),
        digits: 2,
      },
    );
  }
  return metrics;
}

function printMatrix(report: Report): void {
  const swiftLabel = `Swift (${report.swift.source})`;
  const ratioLabels = report.ftfs.map((column) => `${column.label}/Swift`);
  console.log(row("measure", [...report.ftfs.map((c) => c.label), swiftLabel], ratioLabels));
  for (const cell of report.cells) {
    const key = cellKey(cell);
    if (!report.ftfs.some((column) => column.cells.has(key))) continue;
    console.log(
      `-- ${sizeLabel(cell.sizeBytes)} objects, ${cell.loops} client${cell.loops === 1 ? "" : "s"}`,
    );
    const swiftCell = report.swift.cells.get(key);
    for (const metric of cellMetrics(cell)) {
      const ftfsValues = report.ftfs.map((column) => medianOf(column.cells.get(key), metric.ftfs));
      const swiftValue = swiftCell === undefined ? Number.NaN : metric.swift(swiftCell);
      console.log(
        row(
          `   ${metric.label}`,
          [...ftfsValues.map((value) => fmt(value, metric.digits)), fmt(swiftValue, metric.digits)],
          ftfsValues.map((value) => ratio(value, swiftValue)),
        ),
      );
    }
  }
}

function killCell(
  list: readonly KillResult[],
  pick: (k: KillResult) => number | null,
  digits: number,
): string {
  const values = list
    .map(pick)
    .filter((value): value is number => value !== null && Number.isFinite(value));
  if (values.length === 0) return list.length === 0 ? "-" : "never";
  const med = median(values);
  const max = Math.max(...values);
  const missing = list.length - values.length;
  return `${fmt(med, digits)} (max ${fmt(max, digits)})${missing > 0 ? ` ${missing} never` : ""}`;
}

function killLines(
  kills: readonly KillResult[],
  swift: SwiftKill | null,
): Array<[string, string, string]> {
  const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
  const swiftS = (ms: number | undefined, digits: number) => fmt((ms ?? Number.NaN) / 1000, digits);
  const catchUpMiB = (k: KillResult) => (k.catchUp === null ? null : k.catchUp.bytesCopied / MIB);
  const okSum = kills.reduce((sum, k) => sum + k.verifiedOk, 0);
  const ackedSum = kills.reduce((sum, k) => sum + k.acked, 0);
  const readBack = kills.length === 0 ? "" : `${okSum}/${ackedSum} (all runs)`;
  return [
    ["client-visible errors", killCell(kills, (k) => k.errors, 0), fmt(swift?.errors)],
    [
      "longest gap between completions, s",
      killCell(kills, (k) => k.longestGapMs / 1000, 2),
      swiftS(swift?.longestGapMs, 2),
    ],
    [
      "gap began at, s into the phase",
      killCell(kills, (k) => k.longestGapAtMs / 1000, 1),
      swiftS(swift?.longestGapAtMs, 1),
    ],
    [
      "ops/s before the kill",
      killCell(kills, (k) => k.opsPerSBefore, 0),
      fmt(swift?.opsPerSBefore),
    ],
    [
      "ops/s between kill and restart",
      killCell(kills, (k) => k.opsPerSDuring, 0),
      fmt(swift?.opsPerSDuring),
    ],
    [
      "ops/s after the restart",
      killCell(kills, (k) => k.opsPerSAfter, 0),
      fmt(swift?.opsPerSAfter),
    ],
    [
      "kill → directory names a new primary, s",
      killCell(kills, (k) => seconds(k.failoverMs), 2),
      "n/a (no primary)",
    ],
    ["restart → listed as learner, s", killCell(kills, (k) => seconds(k.learnerAfterMs), 2), "n/a"],
    [
      "restart → back in the in-sync set, s",
      killCell(kills, (k) => seconds(k.inSyncAfterMs), 2),
      "n/a (no replicator running)",
    ],
    [
      "restart → learner (node's log), s",
      killCell(kills, (k) => seconds(k.catchUp?.learnerSeenAfterMs ?? null), 2),
      "-",
    ],
    [
      "restart → copy begun (log), s",
      killCell(kills, (k) => seconds(k.catchUp?.begunAfterMs ?? null), 2),
      "-",
    ],
    [
      "restart → caught up (log), s",
      killCell(kills, (k) => seconds(k.catchUp?.caughtUpAfterMs ?? null), 2),
      "-",
    ],
    ["catch-up: MiB copied", killCell(kills, catchUpMiB, 1), "-"],
    ["catch-up: MiB/s (bytesCopied ÷ tookMs)", killCell(kills, catchUpMiBps, 1), "-"],
    [
      "acknowledged PUTs read back exactly",
      readBack === "" ? "-" : readBack,
      swift === null ? "-" : `${fmt(swift.verifiedOk)}/${fmt(swift.acked)}`,
    ],
  ];
}

function printKill(report: Report): void {
  const kills = report.kill;
  const swift = report.swift.kill;
  const source = report.swift.source;
  console.log("");
  console.log(`-- kill -9 under load. FTFS: ${report.killShape}`);
  console.log(`   Swift (${source}): ${report.swiftKillShape}`);
  const heads = [`FTFS median (max), n=${kills.length}`, `Swift (${source})`];
  console.log(row("measure", heads, [], KILL_VALUE_COLUMNS));
  for (const [label, ftfs, other] of killLines(kills, swift)) {
    console.log(row(`   ${label}`, [ftfs, other], [], KILL_VALUE_COLUMNS));
  }
  if (swift !== null) {
    console.log(`   Swift replicas right after its run: ${swift.replicasLine}`);
    for (const sample of swift.errorSamples) console.log(`   Swift error: ${sample}`);
  }
  const killedNodes = kills.map((k) => `${k.killedNode}→${k.newPrimaryNode ?? "?"}`).join(", ");
  console.log(`   FTFS primaries killed → new primary: ${killedNodes}`);
  for (const k of kills) {
    for (const sample of [...k.errorSamples, ...k.verifySamples]) {
      console.log(`   FTFS error: ${sample}`);
    }
  }
}

function catchUpMiBps(k: KillResult): number | null {
  if (k.catchUp === null || k.catchUp.tookMs <= 0) return null;
  return k.catchUp.bytesCopied / MIB / (k.catchUp.tookMs / 1000);
}

function verdict(met: boolean | null): string {
  return met === null ? "n/a" : met ? "MET" : "NOT MET";
}

interface RateAim {
  readonly label: string;
  readonly cell: Cell;
  readonly ftfs: (r: CellResult) => number;
  readonly swift: (c: SwiftCell) => number;
  readonly unit: string;
  readonly met: (ftfsOverSwift: number) => boolean;
}

const SMALL_MANY: Cell = { sizeBytes: 64 * KIB, loops: 100 };
const LARGE_MANY: Cell = { sizeBytes: 4 * MIB, loops: 100 };
const LARGE_ONE: Cell = { sizeBytes: 4 * MIB, loops: 1 };
const atLeast = (bound: number) => (q: number) => q >= bound;
const RATE_AIMS: readonly RateAim[] = [
  rateAim("64 KiB PUT rate ≥ 10× Swift", SMALL_MANY, "put", "ops/s"),
  rateAim("64 KiB GET rate ≥ 10× Swift", SMALL_MANY, "get", "ops/s"),
  rateAim("64 KiB PUT p99 ≤ Swift's ÷ 10", SMALL_MANY, "put", "p99"),
  rateAim("64 KiB GET p99 ≤ Swift's ÷ 10", SMALL_MANY, "get", "p99"),
  rateAim("4 MiB PUT, 100 clients ≥ 3× Swift", LARGE_MANY, "put", "MiB/s"),
  rateAim("4 MiB GET, 100 clients ≥ 3× Swift", LARGE_MANY, "get", "MiB/s"),
  rateAim("4 MiB PUT, 1 client ≥ 3× Swift", LARGE_ONE, "put", "MiB/s"),
  rateAim("4 MiB GET, 1 client ≥ 3× Swift", LARGE_ONE, "get", "MiB/s"),
];

type AimUnit = "ops/s" | "p99" | "MiB/s";

function rateAim(label: string, cell: Cell, side: "put" | "get", unit: AimUnit): RateAim {
  const put = side === "put";
  if (unit === "p99") {
    return {
      label,
      cell,
      unit: "ms",
      ftfs: (r) => r[side].p99Ms,
      swift: (c) => (put ? c.putP99Ms : c.getP99Ms),
      met: (q) => q <= AIM_SMALL_P99_RATIO_MAX,
    };
  }
  if (unit === "ops/s") {
    return {
      label,
      cell,
      unit,
      ftfs: (r) => r[side].opsPerS,
      swift: (c) => (put ? c.putOpsPerS : c.getOpsPerS),
      met: atLeast(AIM_SMALL_RATE_RATIO),
    };
  }
  return {
    label,
    cell,
    unit,
    ftfs: (r) => r[side].mibPerS,
    swift: (c) => (put ? c.putMiBps : c.getMiBps),
    met: atLeast(AIM_LARGE_RATE_RATIO),
  };
}

function checkRatio(a: number, b: number, met: (q: number) => boolean): boolean | null {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? met(a / b) : null;
}

function printAims(report: Report): void {
  const first = report.ftfs[0];
  if (first === undefined) return;
  console.log("");
  console.log(`aims (issue), judged on ${first.label} vs Swift (${report.swift.source}):`);
  for (const aim of RATE_AIMS) {
    const a = medianOf(first.cells.get(cellKey(aim.cell)), aim.ftfs);
    const swiftCell = report.swift.cells.get(cellKey(aim.cell));
    const b = swiftCell === undefined ? Number.NaN : aim.swift(swiftCell);
    const figures = `${fmt(a, 1)} vs ${fmt(b, 1)} ${aim.unit} = ${ratio(a, b)}`;
    console.log(
      `  ${verdict(checkRatio(a, b, aim.met)).padEnd(VERDICT_COLUMNS)}${aim.label}: ${figures}`,
    );
  }
  if (report.limits !== null) {
    const ceiling = report.limits.diskChunkFilesFsyncMiBps / report.replicas;
    const put = medianOf(first.cells.get(cellKey(LARGE_MANY)), (r) => r.put.mibPerS);
    const met = verdict(checkRatio(put, ceiling, atLeast(AIM_DISK_SHARE)));
    console.log(
      `  ${met.padEnd(VERDICT_COLUMNS)}4 MiB PUT ≥ ${100 * AIM_DISK_SHARE}% of disk-write limit ` +
        `÷ ${report.replicas}: ` +
        `${fmt(put, 1)} ÷ ${fmt(ceiling, 1)} MiB/s = ${fmt((100 * put) / ceiling, 0)}%`,
    );
  }
  printReadAims(first, report.swift);
  const smallPutCpu = medianOf(first.cells.get(cellKey(SMALL_MANY)), (r) => r.putCpuMsPerOp);
  const cpuMet = Number.isFinite(smallPutCpu)
    ? smallPutCpu <= AIM_SMALL_PUT_SERVER_CPU_MS_MAX
    : null;
  console.log(
    `  ${verdict(cpuMet).padEnd(VERDICT_COLUMNS)}64 KiB PUT server CPU ≤ ` +
      `${AIM_SMALL_PUT_SERVER_CPU_MS_MAX} ms/op: ${fmt(smallPutCpu, 2)} ms ` +
      `(Swift ${fmt(report.swift.cells.get(cellKey(SMALL_MANY))?.putCpuMsPerOp, 2)} ms)`,
  );
  printSecureAim(report.ftfs);
  const killed = report.kill.length > 0;
  const maxErrors = Math.max(...report.kill.map((k) => k.errors));
  const maxGapMs = Math.max(...report.kill.map((k) => k.longestGapMs));
  const errorsMet = verdict(killed ? maxErrors <= AIM_KILL_ERRORS_MAX : null);
  const gapMet = verdict(killed ? maxGapMs <= AIM_KILL_GAP_MS_MAX : null);
  console.log(
    `  ${errorsMet.padEnd(VERDICT_COLUMNS)}primary kill: 0 client-visible errors ` +
      `(worst run ${fmt(maxErrors)})`,
  );
  console.log(
    `  ${gapMet.padEnd(VERDICT_COLUMNS)}primary kill: no completion gap > 0.5 s ` +
      `(worst run ${fmt(maxGapMs / 1000, 2)} s)`,
  );
  const acked = report.kill.reduce((sum, k) => sum + k.acked, 0);
  const readBack = report.kill.reduce((sum, k) => sum + k.verifiedOk, 0);
  console.log(
    `  ${verdict(killed ? readBack === acked : null).padEnd(VERDICT_COLUMNS)}primary kill: ` +
      `every acknowledged PUT read back exactly (${readBack}/${acked})`,
  );
}

/** Issue 17's 4 MiB GET aims beyond the rate: never below one client's rate, p99 ≤ Swift's. */
function printReadAims(first: FtfsColumn, swift: SwiftFigures): void {
  const many = medianOf(first.cells.get(cellKey(LARGE_MANY)), (r) => r.get.mibPerS);
  const one = medianOf(first.cells.get(cellKey(LARGE_ONE)), (r) => r.get.mibPerS);
  const floorMet = Number.isFinite(many) && Number.isFinite(one) ? many >= one : null;
  console.log(
    `  ${verdict(floorMet).padEnd(VERDICT_COLUMNS)}4 MiB GET, 100 clients ≥ the 1-client rate: ` +
      `${fmt(many, 1)} vs ${fmt(one, 1)} MiB/s (Swift ` +
      `${fmt(swift.cells.get(cellKey(LARGE_MANY))?.getMiBps, 1)} vs ` +
      `${fmt(swift.cells.get(cellKey(LARGE_ONE))?.getMiBps, 1)})`,
  );
  const p99 = medianOf(first.cells.get(cellKey(LARGE_MANY)), (r) => r.get.p99Ms);
  const swiftP99 = swift.cells.get(cellKey(LARGE_MANY))?.getP99Ms ?? Number.NaN;
  console.log(
    `  ${verdict(checkRatio(p99, swiftP99, (q) => q <= 1)).padEnd(VERDICT_COLUMNS)}` +
      `4 MiB GET, 100 clients p99 ≤ Swift's: ${fmt(p99, 0)} vs ${fmt(swiftP99, 0)} ms = ` +
      `${ratio(p99, swiftP99)}`,
  );
}

/** A cell's rate (ops/s for small objects, MiB/s for large ones) on one side. */
function rateOf(cell: Cell, side: "put" | "get"): (r: CellResult) => number {
  return cell.sizeBytes >= MIB ? (r) => r[side].mibPerS : (r) => r[side].opsPerS;
}

interface SecureRow {
  readonly label: string;
  readonly insecure: number;
  readonly secure: number;
  readonly judged: boolean;
}

function secureRows(insecure: FtfsColumn, secure: FtfsColumn, cells: readonly Cell[]): SecureRow[] {
  const rows: SecureRow[] = [];
  for (const cell of cells) {
    const key = cellKey(cell);
    if (!insecure.cells.has(key) || !secure.cells.has(key)) continue;
    const name = `${sizeLabel(cell.sizeBytes)} × ${cell.loops}`;
    for (const side of ["put", "get"] as const) {
      const up = side.toUpperCase();
      const unit = cell.sizeBytes >= MIB ? "MiB/s" : "ops/s";
      const metrics: Array<[string, (r: CellResult) => number, boolean]> = [
        [`${up} ${unit}`, rateOf(cell, side), true],
        [`${up} p99 ms`, (r) => r[side].p99Ms, false],
        [
          `${up} server CPU ms/op`,
          (r) => (side === "put" ? r.putCpuMsPerOp : r.getCpuMsPerOp),
          false,
        ],
        [
          `${up} load CPU ms/op`,
          (r) => (side === "put" ? r.putClientCpuMsPerOp : r.getClientCpuMsPerOp),
          false,
        ],
      ];
      for (const [metric, pick, judged] of metrics) {
        rows.push({
          label: `${name} ${metric}`,
          insecure: medianOf(insecure.cells.get(key), pick),
          secure: medianOf(secure.cells.get(key), pick),
          judged,
        });
      }
    }
  }
  return rows;
}

/** The secure columns beside their insecure twins (--secure-pair), metric by metric. */
function printSecurePairs(report: Report): void {
  for (const secure of report.ftfs) {
    const insecure = report.ftfs.find((column) => column.label === secure.pairedWith);
    if (insecure === undefined) continue;
    console.log("");
    console.log(`-- secure ÷ insecure, same run, repeats taking turns: ${secure.label}`);
    console.log(row("measure", [insecure.label, secure.label], ["secure/insecure"]));
    for (const line of secureRows(insecure, secure, report.cells)) {
      const digits = line.label.includes("CPU") ? 2 : 0;
      console.log(
        row(
          `   ${line.label}`,
          [fmt(line.insecure, digits), fmt(line.secure, digits)],
          [ratio(line.secure, line.insecure)],
        ),
      );
    }
  }
}

/** Issue 17: secure within 10% of insecure on every cell's rates (needs --secure-pair). */
function printSecureAim(columns: readonly FtfsColumn[]): void {
  const pairs = columns.flatMap((secure) => {
    const insecure = columns.find((column) => column.label === secure.pairedWith);
    return insecure === undefined ? [] : [{ insecure, secure }];
  });
  if (pairs.length === 0) {
    console.log(
      `  ${verdict(null).padEnd(VERDICT_COLUMNS)}secure within 10% of insecure on every cell ` +
        "(run with --secure-pair to measure it)",
    );
    return;
  }
  for (const { insecure, secure } of pairs) {
    const cells = [...insecure.cells.keys()].map((key) => {
      const [size, loops] = key.split("x").map(Number);
      return { sizeBytes: size ?? 0, loops: loops ?? 0 };
    });
    const judged = secureRows(insecure, secure, cells).filter((line) => line.judged);
    const shares = judged.map((line) => ({ line, share: line.secure / line.insecure }));
    const finite = shares.filter(({ share }) => Number.isFinite(share));
    const worst = finite.reduce<(typeof finite)[number] | null>(
      (low, next) => (low === null || next.share < low.share ? next : low),
      null,
    );
    const met = worst === null ? null : worst.share >= AIM_SECURE_SHARE;
    const worstText =
      worst === null ? "-" : `worst ${worst.line.label} ${fmt(100 * worst.share, 0)}%`;
    console.log(
      `  ${verdict(met).padEnd(VERDICT_COLUMNS)}secure ≥ ${100 * AIM_SECURE_SHARE}% of ` +
        `insecure on every cell's rate (${secure.label}): ${worstText}`,
    );
  }
}

export function printReport(report: Report): void {
  console.log("");
  console.log(`$ ${report.command}`);
  for (const line of report.header) console.log(line);
  if (report.limits !== null) {
    const l = report.limits;
    console.log(
      "machine (same run, median): " +
        `disk write+fsync one file ${fmt(l.diskWriteFsyncMiBps)} MiB/s, ` +
        `4 MiB files each fsynced ${fmt(l.diskChunkFilesFsyncMiBps)} MiB/s, ` +
        `read ${fmt(l.diskReadMiBps)} MiB/s, ${fmt(l.fsyncsPerSecond)} fsyncs/s, ` +
        `loopback TCP ${fmt(l.loopbackTcpMiBps)} MiB/s`,
    );
    const ceiling = l.diskChunkFilesFsyncMiBps / report.replicas;
    for (const column of report.ftfs) {
      const put = medianOf(
        column.cells.get(cellKey({ sizeBytes: 4 * MIB, loops: 100 })),
        (r) => r.put.mibPerS,
      );
      console.log(
        `${column.label}: 4 MiB PUT (100 clients) ÷ (disk write limit ÷ ${report.replicas}) = ` +
          `${fmt(put, 1)} ÷ ${fmt(ceiling, 1)} = ${ratio(put, ceiling)} ` +
          `(vs one-file limit ÷ ${report.replicas}: ` +
          `${ratio(put, l.diskWriteFsyncMiBps / report.replicas)})`,
      );
    }
  }
  console.log(`Swift: ${report.swiftNote}`);
  console.log("");
  printMatrix(report);
  printSecurePairs(report);
  printKill(report);
  printAims(report);
  for (const column of report.ftfs) {
    const samples = [...column.cells.values()].flat().flatMap((r) => r.errorSamples);
    for (const sample of samples.slice(0, 5)) console.log(`${column.label} error: ${sample}`);
  }
  for (const sample of report.swift.errorSamples) console.log(`Swift matrix error: ${sample}`);
  const unhandled = report.unhandledRejections;
  if (unhandled.count > 0) {
    console.log(
      `FTFS client: ${unhandled.count} unhandled promise rejection(s) in the load process:`,
    );
    for (const sample of unhandled.samples) console.log(`  ${sample}`);
  }
}

export type { SwiftKill };
