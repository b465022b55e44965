/**
 * A new directory member catching up from a snapshot image of a large directory, while clients
 * keep committing: a one-node group on a directory built in bulk (scale.ts), its snapshot an
 * image; a second node started empty (`--new-member`) and added with the real `ftfs` binary;
 * `clients` connections committing 0-byte files to the primary throughout. Measures the time
 * from the add to the image installed and to the promotion to voter, each process's peak RSS
 * (the kernel's high-water mark: it sees the peak however short), and the commit rate before
 * and during the catch-up. Owns the folders it builds and the processes it starts.
 */

import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { freePort, type NodeProcess, runFtfs, standaloneDirectory } from "@ftfs/protocol/testing";
import { peakRssBytes } from "../common/process-memory.ts";
import { commitEmptyFile } from "./commits.ts";
import { errorText, formatMs, log, PrimaryConnection, pollUntil } from "./probe.ts";
import { buildDatabase, type ScaleOptions } from "./scale.ts";

const START_DEADLINE_MS = 600_000;
/** A 10,000,000-file image is gigabytes; its copy, transfer and checks take minutes. */
const CATCH_UP_DEADLINE_MS = 3_600_000;
const CONNECT_TIMEOUT_MS = 5_000;
const BASELINE_WINDOW_MS = 5_000;
const ERROR_PAUSE_MS = 100;
const MEMBERS_POLL_MS = 250;

export interface CatchupOptions {
  readonly files: number;
  readonly users: number;
  readonly clients: number;
}

export interface CatchupFigures {
  readonly options: CatchupOptions;
  readonly buildMs: number;
  readonly imageBytes: number;
  readonly imageExportMs: number;
  /** From the add to the new member's log saying it installed the image. */
  readonly addToInstalledMs: number;
  /** From the add to the new member listed as a voter. */
  readonly addToVoterMs: number;
  readonly commitsPerSecondBefore: number;
  readonly commitsPerSecondDuring: number;
  readonly commitErrorsDuring: number;
  readonly firstErrors: readonly string[];
  /** The new member's own account (its log): parts over the link, whole-file checks, swap. */
  readonly fetchMs: number | null;
  readonly checkMs: number | null;
  readonly swapMainThreadMs: number | null;
  readonly primaryPeakRssBytes: number | null;
  /**
   * From the add to the promotion: suspicions the primary's gossip raised (of any member; the
   * new member is the only other one), and those the new member heard of itself and refuted.
   */
  readonly suspicionsRaisedByPrimary: number | null;
  readonly suspicionsRefutedByNewMember: number | null;
  readonly newMemberPeakRssBytes: number | null;
  readonly benchPeakRssBytes: number | null;
}

const SUSPICIONS_METRIC = "ftfs_gossip_suspicions_total";
const REFUTATIONS_METRIC = "ftfs_gossip_refutations_total";

/** A counter's value from a node's /metrics (summed over its labels), or null if unreadable. */
async function metricValue(httpAddress: string, name: string): Promise<number | null> {
  try {
    const text = await (await fetch(`http://${httpAddress}/metrics`)).text();
    let total: number | null = null;
    for (const line of text.split("\n")) {
      if (!line.startsWith(name) || (line[name.length] !== " " && line[name.length] !== "{")) {
        continue;
      }
      total = (total ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return total ?? 0;
  } catch {
    return null; // the node did not answer: the figure is unknown, said as such
  }
}

function difference(after: number | null, before: number | null): number | null {
  return after === null || before === null ? null : after - before;
}

function directory(id: string, address: string, folder: string, extra: readonly string[]) {
  return standaloneDirectory(id, address, folder, extra);
}

/** Committing clients, each its own user, until stopped; every commit's end is kept. */
class CommitLoad {
  readonly endsMs: number[] = [];
  readonly errors: Array<{ atMs: number; text: string }> = [];
  private running = true;
  private readonly loops: Array<Promise<void>>;

  constructor(connections: readonly PrimaryConnection[]) {
    this.loops = connections.map((connection, index) => this.loop(connection, `load-${index}`));
  }

  private async loop(connection: PrimaryConnection, uid: string): Promise<void> {
    await connection.call("connect", { uid }, CONNECT_TIMEOUT_MS);
    for (let n = 0; this.running; n += 1) {
      try {
        await commitEmptyFile(connection, uid, `f${n}`);
        this.endsMs.push(performance.now());
      } catch (error) {
        this.errors.push({ atMs: performance.now(), text: errorText(error) });
        await Bun.sleep(ERROR_PAUSE_MS);
      }
    }
  }

  ratePerSecond(fromMs: number, toMs: number): number {
    const count = this.endsMs.filter((at) => at >= fromMs && at <= toMs).length;
    return count / ((toMs - fromMs) / 1000);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/** A number field of the first log line that says `message` (JSON lines), or null. */
function logField(log: string, message: string, field: string): number | null {
  const line = log.split("\n").find((candidate) => candidate.includes(message));
  const match = line === undefined ? null : new RegExp(`"${field}":(\\d+)`).exec(line);
  return match === null ? null : Number(match[1]);
}

async function voters(address: string): Promise<string[] | undefined> {
  const run = await runFtfs(["admin", "directory", "ls", "--json"], {
    env: { FTFS_CLUSTER: address },
  });
  if (run.exitCode !== 0) return undefined;
  const view = JSON.parse(new TextDecoder().decode(run.stdout)) as {
    members: Array<{ node: string; voter: boolean }>;
  };
  return view.members.filter((member) => member.voter).map((member) => member.node);
}

export async function runCatchup(
  options: CatchupOptions,
  workDir: string,
): Promise<CatchupFigures> {
  const d1Folder = join(workDir, "catchup-d1");
  const d2Folder = join(workDir, "catchup-d2");
  const d1Address = `127.0.0.1:${await freePort()}`;
  const d2Address = `127.0.0.1:${await freePort()}`;
  const nodes: NodeProcess[] = [];
  const connections: PrimaryConnection[] = [];
  try {
    await Bun.write(join(d1Folder, ".keep"), "");
    await Bun.write(join(d2Folder, ".keep"), "");
    log(`catch-up: building ${options.files} files in bulk in ${d1Folder}`);
    const plan: ScaleOptions = {
      files: options.files,
      users: options.users,
      bigUserFiles: Math.floor(options.files / 10),
      midUserFiles: Math.min(1_000, Math.floor(options.files / 100)),
      listRepeats: 1,
      commits: 1,
    };
    const built = await buildDatabase(d1Folder, d1Address, plan, "bulk");
    const benchPeakRssBytes = await peakRssBytes(process.pid);
    log(
      `catch-up: built in ${formatMs(built.buildMs)}; image ` +
        `${(built.snapshotBytes / 2 ** 20).toFixed(0)} MiB in ${formatMs(built.snapshotExportMs)}`,
    );
    const d1Http = `127.0.0.1:${await freePort()}`;
    const d2Http = `127.0.0.1:${await freePort()}`;
    const d1 = directory("d1", d1Address, d1Folder, ["--expect", "1", "--http-listen", d1Http]);
    nodes.push(d1);
    d1.start();
    await pollUntil("d1 to serve", () => voters(d1Address), START_DEADLINE_MS);
    const d2 = directory("d2", d2Address, d2Folder, [
      "--join",
      d1Address,
      "--new-member",
      "--http-listen",
      d2Http,
    ]);
    nodes.push(d2);
    d2.start();
    for (let n = 0; n < options.clients; n += 1) {
      connections.push(await PrimaryConnection.open(d1Address, CONNECT_TIMEOUT_MS));
    }
    const load = new CommitLoad(connections);
    await Bun.sleep(BASELINE_WINDOW_MS);
    const raisedBefore = await metricValue(d1Http, SUSPICIONS_METRIC);
    const refutedBefore = await metricValue(d2Http, REFUTATIONS_METRIC);
    const addMs = performance.now();
    const commitsPerSecondBefore = load.ratePerSecond(addMs - BASELINE_WINDOW_MS, addMs);
    log(
      `catch-up: ${options.clients} clients at ${commitsPerSecondBefore.toFixed(0)}/s; adding d2`,
    );
    const added = await runFtfs(["admin", "directory", "add", "d2", d2Address], {
      env: { FTFS_CLUSTER: d1Address },
    });
    if (added.exitCode !== 0) throw new Error(`ftfs admin directory add: ${added.stderr.trim()}`);
    const installedMs = await pollUntil(
      "d2 to install the image",
      async () => {
        const text = await readFile(d2.logPath, "utf8").catch(() => "");
        return text.includes("state restored from the primary's snapshot")
          ? performance.now()
          : undefined;
      },
      CATCH_UP_DEADLINE_MS,
    );
    log(`catch-up: image installed ${formatMs(installedMs - addMs)} after the add`);
    const voterMs = await pollUntil(
      "d2 promoted to voter",
      async () => {
        await Bun.sleep(MEMBERS_POLL_MS);
        return (await voters(d1Address))?.includes("d2") === true ? performance.now() : undefined;
      },
      CATCH_UP_DEADLINE_MS,
    );
    const commitsPerSecondDuring = load.ratePerSecond(addMs, voterMs);
    const raisedAfter = await metricValue(d1Http, SUSPICIONS_METRIC);
    const refutedAfter = await metricValue(d2Http, REFUTATIONS_METRIC);
    const primaryPeakRssBytes = await peakRssBytes(d1.pid ?? 0);
    const newMemberPeakRssBytes = await peakRssBytes(d2.pid ?? 0);
    await load.stop();
    const during = load.errors.filter((error) => error.atMs >= addMs && error.atMs <= voterMs);
    const d2Log = await readFile(d2.logPath, "utf8").catch(() => "");
    return {
      options,
      buildMs: built.buildMs,
      imageBytes: built.snapshotBytes,
      imageExportMs: built.snapshotExportMs,
      addToInstalledMs: installedMs - addMs,
      addToVoterMs: voterMs - addMs,
      commitsPerSecondBefore,
      commitsPerSecondDuring,
      commitErrorsDuring: during.length,
      firstErrors: during.slice(0, 3).map((error) => error.text),
      fetchMs: logField(d2Log, "snapshot image transfer done", "fetchMs"),
      checkMs: logField(d2Log, "snapshot image transfer done", "checkMs"),
      swapMainThreadMs: logField(d2Log, "snapshot installed", "mainThreadMs"),
      primaryPeakRssBytes,
      suspicionsRaisedByPrimary: difference(raisedAfter, raisedBefore),
      suspicionsRefutedByNewMember: difference(refutedAfter, refutedBefore),
      newMemberPeakRssBytes,
      benchPeakRssBytes,
    };
  } finally {
    for (const connection of connections) connection.close();
    for (const node of nodes) await node.stop();
    await rm(d1Folder, { recursive: true, force: true });
    await rm(d2Folder, { recursive: true, force: true });
  }
}
