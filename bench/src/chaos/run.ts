/**
 * One chaos schedule end to end: a fresh cluster in namespaces, the clients, the seeded faults
 * one after another, then heal, convergence, the final read-back of every acknowledged version,
 * and the checker. The cluster and its network are always removed; the data folder (logs,
 * history.jsonl) is kept when something was wrong.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FtfsError } from "@ftfs/protocol/core";
import { tmpdir } from "node:os";
import { ChaosUsers, type ChaosClient } from "./client.ts";
import { checkHistory, historySlice, type FinalRead, type Violation } from "./checker.ts";
import { SMALL_DISK_NODE, startChaosCluster } from "./cluster.ts";
import { waitConverged, type FileVersion } from "./converge.ts";
import { isWrite, OpLog, type OpStatus } from "./history.ts";
import { startFault, type ActiveFault } from "./nemesis.ts";
import { CHAOS_ROOT_PREFIX } from "./net.ts";
import { describeFault, makeSchedule, type FaultKind } from "./schedule.ts";
import { Workload } from "./workload.ts";

/** After the last heal the cluster must be whole again within this long. */
export const CONVERGE_TIMEOUT_MS = 60_000;
const FINAL_READ_CONCURRENCY = 8;

export interface ScheduleOptions {
  readonly seed: number;
  readonly durationS: number;
  readonly kinds: readonly FaultKind[];
  readonly clients: number;
  /** Nodes without a cluster key, clients without logins (`--insecure`); default: secure. */
  readonly insecure?: boolean;
  /** Told of each event as it happens (faults, phases). */
  readonly say: (line: string) => void;
}

export interface ScheduleResult {
  readonly seed: number;
  readonly ops: number;
  readonly byStatus: Readonly<Record<OpStatus, number>>;
  readonly faults: readonly string[];
  readonly violations: readonly Violation[];
  /** The violations with their history slices, ready to print. */
  readonly report: readonly string[];
  readonly replay: string;
  readonly dataRoot: string | null;
  readonly elapsedMs: number;
}

export function replayCommand(options: Pick<ScheduleOptions, "seed" | "durationS" | "kinds" | "clients" | "insecure">): string {
  return `bun run chaos --seed ${options.seed} --schedules 1 --schedule-seconds ${options.durationS} ` +
    `--kinds ${options.kinds.join(",")} --clients ${options.clients}${options.insecure === true ? " --insecure" : ""}`;
}

function errorText(error: unknown): string {
  if (error instanceof FtfsError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function acknowledgedVersions(log: OpLog): FileVersion[] {
  const versions: FileVersion[] = [];
  for (const op of log.ops) {
    if (op.status === "ok" && op.version !== null && op.name !== null && isWrite(op)) {
      versions.push({ uid: op.uid, name: op.name, version: op.version });
    }
  }
  return versions;
}

async function finalReads(users: ChaosUsers, log: OpLog, files: Array<{ uid: string; name: string }>): Promise<FinalRead[]> {
  const wanted: Array<{ uid: string; name: string; asked: number | null }> = [
    ...files.map((f) => ({ ...f, asked: null })),
    ...acknowledgedVersions(log).map((v) => ({ uid: v.uid, name: v.name, asked: v.version })),
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
        const result = await client.read(item.uid, item.name, (chunk) => void hasher.update(chunk), item.asked ?? undefined);
        out.push({ ...item, version: result.version, sha256: hasher.digest("hex"), error: null });
      } catch (error) {
        out.push({ ...item, version: null, sha256: null, error: errorText(error) });
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

export async function runSchedule(options: ScheduleOptions): Promise<ScheduleResult> {
  const started = performance.now();
  const schedule = makeSchedule(options.seed, options.durationS, options.kinds, SMALL_DISK_NODE);
  const dataRoot = join(tmpdir(), `${CHAOS_ROOT_PREFIX}${process.pid}-${options.seed}`);
  const chaos = await startChaosCluster(dataRoot, options.insecure !== true);
  const log = new OpLog();
  const faults: string[] = [];
  const violations: Violation[] = [];
  let active: ActiveFault | null = null;
  try {
    const users = new ChaosUsers(chaos.cluster);
    const workload = new Workload(log, users, options.seed, options.clients);
    await workload.connect();
    workload.start();
    const t0 = performance.now();
    for (const fault of schedule) {
      const waitMs = fault.atS * 1000 - (performance.now() - t0);
      if (waitMs > 0) await Bun.sleep(waitMs);
      active = await startFault(chaos, fault);
      faults.push(active.label);
      options.say(`  ${describeFault(fault)} -> ${active.label}`);
      await Bun.sleep(fault.durationS * 1000);
      await active.heal();
      active = null;
    }
    const restMs = options.durationS * 1000 - (performance.now() - t0);
    if (restMs > 0) await Bun.sleep(restMs);
    await workload.stop();
    options.say(`  load stopped after ${log.ops.length} ops; waiting for convergence`);
    const problem = await waitConverged(chaos.cluster, acknowledgedVersions(log), CONVERGE_TIMEOUT_MS);
    if (problem !== null) {
      violations.push({ kind: "not-converged", file: null, opIds: [],
        detail: `not converged ${CONVERGE_TIMEOUT_MS} ms after healing: ${problem}` });
    }
    const finals = await finalReads(users, log, workload.files());
    violations.push(...checkHistory(log.ops, finals));
  } finally {
    if (active !== null) await active.heal();
    const keep = violations.length > 0;
    if (keep) {
      await writeFile(join(dataRoot, "history.jsonl"), log.ops.map((op) => JSON.stringify(op)).join("\n") + "\n");
    }
    await chaos.stop(keep);
  }
  const byStatus: Record<OpStatus, number> = { pending: 0, ok: 0, fail: 0, unknown: 0 };
  for (const op of log.ops) byStatus[op.status] += 1;
  const replay = replayCommand(options);
  const report: string[] = [];
  for (const violation of violations) {
    report.push(`VIOLATION ${violation.kind}${violation.file === null ? "" : ` on ${violation.file}`}: ${violation.detail}`);
    for (const line of historySlice(log.ops, violation)) report.push(`    ${line}`);
    report.push(`  seed ${options.seed}; replay: ${replay}`);
  }
  return {
    seed: options.seed, ops: log.ops.length, byStatus, faults, violations, report, replay,
    dataRoot: violations.length > 0 ? dataRoot : null, elapsedMs: performance.now() - started,
  };
}
