/**
 * One chaos schedule end to end: a fresh cluster in namespaces, the clients, the seeded faults
 * one after another, then heal, convergence, a wait for garbage collection to pass over
 * everything, the final read-back of every acknowledged version, the checker, and the disk
 * check (disk-check.ts). The cluster and its network are always removed; the data folder
 * (logs, history.jsonl) is kept when something was wrong.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FtfsError } from "@ftfs/protocol/core";
import { tmpdir } from "node:os";
import { ChaosUsers, type ChaosClient } from "./client.ts";
import {
  checkHistory,
  historySlice,
  keptVersions,
  type FinalRead,
  type Violation,
} from "@ftfs/protocol/testing/history";
import { clockJumpUnavailableReason } from "./clock.ts";
import { SMALL_DISK_NODE, startChaosCluster, type ChaosCluster } from "./cluster.ts";
import { waitConverged } from "./converge.ts";
import { checkDiskUse, gcFigures, spareFigures, waitForGcPasses } from "./disk-check.ts";
import {
  CHAOS_GC_GRACE_MS,
  CHAOS_KEEP_VERSIONS,
  CHAOS_UPLOAD_DEADLINE_MS,
  GC_PASSES_AFTER_LOAD,
} from "./gc-timing.ts";
import { isWrite, OpLog, type OpStatus } from "@ftfs/protocol/testing/history";
import { startFault, type ActiveFault, type NemesisContext } from "./nemesis.ts";
import { CHAOS_ROOT_PREFIX } from "./net.ts";
import { describeFault, makeSchedule, type Fault, type FaultKind } from "./schedule.ts";
import { describeGap, groupGaps, type GroupGap, type IsolatedPrimary } from "./group-gap.ts";
import { Workload } from "./workload.ts";

/** After the last heal the cluster must be whole again within this long. */
export const CONVERGE_TIMEOUT_MS = 60_000;
/** GC_PASSES_AFTER_LOAD passes take ~5 s at a 2 s grace; a loaded node gets this long. */
const GC_WAIT_TIMEOUT_MS = 60_000;
const FINAL_READ_CONCURRENCY = 8;

export interface ScheduleOptions {
  readonly seed: number;
  readonly durationS: number;
  readonly kinds: readonly FaultKind[];
  readonly clients: number;
  /** Nodes without a cluster key, clients without logins (`--insecure`); default: secure. */
  readonly insecure?: boolean;
  /** Keep the data folder (logs, history.jsonl) even when nothing was wrong (`--keep`). */
  readonly keep?: boolean;
  /** Told of each event as it happens (faults, phases). */
  readonly say: (line: string) => void;
}

export interface ScheduleResult {
  readonly seed: number;
  readonly ops: number;
  readonly byStatus: Readonly<Record<OpStatus, number>>;
  /** Ops per kind (upload, update, read, list, delete). */
  readonly byKind: Readonly<Record<string, number>>;
  readonly faults: readonly string[];
  readonly violations: readonly Violation[];
  /** The violations with their history slices, ready to print. */
  readonly report: readonly string[];
  /** What GC did and what the disks hold after it (see disk-check.ts). */
  readonly figures: readonly string[];
  /** Per isolated storage primary: its group's longest wait for a completed op (group-gap.ts). */
  readonly groupGaps: readonly GroupGap[];
  readonly replay: string;
  readonly dataRoot: string | null;
  readonly elapsedMs: number;
}

export function replayCommand(
  options: Pick<ScheduleOptions, "seed" | "durationS" | "kinds" | "clients" | "insecure">,
): string {
  return (
    `bun run chaos --seed ${options.seed} --schedules 1 --schedule-seconds ${options.durationS} ` +
    `--kinds ${options.kinds.join(",")} --clients ${options.clients}${options.insecure === true ? " --insecure" : ""}`
  );
}

function errorText(error: unknown): string {
  if (error instanceof FtfsError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

async function finalReads(
  users: ChaosUsers,
  log: OpLog,
  files: Array<{ uid: string; name: string }>,
): Promise<FinalRead[]> {
  const acknowledged = log.ops.flatMap((op) =>
    op.status === "ok" && op.version !== null && op.name !== null && isWrite(op)
      ? [{ uid: op.uid, name: op.name, asked: op.version }]
      : [],
  );
  const wanted: Array<{ uid: string; name: string; asked: number | null }> = [
    ...files.map((f) => ({ ...f, asked: null })),
    ...acknowledged,
  ];
  // One login per user: a user reads only its own files.
  const clients = new Map<string, Promise<ChaosClient>>();
  const clientOf = (uid: string): Promise<ChaosClient> => {
    let client = clients.get(uid);
    if (client === undefined) {
      client = users.client(uid);
      clients.set(uid, client);
    }
    return client;
  };
  const out: FinalRead[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < wanted.length; index = next++) {
      const item = wanted[index];
      if (item === undefined) continue;
      try {
        const { client } = await clientOf(item.uid);
        const hasher = new Bun.CryptoHasher("sha256");
        const result = await client.read(
          item.uid,
          item.name,
          (chunk) => void hasher.update(chunk),
          item.asked ?? undefined,
        );
        const sha256 = hasher.digest("hex");
        out.push({ ...item, version: result.version, sha256, absent: false, error: null });
      } catch (error) {
        const absent = error instanceof FtfsError && error.code === "NOT_FOUND";
        out.push({ ...item, version: null, sha256: null, absent, error: errorText(error) });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: FINAL_READ_CONCURRENCY }, worker));
  } finally {
    const settled = await Promise.allSettled(clients.values());
    for (const entry of settled) if (entry.status === "fulfilled") entry.value.close();
  }
  return out;
}

/** The group whose primary `fault` cuts off from its peers, or null for any other fault. */
function isolatedPrimaryGroup(fault: Fault): string | null {
  const [role, group] = fault.target.split(":");
  return fault.kind === "isolate" && role === "storage-primary" ? (group ?? null) : null;
}

/**
 * The faults, one at a time at their scheduled times; answers each one's label (and heal note).
 * Isolated storage primaries are noted in `isolations`, with their times on the history's clock.
 */
async function runFaults(
  context: NemesisContext,
  options: ScheduleOptions,
  t0: number,
  active: { fault: ActiveFault | null },
  isolations: IsolatedPrimary[],
): Promise<string[]> {
  const log = context.workload.history;
  const faults: string[] = [];
  const schedule = makeSchedule(options.seed, options.durationS, options.kinds, SMALL_DISK_NODE);
  for (const fault of schedule) {
    const waitMs = fault.atS * 1000 - (performance.now() - t0);
    if (waitMs > 0) await Bun.sleep(waitMs);
    const started = await startFault(context, fault);
    const fromMs = log.nowMs();
    active.fault = started;
    options.say(`  ${describeFault(fault)} -> ${started.label}`);
    await Bun.sleep(fault.durationS * 1000);
    const note = await started.heal();
    active.fault = null;
    const group = isolatedPrimaryGroup(fault);
    if (group !== null) isolations.push({ label: started.label, group, fromMs, toMs: log.nowMs() });
    if (note !== null) options.say(`    healed: ${note}`);
    faults.push(note === null ? started.label : `${started.label}; ${note}`);
  }
  return faults;
}

/**
 * When GC may have settled (performance.now time): a grace after the load stopped, and past
 * the deadline of every upload a client gave up on (placed before its op ended; until swept,
 * its chunks are not garbage). Uploads that were acknowledged left nothing pending.
 */
function gcSettleFromMs(log: OpLog): number {
  const abandonedEndMs = Math.max(
    -Infinity,
    ...log.ops.flatMap((op) =>
      isWrite(op) && op.status === "unknown" && op.endMs !== null ? [op.endMs] : [],
    ),
  );
  const untilDeadlineMs = Math.max(0, abandonedEndMs + CHAOS_UPLOAD_DEADLINE_MS - log.nowMs());
  return performance.now() + untilDeadlineMs + CHAOS_GC_GRACE_MS;
}

/**
 * Restarts every node whose clock was moved: what it marked by its wall clock while ahead (puts,
 * deleted uploads' chunks held a grace) it would hold for up to the step after the clock came
 * back (by design), which the disk check cannot tell from a leak; a restart ends those holds.
 */
async function restartMovedClocks(
  chaos: ChaosCluster,
  options: ScheduleOptions,
): Promise<string | null> {
  const ids = chaos.movedClocks();
  if (ids.length > 0) options.say(`  restarting ${ids.join(", ")} (clocks moved) before checking`);
  for (const id of ids) {
    // One at a time, each back in sync before the next: never two replicas of a group down.
    const problem = await waitConverged(chaos.cluster, [], CONVERGE_TIMEOUT_MS);
    if (problem !== null) return `before restarting ${id}: ${problem}`;
    await chaos.cluster.node(id).restart();
  }
  return null;
}

/**
 * After the load: nodes whose clocks moved restarted, the cluster whole again, GC passed over
 * everything (gcSettleFromMs, then GC_PASSES_AFTER_LOAD passes on every node), every
 * acknowledged version read back, the history checked, and the disks compared with what is
 * live.
 */
async function checkAfterLoad(
  chaos: ChaosCluster,
  users: ChaosUsers,
  workload: Workload,
  log: OpLog,
  options: ScheduleOptions,
): Promise<{ violations: Violation[]; figures: string[] }> {
  const violations: Violation[] = [];
  const restartProblem = await restartMovedClocks(chaos, options);
  if (restartProblem !== null) {
    violations.push({
      kind: "not-converged",
      file: null,
      opIds: [],
      detail: `not converged ${CONVERGE_TIMEOUT_MS} ms after healing, ${restartProblem}`,
    });
  }
  const gcNotBeforeMs = gcSettleFromMs(log);
  const rules = { keepVersions: CHAOS_KEEP_VERSIONS };
  const kept = keptVersions(log.ops, rules);
  const problem = await waitConverged(chaos.cluster, kept, CONVERGE_TIMEOUT_MS);
  if (problem !== null) {
    violations.push({
      kind: "not-converged",
      file: null,
      opIds: [],
      detail: `not converged ${CONVERGE_TIMEOUT_MS} ms after healing: ${problem}`,
    });
  }
  const gcProblem = await waitForGcPasses(
    chaos.cluster,
    gcNotBeforeMs,
    GC_PASSES_AFTER_LOAD,
    GC_WAIT_TIMEOUT_MS,
  );
  if (gcProblem !== null) {
    violations.push({
      kind: "not-converged",
      file: null,
      opIds: [],
      detail: `GC did not run after healing: ${gcProblem}`,
    });
  }
  options.say(`  GC passed over everything; reading back every acknowledged version`);
  const finals = await finalReads(users, log, workload.files());
  violations.push(...checkHistory(log.ops, finals, rules));
  const uids = [...new Set(log.ops.map((op) => op.uid))];
  const disk = await checkDiskUse(chaos.cluster, uids);
  for (const detail of disk.lost) violations.push({ kind: "lost", file: null, opIds: [], detail });
  for (const detail of disk.garbage) {
    violations.push({ kind: "garbage-left", file: null, opIds: [], detail });
  }
  const deletedNames = finals.filter((final) => final.asked === null && final.absent).length;
  const absentReads = log.ops.filter((op) => op.kind === "read" && op.absent).length;
  const deletes = log.ops.filter((op) => op.kind === "delete");
  const deletedOk = deletes.filter((op) => op.status === "ok" && !op.absent).length;
  const figures = [
    await gcFigures(chaos.cluster),
    await spareFigures(chaos.cluster),
    `deletes: ${deletedOk} acknowledged, ${deletes.length - deletedOk} answered NOT_FOUND or ` +
      `unknown; ${absentReads} reads answered NOT_FOUND`,
    ...workload.notes,
    `final read-back: ${finals.length} reads, ${deletedNames} of ${workload.files().length} ` +
      "names gone at the end",
    ...disk.figures,
  ];
  return { violations, figures };
}

export async function runSchedule(options: ScheduleOptions): Promise<ScheduleResult> {
  const started = performance.now();
  const fakeClocks = options.kinds.includes("clock-jump");
  const clockProblem = fakeClocks ? clockJumpUnavailableReason() : null;
  if (clockProblem !== null) {
    throw new Error(`the clock-jump fault cannot run here: ${clockProblem}`);
  }
  const dataRoot = join(tmpdir(), `${CHAOS_ROOT_PREFIX}${process.pid}-${options.seed}`);
  const secure = options.insecure !== true;
  const chaos = await startChaosCluster(dataRoot, { secure, fakeClocks });
  const log = new OpLog();
  let faults: string[] = [];
  const violations: Violation[] = [];
  let figures: string[] = [];
  let gaps: GroupGap[] = [];
  const active: { fault: ActiveFault | null } = { fault: null };
  let finished = false;
  try {
    const users = new ChaosUsers(chaos.cluster);
    const workload = new Workload(log, users, options.seed, options.clients);
    await workload.connect();
    workload.start();
    const t0 = performance.now();
    const isolations: IsolatedPrimary[] = [];
    faults = await runFaults({ chaos, users, workload }, options, t0, active, isolations);
    const restMs = options.durationS * 1000 - (performance.now() - t0);
    if (restMs > 0) await Bun.sleep(restMs);
    await workload.stop();
    gaps = groupGaps(isolations, log.ops, (id) => workload.groupsOf(id));
    for (const gap of gaps) options.say(`  ${describeGap(gap)}`);
    options.say(`  load stopped after ${log.ops.length} ops; waiting for convergence and GC`);
    const after = await checkAfterLoad(chaos, users, workload, log, options);
    violations.push(...after.violations);
    figures = [...gaps.map(describeGap), ...after.figures];
    finished = true;
  } finally {
    if (active.fault !== null) await active.fault.heal();
    // A harness error keeps the evidence too.
    const keep = violations.length > 0 || !finished || options.keep === true;
    if (keep) {
      await writeFile(
        join(dataRoot, "history.jsonl"),
        `${log.ops.map((op) => JSON.stringify(op)).join("\n")}\n`,
      );
    }
    await chaos.stop(keep);
  }
  const byStatus: Record<OpStatus, number> = { pending: 0, ok: 0, fail: 0, unknown: 0 };
  const byKind: Record<string, number> = {};
  for (const op of log.ops) {
    byStatus[op.status] += 1;
    byKind[op.kind] = (byKind[op.kind] ?? 0) + 1;
  }
  const replay = replayCommand(options);
  const report: string[] = [];
  for (const violation of violations) {
    report.push(
      `VIOLATION ${violation.kind}${violation.file === null ? "" : ` on ${violation.file}`}: ${violation.detail}`,
    );
    for (const line of historySlice(log.ops, violation)) report.push(`    ${line}`);
    report.push(`  seed ${options.seed}; replay: ${replay}`);
  }
  return {
    seed: options.seed,
    ops: log.ops.length,
    byStatus,
    byKind,
    faults,
    violations,
    report,
    figures,
    groupGaps: gaps,
    replay,
    dataRoot: violations.length > 0 || options.keep === true ? dataRoot : null,
    elapsedMs: performance.now() - started,
  };
}
