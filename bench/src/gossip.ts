/**
 * `bun run bench:gossip`: failure detection of real FTFS gossip processes (bench/src/gossip-node
 * .ts, the real driver) on loopback, and of HashiCorp Serf run the same way when `serf` is
 * installed, printed side by side. Per system: kill -9 → first and last survivor declaring the
 * victim dead (trials; median/min/max); SIGSTOP pauses never declared dead (count); FTFS bytes
 * and packets per second per node in steady state (from the driver's counters); false
 * positives while busy loops saturate every core. Durations are flags for a quick run.
 * Network cuts and packet loss need namespaces and are not measured here.
 */

import { parseFlags, parseIntegerFlag } from "@ftfs/protocol/io";
import type { Subprocess } from "bun";

const FLAGS = [
  { name: "nodes", description: "members per cluster", default: "10" },
  { name: "trials", description: "kill -9 trials", default: "5" },
  { name: "stop-trials", description: "SIGSTOP trials", default: "3" },
  { name: "stop-s", description: "SIGSTOP length, seconds", default: "3" },
  { name: "load-s", description: "steady-state load window, seconds", default: "20" },
  { name: "cpu-s", description: "full-CPU false-positive window, seconds", default: "60" },
  { name: "serf", description: "run Serf too: auto (when installed) or off", default: "auto" },
] as const;
/** Longest we wait for every survivor to declare a victim dead (Serf's max is ~8 s). */
const DETECT_DEADLINE_MS = 30_000;
const CONVERGE_DEADLINE_MS = 60_000;
/** After SIGCONT, watch this long for a late `dead` (a suspicion must resolve first). */
const STOP_OBSERVE_MS = 10_000;
/** Quiet time between trials so one trial's rumors do not spill into the next. */
const SETTLE_MS = 2_000;
const POLL_MS = 50;
const SEED_START_MS = 1_500;
const FTFS_PORT_BASE = 27_100;
const SERF_PORT_BASE = 27_300;
const SERF_RPC_PORT_BASE = 27_500;

interface Seen {
  readonly tMs: number;
  readonly observer: number;
  readonly kind: "dead" | "suspect" | "alive";
  readonly member: number;
}

interface System {
  readonly name: string;
  readonly n: number;
  readonly seen: Seen[];
  start(i: number): void;
  pid(i: number): number;
  allAlive(): Promise<boolean>;
  loadPerNode(windowMs: number): Promise<{ bytesPerS: number; packetsPerS: number } | null>;
  stopAll(): Promise<void>;
}

function spawnLines(
  cmd: string[],
  onLine: (line: string) => void,
): Subprocess<"ignore", "pipe", "pipe"> {
  const child = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  for (const stream of [child.stdout, child.stderr]) void pump(stream, onLine);
  return child;
}

async function pump(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const bytes of stream) {
    buffered += decoder.decode(bytes, { stream: true });
    let at = buffered.indexOf("\n");
    while (at >= 0) {
      onLine(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
      at = buffered.indexOf("\n");
    }
  }
}

const nodeIndex = (name: string): number => Number(name.replace(/^n/, ""));

function ftfsSystem(n: number): System {
  const procs = new Map<number, Subprocess<"ignore", "pipe", "pipe">>();
  const stats = new Map<number, { atMs: number; alive: number; bytesOut: number; datagramsOut: number }>();
  const seen: Seen[] = [];
  const address = (i: number) => `127.0.0.1:${FTFS_PORT_BASE + i}`;
  const kinds: Record<string, Seen["kind"]> = { dead: "dead", suspect: "suspect", alive: "alive", joined: "alive" };
  const system: System = {
    name: "FTFS",
    n,
    seen,
    start(i) {
      const seeds = i === 1 ? "" : address(1);
      const cmd = ["bun", `${import.meta.dir}/gossip-node.ts`, `n${i}`, address(i), seeds];
      procs.set(i, spawnLines(cmd, (line) => {
        if (!line.startsWith("{\"type\"")) return;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.type === "stats") {
          stats.set(i, parsed as unknown as { atMs: number; alive: number; bytesOut: number; datagramsOut: number });
          return;
        }
        const kind = kinds[String(parsed.kind)];
        if (kind === undefined) return;
        seen.push({ tMs: Date.now(), observer: i, kind, member: nodeIndex(String(parsed.member)) });
      }));
    },
    pid: (i) => procs.get(i)?.pid ?? 0,
    async allAlive() {
      const fresh = [...procs.keys()].every((i) => (stats.get(i)?.alive ?? 0) === n);
      return fresh && procs.size === n;
    },
    async loadPerNode(windowMs) {
      const before = new Map(stats);
      await Bun.sleep(windowMs);
      let bytes = 0;
      let packets = 0;
      let seconds = 0;
      for (const [i, a] of before) {
        const b = stats.get(i);
        if (b === undefined || b.atMs <= a.atMs) continue;
        bytes += b.bytesOut - a.bytesOut;
        packets += b.datagramsOut - a.datagramsOut;
        seconds += (b.atMs - a.atMs) / 1000;
      }
      return seconds === 0 ? null : { bytesPerS: bytes / seconds, packetsPerS: packets / seconds };
    },
    async stopAll() {
      for (const child of procs.values()) child.kill("SIGKILL");
      procs.clear();
    },
  };
  const originalStart = system.start.bind(system);
  return { ...system, start: (i) => { procs.get(i)?.kill("SIGKILL"); originalStart(i); } };
}

function serfSystem(n: number): System {
  const procs = new Map<number, Subprocess<"ignore", "pipe", "pipe">>();
  const seen: Seen[] = [];
  const bind = (i: number) => `127.0.0.1:${SERF_PORT_BASE + i}`;
  const rpc = (i: number) => `127.0.0.1:${SERF_RPC_PORT_BASE + i}`;
  const patterns: Array<[RegExp, Seen["kind"]]> = [
    [/EventMemberFailed: (n\d+)/, "dead"],
    [/memberlist: Suspect (n\d+) has failed/, "suspect"],
    [/EventMemberJoin: (n\d+)/, "alive"],
  ];
  return {
    name: "Serf",
    n,
    seen,
    start(i) {
      procs.get(i)?.kill("SIGKILL");
      const join = i === 1 ? [] : [`-join=${bind(1)}`];
      const cmd = ["serf", "agent", `-node=n${i}`, `-bind=${bind(i)}`, `-rpc-addr=${rpc(i)}`,
        "-profile=lan", ...join];
      procs.set(i, spawnLines(cmd, (line) => {
        for (const [pattern, kind] of patterns) {
          const match = pattern.exec(line);
          if (match?.[1] !== undefined) {
            seen.push({ tMs: Date.now(), observer: i, kind, member: nodeIndex(match[1]) });
          }
        }
      }));
    },
    pid: (i) => procs.get(i)?.pid ?? 0,
    async allAlive() {
      for (const i of procs.keys()) {
        const out = Bun.spawnSync(["serf", "members", `-rpc-addr=${rpc(i)}`, "-status=alive"]);
        const lines = out.stdout.toString().split("\n").filter((line) => line.trim() !== "");
        if (lines.length !== n) return false;
      }
      return procs.size === n;
    },
    // Serf exposes no packet counters; its load needs tcpdump in a namespace (see peers/serf).
    loadPerNode: async () => null,
    async stopAll() {
      for (const child of procs.values()) child.kill("SIGKILL");
      procs.clear();
    },
  };
}

async function until(check: () => Promise<boolean> | boolean, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await Bun.sleep(POLL_MS);
  }
  return false;
}

interface Figures {
  first: number[];
  last: number[];
  missed: number;
  stopDeclaredDead: number;
  stopTrials: number;
  cpuSuspects: number;
  cpuDead: number;
  load: { bytesPerS: number; packetsPerS: number } | null;
}

async function killTrial(system: System, victim: number, figures: Figures): Promise<void> {
  const from = system.seen.length;
  const killedMs = Date.now();
  process.kill(system.pid(victim), "SIGKILL");
  const deadBy = () => {
    const times = new Map<number, number>();
    for (const s of system.seen.slice(from)) {
      if (s.kind === "dead" && s.member === victim && !times.has(s.observer)) times.set(s.observer, s.tMs);
    }
    return times;
  };
  const all = await until(() => deadBy().size >= system.n - 1, DETECT_DEADLINE_MS);
  const times = [...deadBy().values()].map((t) => (t - killedMs) / 1000);
  if (times.length > 0) figures.first.push(Math.min(...times));
  if (all) figures.last.push(Math.max(...times));
  else figures.missed += 1;
  system.start(victim);
  await until(() => system.allAlive(), CONVERGE_DEADLINE_MS);
  await Bun.sleep(SETTLE_MS);
}

async function stopTrial(system: System, victim: number, stopMs: number, figures: Figures) {
  const from = system.seen.length;
  process.kill(system.pid(victim), "SIGSTOP");
  await Bun.sleep(stopMs);
  process.kill(system.pid(victim), "SIGCONT");
  await Bun.sleep(STOP_OBSERVE_MS);
  const dead = system.seen.slice(from).some((s) => s.kind === "dead" && s.member === victim);
  figures.stopTrials += 1;
  if (dead) figures.stopDeclaredDead += 1;
  await until(() => system.allAlive(), CONVERGE_DEADLINE_MS);
}

async function cpuWindow(system: System, seconds: number, figures: Figures): Promise<void> {
  const from = system.seen.length;
  const hogs = Array.from({ length: navigator.hardwareConcurrency }, () =>
    Bun.spawn(["bun", "-e", "for(;;){}"], { stdout: "ignore", stderr: "ignore" }),
  );
  await Bun.sleep(seconds * 1000);
  for (const hog of hogs) hog.kill("SIGKILL");
  await Bun.sleep(5_000);
  const window = system.seen.slice(from);
  figures.cpuSuspects = window.filter((s) => s.kind === "suspect").length;
  figures.cpuDead = window.filter((s) => s.kind === "dead").length;
}

async function measure(system: System, flags: Record<string, number>): Promise<Figures | null> {
  const figures: Figures = {
    first: [], last: [], missed: 0, stopDeclaredDead: 0, stopTrials: 0,
    cpuSuspects: 0, cpuDead: 0, load: null,
  };
  try {
    system.start(1);
    // Serf gives up (exits) when its -join seed is not listening yet: let the seed come up.
    await Bun.sleep(SEED_START_MS);
    for (let i = 2; i <= system.n; i += 1) system.start(i);
    if (!(await until(() => system.allAlive(), CONVERGE_DEADLINE_MS))) return null;
    log(`${system.name}: ${system.n} members converged`);
    if ((flags["load-s"] ?? 0) > 0) figures.load = await system.loadPerNode((flags["load-s"] ?? 0) * 1000);
    for (let k = 0; k < (flags.trials ?? 0); k += 1) {
      await killTrial(system, 2 + (k % (system.n - 1)), figures);
      log(`${system.name}: kill trial ${k + 1}: first ${figures.first.at(-1)?.toFixed(2)} s, last ${figures.last.at(-1)?.toFixed(2)} s`);
    }
    for (let k = 0; k < (flags["stop-trials"] ?? 0); k += 1) {
      await stopTrial(system, 2 + ((k + 4) % (system.n - 1)), (flags["stop-s"] ?? 3) * 1000, figures);
    }
    if ((flags["cpu-s"] ?? 0) > 0) await cpuWindow(system, flags["cpu-s"] ?? 0, figures);
    return figures;
  } finally {
    await system.stopAll();
  }
}

function log(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function summary(values: number[]): string {
  if (values.length === 0) return "n/a";
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return `${median.toFixed(2)} (${(sorted[0] ?? 0).toFixed(2)}–${(sorted.at(-1) ?? 0).toFixed(2)}) s n=${values.length}`;
}

function report(rows: Array<[string, Figures | null]>, flags: Record<string, number>): void {
  const col = (f: Figures | null, pick: (f: Figures) => string) => (f === null ? "n/a" : pick(f));
  const lines: Array<[string, (f: Figures) => string]> = [
    ["kill -9 → first survivor declares dead, median (min–max)", (f) => summary(f.first)],
    ["kill -9 → every survivor declares dead, median (min–max)", (f) => summary(f.last)],
    ["kill trials not detected by all within 30 s", (f) => String(f.missed)],
    [`${flags["stop-s"]} s SIGSTOP declared dead (trials)`, (f) => `${f.stopDeclaredDead} of ${f.stopTrials}`],
    [`full CPU ${flags["cpu-s"]} s: suspicions / deaths`, (f) => `${f.cpuSuspects} / ${f.cpuDead}`],
    ["steady state per node: bytes/s, packets/s (sent)", (f) =>
      f.load === null ? "n/a (no counters; anchor: ~320 B/s, ~2.3 pkt/s)" : `${f.load.bytesPerS.toFixed(0)} B/s, ${f.load.packetsPerS.toFixed(2)} pkt/s`],
  ];
  console.log(`\n${"measure".padEnd(58)}${rows.map(([name]) => name.padEnd(34)).join("")}`);
  for (const [label, pick] of lines) {
    console.log(`${label.padEnd(58)}${rows.map(([, f]) => col(f, pick).padEnd(34)).join("")}`);
  }
}

async function main(): Promise<void> {
  const raw = parseFlags(process.argv.slice(2), FLAGS);
  if (raw.help === "true") {
    console.log(`usage: bun run bench:gossip [--nodes N] [--trials K] [--stop-trials K] [--stop-s S] [--load-s S] [--cpu-s S] [--serf auto|off]`);
    return;
  }
  const flags: Record<string, number> = {};
  for (const name of ["nodes", "trials", "stop-trials", "stop-s", "load-s", "cpu-s"]) {
    flags[name] = parseIntegerFlag(name, raw[name] ?? "0", 0, 100_000);
  }
  const n = flags.nodes ?? 10;
  const rows: Array<[string, Figures | null]> = [["FTFS", await measure(ftfsSystem(n), flags)]];
  const serfWanted = raw.serf !== "off";
  if (serfWanted && Bun.which("serf") !== null) rows.push(["Serf (memberlist, LAN)", await measure(serfSystem(n), flags)]);
  else if (serfWanted) log("serf is not installed (apt-get install -y serf): FTFS only");
  console.log(`\n${n} members on loopback, ${navigator.hardwareConcurrency} cores; durations from flags ${JSON.stringify(flags)}`);
  report(rows, flags);
}

await main();
