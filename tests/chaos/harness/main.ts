/**
 * `bun run chaos`: run seeded fault schedules against a real cluster in network namespaces and
 * check every client operation's history. `--minutes N` keeps starting schedules (seeds
 * seed, seed+1, …) until N minutes have passed; `--schedules K` runs exactly K. Prints a table
 * at the end and exits 1 on any violation, 2 when the harness cannot run here. Nodes run with a
 * cluster key and clients log in as users; `--insecure` runs keyless nodes and anonymous clients.
 *
 *   bun run chaos --minutes 35
 *   bun run chaos --seed 1234 --schedules 1          # replay one schedule
 *   bun run chaos --seed 1234 --schedules 1 --keep   # … and keep its logs and history
 */

import { parseArgs } from "node:util";
import { ChaosNet } from "./net.ts";
import { runSchedule, type ScheduleResult } from "./run.ts";
import { FAULT_KINDS, parseKinds } from "./schedule.ts";
import { CLIENTS_DEFAULT } from "./workload.ts";

const SCHEDULE_SECONDS_DEFAULT = 45;
const MS_PER_MINUTE = 60_000;

function table(
  results: readonly ScheduleResult[],
  harnessErrors: number,
  elapsedMs: number,
): string {
  const ops = results.reduce((sum, r) => sum + r.ops, 0);
  const count = (status: "ok" | "fail" | "unknown"): number =>
    results.reduce((sum, r) => sum + r.byStatus[status], 0);
  const faults = results.reduce((sum, r) => sum + r.faults.length, 0);
  const violations = results.reduce((sum, r) => sum + r.violations.length, 0);
  const byKind = new Map<string, number>();
  for (const result of results) {
    for (const fault of result.faults) {
      const kind = fault.split(" ")[0] ?? fault;
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
  }
  const rows: Array<[string, string]> = [
    ["wall time", `${(elapsedMs / MS_PER_MINUTE).toFixed(1)} min`],
    ["schedules run", String(results.length)],
    ["seeds", results.length === 0 ? "-" : `${results[0]?.seed}…${results.at(-1)?.seed}`],
    [
      "operations",
      `${ops} (ok ${count("ok")}, fail ${count("fail")}, unknown ${count("unknown")})`,
    ],
    ["faults injected", `${faults} (${[...byKind].map(([kind, n]) => `${kind} ${n}`).join(", ")})`],
    ["violations", String(violations)],
    ["harness errors", String(harnessErrors)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `| ${label.padEnd(width)} | ${value}`).join("\n");
}

const USAGE = `usage: bun run chaos [--minutes N | --schedules K] [--seed S] [--schedule-seconds T]
                     [--kinds ${FAULT_KINDS.join(",")}]
                     [--clients C] [--insecure] [--keep]`;
const EXIT_USAGE = 2;

const OPTIONS = {
  minutes: { type: "string" },
  schedules: { type: "string" },
  seed: { type: "string" },
  "schedule-seconds": { type: "string", default: String(SCHEDULE_SECONDS_DEFAULT) },
  kinds: { type: "string", default: FAULT_KINDS.join(",") },
  clients: { type: "string", default: String(CLIENTS_DEFAULT) },
  insecure: { type: "boolean", default: false },
  keep: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const;

async function main(): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];
  try {
    values = parseArgs({ options: OPTIONS }).values;
  } catch (error) {
    console.error(`chaos: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const reason = ChaosNet.unavailableReason();
  if (reason !== null) {
    console.error(`chaos: cannot run here: ${reason}`);
    return 2;
  }
  const minutes = values.minutes === undefined ? null : Number(values.minutes);
  const schedules =
    values.schedules === undefined ? (minutes === null ? 1 : Infinity) : Number(values.schedules);
  const firstSeed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
  const durationS = Number(values["schedule-seconds"]);
  const kinds = parseKinds(values.kinds);
  const clients = Number(values.clients);
  const insecure = values.insecure;
  const started = performance.now();
  const deadline = minutes === null ? Infinity : started + minutes * MS_PER_MINUTE;
  const results: ScheduleResult[] = [];
  const harnessErrors: string[] = [];
  for (let index = 0; index < schedules && performance.now() < deadline; index += 1) {
    const seed = firstSeed + index;
    console.log(
      `schedule ${index + 1}: seed ${seed}, ${durationS} s, kinds ${kinds.join(",")}, ${insecure ? "insecure" : "secure"}`,
    );
    let result: ScheduleResult;
    try {
      const say = (line: string): void => console.log(line);
      const keep = values.keep;
      result = await runSchedule({ seed, durationS, kinds, clients, insecure, keep, say });
    } catch (error) {
      // The harness itself failed (not the system under test): say so, count it, go on.
      harnessErrors.push(
        `seed ${seed}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      console.log(`  HARNESS ERROR ${harnessErrors.at(-1)}`);
      continue;
    }
    results.push(result);
    const { ok, fail, unknown } = result.byStatus;
    const byKind = Object.entries(result.byKind)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(", ");
    console.log(
      `  ${result.ops} ops (ok ${ok}, fail ${fail}, unknown ${unknown}; ${byKind}), ` +
        `${result.faults.length} faults, ${result.violations.length} violations, ${(result.elapsedMs / 1000).toFixed(0)} s`,
    );
    for (const line of result.figures) console.log(`  ${line}`);
    for (const line of result.report) console.log(line);
    if (result.dataRoot !== null) console.log(`  logs and history kept in ${result.dataRoot}`);
  }
  console.log(table(results, harnessErrors.length, performance.now() - started));
  return results.some((result) => result.violations.length > 0) || harnessErrors.length > 0 ? 1 : 0;
}

process.exit(await main());
