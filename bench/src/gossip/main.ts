/**
 * `bun run bench:gossip`: failure detection of real FTFS gossip processes (bench/src/gossip/node
 * .ts, the real driver) on loopback, and of HashiCorp Serf run the same way when `serf` is
 * installed, printed side by side. Per system: kill -9 → first and last survivor declaring the
 * victim dead (trials; median/min/max); SIGSTOP pauses never declared dead (count); FTFS bytes
 * and packets per second per node in steady state (from the driver's counters); false
 * positives while busy loops saturate every core. Durations are flags for a quick run.
 * Then, in a private network namespace (packages/protocol/src/testing/netns.ts; needs root, `ip` and `nft`; `--netns
 * off` skips it), what loopback cannot do: a cut link (a member silenced by drop rules, its
 * process still running, so no port-unreachable) → first and last survivor declaring it dead,
 * and false suspicions/deaths while 10% of gossip packets are dropped at random.
 */

import { parseFlags, parseIntegerFlag } from "@ftfs/protocol/io";
import type { Subprocess } from "bun";
import { Netns, type LossCounters } from "@ftfs/protocol/testing";

const FLAGS = [
  { name: "nodes", description: "members per cluster", default: "10" },
  { name: "trials", description: "kill -9 trials", default: "10" },
  { name: "stop-trials", description: "SIGSTOP trials", default: "3" },
  { name: "stop-s", description: "SIGSTOP length, seconds", default: "3" },
  { name: "load-s", description: "steady-state load window, seconds", default: "20" },
  { name: "cpu-s", description: "full-CPU false-positive window, seconds", default: "60" },
  { name: "serf", description: "run Serf too: auto (when installed) or off", default: "auto" },
  {
    name: "netns",
    description: "namespace measurements (cut link, loss): auto or off",
    default: "auto",
  },
  { name: "cut-trials", description: "cut-link trials (namespace)", default: "10" },
  {
    name: "loss-s",
    description: "random-loss false-positive window, seconds (namespace)",
    default: "60",
  },
  {
    name: "loss-pct",
    description: "random loss on the gossip port, percent (namespace)",
    default: "10",
  },
] as const;
const INTEGER_FLAGS = [
  "nodes",
  "trials",
  "stop-trials",
  "stop-s",
  "load-s",
  "cpu-s",
  "cut-trials",
  "loss-s",
  "loss-pct",
];
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
/**
 * A cut member is only suspected and then declared dead through suspicion timeouts (no refusal
 * to hear): Serf's LAN profile takes ~6–8 s at 10 members; leave room for a slow one.
 */
const CUT_DETECT_DEADLINE_MS = 60_000;
/**
 * After the heal, the cut member and the survivors hold each other dead; they find each other
 * again only through reconnect attempts to dead members (Serf: every 30 s), so allow a few.
 */
const HEAL_DEADLINE_MS = 120_000;
/** After the loss stops, watch this long so a suspicion started near the end shows its outcome. */
const LOSS_TAIL_MS = 15_000;

interface Seen {
  readonly tMs: number;
  readonly observer: number;
  readonly kind: "dead" | "suspect" | "alive";
  readonly member: number;
  /** The member's incarnation, when the system reports it (FTFS does, Serf's log does not). */
  readonly incarnation?: number | undefined;
}

/** Where members live and how their processes are launched. */
interface Placement {
  readonly host: (i: number) => string;
  /** Member i's port for a system's port base: on a shared address each needs its own. */
  readonly port: (base: number, i: number) => number;
  readonly wrap: (cmd: string[]) => string[];
}

const LOOPBACK: Placement = {
  host: () => "127.0.0.1",
  port: (base, i) => base + i,
  wrap: (cmd) => cmd,
};

/** In the namespace each member has its own address, so all share one port (loss rules name it). */
function inNetns(ns: Netns): Placement {
  return { host: (i) => Netns.host(i), port: (base) => base, wrap: (cmd) => ns.exec(cmd) };
}

interface System {
  readonly name: string;
  readonly n: number;
  readonly seen: Seen[];
  /** Member i's gossip port (what the loss rules drop). */
  gossipPort(i: number): number;
  start(i: number): void;
  pid(i: number): number;
  allAlive(): Promise<boolean>;
  /** Each member's latest Lifeguard local-health score, when the system reports it. */
  healthScores(): Map<number, number>;
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

/** What node.ts prints once a second (the fields read here). */
interface NodeStats {
  atMs: number;
  alive: number;
  bytesOut: number;
  datagramsOut: number;
  awarenessScore: number;
}

const nodeIndex = (name: string): number => Number(name.replace(/^n/, ""));

function ftfsSystem(n: number, placement: Placement = LOOPBACK): System {
  const procs = new Map<number, Subprocess<"ignore", "pipe", "pipe">>();
  const stats = new Map<number, NodeStats>();
  const seen: Seen[] = [];
  const gossipPort = (i: number) => placement.port(FTFS_PORT_BASE, i);
  const address = (i: number) => `${placement.host(i)}:${gossipPort(i)}`;
  const kinds: Record<string, Seen["kind"]> = {
    dead: "dead",
    suspect: "suspect",
    alive: "alive",
    joined: "alive",
  };
  const system: System = {
    name: "FTFS",
    n,
    seen,
    gossipPort,
    start(i) {
      const seeds = i === 1 ? "" : address(1);
      const cmd = placement.wrap([
        process.execPath,
        `${import.meta.dir}/node.ts`,
        `n${i}`,
        address(i),
        seeds,
      ]);
      procs.set(
        i,
        spawnLines(cmd, (line) => {
          if (!line.startsWith('{"type"')) return;
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed.type === "stats") {
            stats.set(i, parsed as unknown as NodeStats);
            return;
          }
          const kind = kinds[String(parsed.kind)];
          if (kind === undefined) return;
          const incarnation =
            typeof parsed.incarnation === "number" ? parsed.incarnation : undefined;
          seen.push({
            tMs: Date.now(),
            observer: i,
            kind,
            member: nodeIndex(String(parsed.member)),
            incarnation,
          });
        }),
      );
    },
    pid: (i) => procs.get(i)?.pid ?? 0,
    async allAlive() {
      const fresh = [...procs.keys()].every((i) => (stats.get(i)?.alive ?? 0) === n);
      return fresh && procs.size === n;
    },
    healthScores: () => new Map([...stats].map(([i, s]) => [i, s.awarenessScore])),
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
  return {
    ...system,
    start: (i) => {
      procs.get(i)?.kill("SIGKILL");
      originalStart(i);
    },
  };
}

function serfSystem(n: number, placement: Placement = LOOPBACK): System {
  const procs = new Map<number, Subprocess<"ignore", "pipe", "pipe">>();
  const seen: Seen[] = [];
  const gossipPort = (i: number) => placement.port(SERF_PORT_BASE, i);
  const bind = (i: number) => `${placement.host(i)}:${gossipPort(i)}`;
  const rpc = (i: number) => `${placement.host(i)}:${placement.port(SERF_RPC_PORT_BASE, i)}`;
  const patterns: Array<[RegExp, Seen["kind"]]> = [
    [/EventMemberFailed: (n\d+)/, "dead"],
    [/memberlist: Suspect (n\d+) has failed/, "suspect"],
    [/EventMemberJoin: (n\d+)/, "alive"],
  ];
  return {
    name: "Serf",
    n,
    seen,
    gossipPort,
    start(i) {
      procs.get(i)?.kill("SIGKILL");
      const join = i === 1 ? [] : [`-join=${bind(1)}`];
      const cmd = placement.wrap([
        "serf",
        "agent",
        `-node=n${i}`,
        `-bind=${bind(i)}`,
        `-rpc-addr=${rpc(i)}`,
        "-profile=lan",
        ...join,
      ]);
      procs.set(
        i,
        spawnLines(cmd, (line) => {
          for (const [pattern, kind] of patterns) {
            const match = pattern.exec(line);
            if (match?.[1] !== undefined) {
              seen.push({ tMs: Date.now(), observer: i, kind, member: nodeIndex(match[1]) });
            }
          }
        }),
      );
    },
    pid: (i) => procs.get(i)?.pid ?? 0,
    async allAlive() {
      for (const i of procs.keys()) {
        const out = Bun.spawnSync(
          placement.wrap(["serf", "members", `-rpc-addr=${rpc(i)}`, "-status=alive"]),
        );
        const lines = out.stdout
          .toString()
          .split("\n")
          .filter((line) => line.trim() !== "");
        if (lines.length !== n) return false;
      }
      return procs.size === n;
    },
    healthScores: () => new Map(),
    // Serf exposes no packet counters; its load needs tcpdump in a namespace (see peers/serf).
    loadPerNode: async () => null,
    async stopAll() {
      for (const child of procs.values()) child.kill("SIGKILL");
      procs.clear();
    },
  };
}

async function until(
  check: () => Promise<boolean> | boolean,
  deadlineMs: number,
): Promise<boolean> {
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
  cpuRan: boolean;
  /** Suspicions raised (see raisedSuspicions) while every core was busy. */
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
      if (s.kind === "dead" && s.member === victim && !times.has(s.observer))
        times.set(s.observer, s.tMs);
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

/**
 * Suspicions raised in `window`: one suspicion reaches every observer, and FTFS's incarnation
 * tells them apart. Serf's log has no incarnation, but only the prober that raised a suspicion
 * logs it, so each of its lines is one.
 */
function raisedSuspicions(window: readonly Seen[]): { raised: number; observed: number } {
  const suspects = window.filter((s) => s.kind === "suspect");
  const raised = new Set(
    suspects.map((s, k) =>
      s.incarnation === undefined ? `line ${k}` : `${s.member}@${s.incarnation}`,
    ),
  );
  return { raised: raised.size, observed: suspects.length };
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
  figures.cpuRan = true;
  figures.cpuSuspects = raisedSuspicions(window).raised;
  figures.cpuDead = window.filter((s) => s.kind === "dead").length;
}

async function measure(system: System, flags: Record<string, number>): Promise<Figures | null> {
  const figures: Figures = {
    first: [],
    last: [],
    missed: 0,
    stopDeclaredDead: 0,
    stopTrials: 0,
    cpuRan: false,
    cpuSuspects: 0,
    cpuDead: 0,
    load: null,
  };
  try {
    if (!(await startCluster(system))) return null;
    if ((flags["load-s"] ?? 0) > 0)
      figures.load = await system.loadPerNode((flags["load-s"] ?? 0) * 1000);
    for (let k = 0; k < (flags.trials ?? 0); k += 1) {
      await killTrial(system, 2 + (k % (system.n - 1)), figures);
      log(
        `${system.name}: kill trial ${k + 1}: first ${figures.first.at(-1)?.toFixed(2)} s, last ${figures.last.at(-1)?.toFixed(2)} s`,
      );
    }
    for (let k = 0; k < (flags["stop-trials"] ?? 0); k += 1) {
      await stopTrial(
        system,
        2 + ((k + 4) % (system.n - 1)),
        (flags["stop-s"] ?? 3) * 1000,
        figures,
      );
    }
    if ((flags["cpu-s"] ?? 0) > 0) await cpuWindow(system, flags["cpu-s"] ?? 0, figures);
    return figures;
  } finally {
    await system.stopAll();
  }
}

interface NetnsFigures {
  /** Cut → the first survivor suspecting the cut member: the wait for its first probe, and more. */
  cutFirstSuspect: number[];
  cutFirst: number[];
  cutLast: number[];
  cutMissed: number;
  /**
   * Survivors whose local-health score was above 0 when the link was cut: they probe less often
   * (Lifeguard scales the period by score + 1), so the cut member's first probe comes later.
   */
  cutSlowProbers: number[];
  /** Survivors declaring another survivor dead during cut trials: collateral, should be 0. */
  cutCollateralDead: number;
  /** Heal → the last survivor reporting the cut member alive again. */
  healAll: number[];
  healMissed: number;
  lossRan: boolean;
  /** Suspicions raised: FTFS distinct (member, incarnation); Serf prober log lines. */
  lossSuspicions: number;
  /** FTFS only: suspect events over all observers (each observer learning one suspicion). */
  lossSuspectEvents: number;
  /** (observer, member) dead declarations. */
  lossDeaths: number;
  lossApplied: LossCounters | null;
}

/** The first time each observer reported something matching `pick` (in `seen` order). */
function firstBy(seen: readonly Seen[], pick: (s: Seen) => boolean): Map<number, number> {
  const times = new Map<number, number>();
  for (const s of seen) if (pick(s) && !times.has(s.observer)) times.set(s.observer, s.tMs);
  return times;
}

async function cutTrial(
  system: System,
  ns: Netns,
  victim: number,
  figures: NetnsFigures,
): Promise<void> {
  const survivors = system.n - 1;
  const from = system.seen.length;
  const scores = [...system.healthScores()].filter(([i]) => i !== victim);
  if (scores.length > 0) figures.cutSlowProbers.push(scores.filter(([, s]) => s > 0).length);
  const cutMs = Date.now();
  ns.cut(Netns.host(victim));
  // The victim declares everyone else dead from its side; that is expected and not counted.
  const deadBy = () =>
    firstBy(
      system.seen.slice(from),
      (s) => s.kind === "dead" && s.member === victim && s.observer !== victim,
    );
  const all = await until(() => deadBy().size >= survivors, CUT_DETECT_DEADLINE_MS);
  const times = [...deadBy().values()].map((t) => (t - cutMs) / 1000);
  if (times.length > 0) figures.cutFirst.push(Math.min(...times));
  if (all) figures.cutLast.push(Math.max(...times));
  else figures.cutMissed += 1;
  const suspectedBy = firstBy(
    system.seen.slice(from),
    (s) => s.kind === "suspect" && s.member === victim && s.observer !== victim,
  );
  if (suspectedBy.size > 0)
    figures.cutFirstSuspect.push((Math.min(...suspectedBy.values()) - cutMs) / 1000);
  figures.cutCollateralDead += system.seen
    .slice(from)
    .filter((s) => s.kind === "dead" && s.member !== victim && s.observer !== victim).length;

  const healFrom = system.seen.length;
  const healMs = Date.now();
  ns.heal();
  const aliveBy = () =>
    firstBy(
      system.seen.slice(healFrom),
      (s) => s.kind === "alive" && s.member === victim && s.observer !== victim,
    );
  const healed = await until(
    async () => aliveBy().size >= survivors && (await system.allAlive()),
    HEAL_DEADLINE_MS,
  );
  if (healed) {
    figures.healAll.push((Math.max(...aliveBy().values()) - healMs) / 1000);
  } else {
    // Do not let one stuck member spoil the next trials: restart it and converge again.
    figures.healMissed += 1;
    log(
      `${system.name}: n${victim} not alive everywhere ${HEAL_DEADLINE_MS / 1000} s after the heal; restarting it`,
    );
    system.start(victim);
    await until(() => system.allAlive(), CONVERGE_DEADLINE_MS);
  }
  await Bun.sleep(SETTLE_MS);
}

async function lossWindow(
  system: System,
  ns: Netns,
  flags: Record<string, number>,
  figures: NetnsFigures,
) {
  const from = system.seen.length;
  ns.startLoss(system.gossipPort(1), flags["loss-pct"] ?? 0);
  try {
    await Bun.sleep((flags["loss-s"] ?? 0) * 1000);
  } finally {
    figures.lossApplied = ns.stopLoss();
  }
  await Bun.sleep(LOSS_TAIL_MS);
  const window = system.seen.slice(from);
  const suspicions = raisedSuspicions(window);
  figures.lossRan = true;
  figures.lossSuspicions = suspicions.raised;
  figures.lossSuspectEvents = suspicions.observed;
  figures.lossDeaths = window.filter((s) => s.kind === "dead").length;
}

async function measureNetns(
  system: System,
  ns: Netns,
  flags: Record<string, number>,
): Promise<NetnsFigures | null> {
  const figures: NetnsFigures = {
    cutFirstSuspect: [],
    cutFirst: [],
    cutLast: [],
    cutMissed: 0,
    cutSlowProbers: [],
    cutCollateralDead: 0,
    healAll: [],
    healMissed: 0,
    lossRan: false,
    lossSuspicions: 0,
    lossSuspectEvents: 0,
    lossDeaths: 0,
    lossApplied: null,
  };
  try {
    if (!(await startCluster(system))) return null;
    await Bun.sleep(SETTLE_MS);
    for (let k = 0; k < (flags["cut-trials"] ?? 0); k += 1) {
      await cutTrial(system, ns, 2 + (k % (system.n - 1)), figures);
      log(
        `${system.name} (netns): cut trial ${k + 1}: suspected ${figures.cutFirstSuspect.at(-1)?.toFixed(2)} s, first ${figures.cutFirst.at(-1)?.toFixed(2)} s, last ${figures.cutLast.at(-1)?.toFixed(2)} s, heal ${figures.healAll.at(-1)?.toFixed(2)} s, slow probers ${figures.cutSlowProbers.at(-1) ?? "n/a"}`,
      );
    }
    if ((flags["loss-s"] ?? 0) > 0 && (flags["loss-pct"] ?? 0) > 0) {
      await lossWindow(system, ns, flags, figures);
      log(
        `${system.name} (netns): ${flags["loss-pct"]}% loss: ${figures.lossSuspicions} suspicions, ${figures.lossDeaths} deaths`,
      );
    }
    return figures;
  } finally {
    await system.stopAll();
  }
}

async function startCluster(system: System): Promise<boolean> {
  system.start(1);
  // Serf gives up (exits) when its -join seed is not listening yet: let the seed come up.
  await Bun.sleep(SEED_START_MS);
  for (let i = 2; i <= system.n; i += 1) system.start(i);
  if (!(await until(() => system.allAlive(), CONVERGE_DEADLINE_MS))) return false;
  log(`${system.name}: ${system.n} members converged`);
  return true;
}

function log(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2
    ? (sorted[Math.floor(mid)] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function summary(values: number[]): string {
  if (values.length === 0) return "n/a";
  const sorted = [...values].sort((a, b) => a - b);
  const median = medianOf(sorted);
  return `${median.toFixed(2)} (${(sorted[0] ?? 0).toFixed(2)}–${(sorted.at(-1) ?? 0).toFixed(2)}) s n=${values.length}`;
}

function report(
  rows: Array<[string, Figures | null]>,
  netnsRows: Map<string, NetnsFigures | null>,
  netnsSkipped: string | null,
  flags: Record<string, number>,
): void {
  const col = (f: Figures | null, pick: (f: Figures) => string) => (f === null ? "n/a" : pick(f));
  const lines: Array<[string, (f: Figures) => string]> = [
    ["kill -9 → first survivor declares dead, median (min–max)", (f) => summary(f.first)],
    ["kill -9 → every survivor declares dead, median (min–max)", (f) => summary(f.last)],
    ["kill trials not detected by all within 30 s", (f) => String(f.missed)],
    [
      `${flags["stop-s"]} s SIGSTOP declared dead (trials)`,
      (f) => `${f.stopDeclaredDead} of ${f.stopTrials}`,
    ],
    [`full CPU ${flags["cpu-s"]} s: suspicions / deaths`, (f) => `${f.cpuSuspects} / ${f.cpuDead}`],
    [
      "steady state per node: bytes/s, packets/s (sent)",
      (f) =>
        f.load === null
          ? "n/a (no counters; anchor: ~320 B/s, ~2.3 pkt/s)"
          : `${f.load.bytesPerS.toFixed(0)} B/s, ${f.load.packetsPerS.toFixed(2)} pkt/s`,
    ],
  ];
  console.log(`\n${"measure".padEnd(58)}${rows.map(([name]) => name.padEnd(34)).join("")}`);
  for (const [label, pick] of lines) {
    console.log(`${label.padEnd(58)}${rows.map(([, f]) => col(f, pick).padEnd(34)).join("")}`);
  }
  if (netnsSkipped !== null) {
    console.log(
      `namespace measurements (cut link, ${flags["loss-pct"]}% loss): skipped: ${netnsSkipped}`,
    );
    return;
  }
  const pct = flags["loss-pct"];
  const netnsLines: Array<[string, (f: NetnsFigures) => string]> = [
    ["cut link → first survivor suspects, median (min–max)", (f) => summary(f.cutFirstSuspect)],
    ["cut link → first survivor declares dead, median (min–max)", (f) => summary(f.cutFirst)],
    ["cut link → every survivor declares dead, median (min–max)", (f) => summary(f.cutLast)],
    [
      `cut trials not detected by all within ${CUT_DETECT_DEADLINE_MS / 1000} s`,
      (f) => String(f.cutMissed),
    ],
    [
      "cut: survivors with raised local health at cut, median",
      (f) =>
        f.cutSlowProbers.length === 0
          ? "n/a"
          : `${medianOf(f.cutSlowProbers)} of ${(flags.nodes ?? 10) - 1}`,
    ],
    ["cut: a survivor declared another survivor dead", (f) => String(f.cutCollateralDead)],
    ["heal → every survivor sees it alive, median (min–max)", (f) => summary(f.healAll)],
    [
      `heals not converged within ${HEAL_DEADLINE_MS / 1000} s (member restarted)`,
      (f) => String(f.healMissed),
    ],
    [
      `${pct}% loss ${flags["loss-s"]} s: suspicions raised / deaths`,
      (f) =>
        !f.lossRan
          ? "not run"
          : `${f.lossSuspicions}${f.lossSuspectEvents !== f.lossSuspicions ? ` (${f.lossSuspectEvents} obs.)` : ""} / ${f.lossDeaths}`,
    ],
    [
      "loss applied: dropped / seen gossip packets",
      (f) =>
        f.lossApplied === null
          ? "n/a"
          : `${f.lossApplied.dropped} / ${f.lossApplied.seen} (${((100 * f.lossApplied.dropped) / Math.max(1, f.lossApplied.seen)).toFixed(1)}%)`,
    ],
  ];
  console.log(`in a private network namespace, members on ${Netns.host(1)}…, nftables drop rules:`);
  for (const [label, pick] of netnsLines) {
    const cells = rows.map(([name]) => {
      const f = netnsRows.get(name);
      return (f === undefined || f === null ? "n/a" : pick(f)).padEnd(34);
    });
    console.log(`${label.padEnd(58)}${cells.join("")}`);
  }
  console.log(
    '(suspicions raised: FTFS counts distinct member+incarnation, "obs." = observers told;',
  );
  console.log(
    ' Serf counts its probers\' "Suspect … has failed" log lines; deaths: (observer, member) pairs)',
  );
}

/**
 * Serf's steady load, measured apart (tcpdump in a namespace, /work/shared/peers/serf): Serf
 * exposes no packet counters, so this one aim compares with that anchor, not the same run.
 */
const SERF_LOAD_ANCHOR = { bytesPerS: 320, packetsPerS: 2.3 };
/** Issue 20: a cut link is declared dead by every survivor in at most this share of Serf's. */
const CUT_LINK_SHARE_OF_SERF_MAX = 0.5;

type Verdict = "met" | "NOT met" | "not judged";

function verdictOf(ok: boolean | null): Verdict {
  if (ok === null) return "not judged";
  return ok ? "met" : "NOT met";
}

/** Issue 20's aims, each judged against Serf's figures of this same run. */
function aims(
  rows: Array<[string, Figures | null]>,
  netnsRows: Map<string, NetnsFigures | null>,
  flags: Record<string, number>,
): void {
  const ftfs = rows.find(([name]) => name === "FTFS")?.[1] ?? null;
  const serf = rows.find(([name]) => name !== "FTFS")?.[1] ?? null;
  const serfName = rows.find(([name]) => name !== "FTFS")?.[0];
  const ftfsNs = netnsRows.get("FTFS") ?? null;
  const serfNs = serfName === undefined ? null : (netnsRows.get(serfName) ?? null);
  const lines: Array<[string, string, Verdict]> = [];

  const cutOk =
    ftfsNs === null || serfNs === null || ftfsNs.cutLast.length === 0 || serfNs.cutLast.length === 0
      ? null
      : ftfsNs.cutMissed === 0 &&
        medianOf(ftfsNs.cutLast) <= CUT_LINK_SHARE_OF_SERF_MAX * medianOf(serfNs.cutLast);
  lines.push([
    "cut link → every survivor, median ≤ ½ Serf's",
    ftfsNs === null || serfNs === null
      ? "n/a"
      : `FTFS ${medianOf(ftfsNs.cutLast).toFixed(2)} s (n=${ftfsNs.cutLast.length}, missed ${ftfsNs.cutMissed}), Serf ${medianOf(serfNs.cutLast).toFixed(2)} s: ½ = ${(CUT_LINK_SHARE_OF_SERF_MAX * medianOf(serfNs.cutLast)).toFixed(2)} s`,
    verdictOf(cutOk),
  ]);

  const lossOk =
    ftfsNs?.lossRan && serfNs?.lossRan
      ? ftfsNs.lossDeaths === 0 && ftfsNs.lossSuspicions <= serfNs.lossSuspicions
      : null;
  lines.push([
    `${flags["loss-pct"]}% loss ${flags["loss-s"]} s: 0 deaths, suspicions ≤ Serf's`,
    ftfsNs?.lossRan && serfNs?.lossRan
      ? `FTFS ${ftfsNs.lossSuspicions} susp. / ${ftfsNs.lossDeaths} deaths, Serf ${serfNs.lossSuspicions} / ${serfNs.lossDeaths}`
      : "n/a",
    verdictOf(lossOk),
  ]);

  const cpuOk =
    ftfs?.cpuRan && serf?.cpuRan
      ? ftfs.cpuDead === 0 && ftfs.cpuSuspects <= serf.cpuSuspects
      : null;
  lines.push([
    `full CPU ${flags["cpu-s"]} s: 0 deaths, suspicions ≤ Serf's`,
    ftfs?.cpuRan && serf?.cpuRan
      ? `FTFS ${ftfs.cpuSuspects} susp. / ${ftfs.cpuDead} deaths, Serf ${serf.cpuSuspects} / ${serf.cpuDead}`
      : "n/a",
    verdictOf(cpuOk),
  ]);

  const stopOk = ftfs === null || ftfs.stopTrials === 0 ? null : ftfs.stopDeclaredDead === 0;
  lines.push([
    `${flags["stop-s"]} s SIGSTOP never declared dead`,
    ftfs === null
      ? "n/a"
      : `FTFS ${ftfs.stopDeclaredDead} of ${ftfs.stopTrials}, Serf ${serf === null ? "n/a" : `${serf.stopDeclaredDead} of ${serf.stopTrials}`}`,
    verdictOf(stopOk),
  ]);

  const load = ftfs?.load ?? null;
  const loadOk =
    load === null
      ? null
      : load.bytesPerS <= SERF_LOAD_ANCHOR.bytesPerS &&
        load.packetsPerS <= SERF_LOAD_ANCHOR.packetsPerS;
  lines.push([
    "steady load per node ≤ Serf's (Serf: its anchor)",
    load === null
      ? "n/a"
      : `FTFS ${load.bytesPerS.toFixed(0)} B/s, ${load.packetsPerS.toFixed(2)} pkt/s; Serf anchor ${SERF_LOAD_ANCHOR.bytesPerS} B/s, ${SERF_LOAD_ANCHOR.packetsPerS} pkt/s`,
    verdictOf(loadOk),
  ]);

  console.log("\naims (issue 20), judged beside Serf in this run:");
  for (const [aim, figures, verdict] of lines) {
    console.log(`  ${verdict.padEnd(11)}${aim.padEnd(50)}${figures}`);
  }
}

async function main(): Promise<void> {
  const raw = parseFlags(process.argv.slice(2), FLAGS);
  if (raw.help === "true") {
    console.log(
      `usage: bun run bench:gossip [--nodes N] [--trials K] [--stop-trials K] [--stop-s S] [--load-s S] [--cpu-s S] [--serf auto|off]`,
    );
    console.log(
      `         [--netns auto|off] [--cut-trials K] [--loss-s S] [--loss-pct P]   (namespace: root, ip, nft)`,
    );
    return;
  }
  const flags: Record<string, number> = {};
  for (const name of INTEGER_FLAGS)
    flags[name] = parseIntegerFlag(name, raw[name] ?? "0", 0, 100_000);
  if ((flags["loss-pct"] ?? 0) > 100) throw new Error("--loss-pct is a percent (0..100)");
  const n = flags.nodes ?? 10;
  const serfWanted = raw.serf !== "off";
  const serfHere = serfWanted && Bun.which("serf") !== null;
  const serfLabel = "Serf (memberlist, LAN)";

  // Everything started is tracked so a failure or Ctrl-C leaves no member and no namespace behind.
  const systems: System[] = [];
  const track = (system: System): System => {
    systems.push(system);
    return system;
  };
  let ns: Netns | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping members, removing the namespace`);
    for (const system of systems) void system.stopAll();
    ns?.destroy();
    process.exit(128 + (signal === "SIGINT" ? 2 : 15));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const rows: Array<[string, Figures | null]> = [
      ["FTFS", await measure(track(ftfsSystem(n)), flags)],
    ];
    if (serfHere) rows.push([serfLabel, await measure(track(serfSystem(n)), flags)]);
    else if (serfWanted) log("serf is not installed (apt-get install -y serf): FTFS only");

    let netnsSkipped = raw.netns === "off" ? "--netns off" : Netns.unavailableReason();
    if (netnsSkipped === null) {
      try {
        ns = Netns.create();
      } catch (error) {
        netnsSkipped = `could not create a namespace: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    const netnsRows = new Map<string, NetnsFigures | null>();
    if (ns !== null) {
      log(`namespace ${ns.name}: cut-link and loss measurements`);
      netnsRows.set("FTFS", await measureNetns(track(ftfsSystem(n, inNetns(ns))), ns, flags));
      if (serfHere)
        netnsRows.set(serfLabel, await measureNetns(track(serfSystem(n, inNetns(ns))), ns, flags));
    } else {
      log(`namespace measurements (cut link, loss) skipped: ${netnsSkipped}`);
    }
    console.log(
      `\n${n} members on loopback, ${navigator.hardwareConcurrency} cores; durations from flags ${JSON.stringify(flags)}`,
    );
    report(rows, netnsRows, netnsSkipped, flags);
    aims(rows, netnsRows, flags);
  } finally {
    for (const system of systems) await system.stopAll();
    ns?.destroy();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

await main();
