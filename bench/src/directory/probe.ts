/**
 * What the directory benches share: asking each directory node who it thinks it is (primary or
 * backup), waiting for one primary, a raw RPC connection that follows NOT_PRIMARY hints, polling
 * with a deadline, and latency summaries. Owns no process: callers start and stop the cluster.
 */

import { FtfsError, type Op, type RequestBody } from "@ftfs/protocol/core";
import { RpcClient, type CallResult } from "@ftfs/protocol/io";
import type { NodeProcess } from "@ftfs/protocol/testing";

/** A status probe must not hang on a killed or paused node. */
const STATUS_CONNECT_TIMEOUT_MS = 500;
const STATUS_CALL_TIMEOUT_MS = 1_000;
const POLL_INTERVAL_MS = 20;
/** Redirects followed in a row before a raw call gives up: bounds a redirect loop. */
const PRIMARY_REDIRECTS_MAX = 4;

export interface DirectoryView {
  readonly node: NodeProcess;
  readonly primary: boolean;
  readonly term: number;
  /** Directory members this node's status shows alive (itself included). */
  readonly directoriesAlive: number;
  /** Storage groups with a primary, as this node's replicated configuration says. */
  readonly groupsWithPrimary: number;
  /** Every member as this node sees it, `id role state`: what a timeout message shows. */
  readonly members: string;
}

/** What each live directory node says of itself; a node that does not answer is left out. */
export async function directoryViews(nodes: readonly NodeProcess[]): Promise<DirectoryView[]> {
  const directories = nodes.filter((node) => node.role === "directory");
  const views = await Promise.all(directories.map((node) => directoryView(node)));
  return views.filter((view): view is DirectoryView => view !== null);
}

async function directoryView(node: NodeProcess): Promise<DirectoryView | null> {
  let client: RpcClient | null = null;
  try {
    client = await RpcClient.connect(node.address, STATUS_CONNECT_TIMEOUT_MS);
    const answer = await client.call("clusterStatus", {}, { timeoutMs: STATUS_CALL_TIMEOUT_MS });
    const status = answer.body;
    const self = status.members.find((member) => member.node === status.node);
    const directoriesAlive = status.members.filter(
      (member) => member.role === "directory" && member.state === "alive",
    ).length;
    const groupsWithPrimary = status.groups.filter((group) => group.primary !== null).length;
    const primary = self?.primary === true;
    const members = status.members
      .map((member) => `${member.node} ${member.role}${member.primary ? "*" : ""} ${member.state}`)
      .join(", ");
    return { node, primary, term: self?.epoch ?? 0, directoriesAlive, groupsWithPrimary, members };
  } catch {
    return null; // a killed, paused or starting node does not answer; it is not in the view
  } finally {
    client?.close();
  }
}

/** Polls `probe` until it answers; `lastSeen` says what was seen when the deadline passes. */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  deadlineMs: number,
  lastSeen: () => string = () => "",
): Promise<T> {
  const giveUpAtMs = performance.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > giveUpAtMs) {
      const seen = lastSeen();
      const detail = seen === "" ? "" : `; ${seen}`;
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${detail}`);
    }
    await Bun.sleep(POLL_INTERVAL_MS);
  }
}

/** The one directory primary (not `other`), as the nodes themselves report it. */
export function waitForPrimary(
  nodes: readonly NodeProcess[],
  deadlineMs: number,
  other?: NodeProcess,
): Promise<DirectoryView> {
  return pollUntil(
    "one directory primary",
    async () => {
      const primaries = (await directoryViews(nodes)).filter((view) => view.primary);
      const found = primaries.length === 1 ? primaries[0] : undefined;
      return found !== undefined && found.node !== other ? found : undefined;
    },
    deadlineMs,
  );
}

/**
 * A whole, quiet cluster: every directory answers, one is primary, its gossip shows every
 * directory alive and every storage group has a primary. A trial started before this would
 * measure the previous trial's aftermath.
 */
export function waitForSettled(
  nodes: readonly NodeProcess[],
  groups: number,
  deadlineMs: number,
): Promise<DirectoryView> {
  const directories = nodes.filter((node) => node.role === "directory").length;
  let seen = "no directory answered";
  return pollUntil(
    "a settled cluster",
    async () => {
      const views = await directoryViews(nodes);
      seen = views
        .map((view) => `${view.node.id}${view.primary ? " (primary)" : ""} sees [${view.members}]`)
        .join("; ");
      const primaries = views.filter((view) => view.primary);
      const primary = primaries[0];
      if (views.length !== directories || primaries.length !== 1 || primary === undefined) {
        return undefined;
      }
      const whole =
        primary.directoriesAlive === directories && primary.groupsWithPrimary === groups;
      return whole ? primary : undefined;
    },
    deadlineMs,
    () => seen,
  );
}

/**
 * One raw RPC connection to the directory primary, re-aimed when a node answers NOT_PRIMARY
 * with a hint: the client library's redirect rule without its retries and backoff, so what is
 * timed is the directory's own cost.
 */
export class PrimaryConnection {
  private client: RpcClient;
  redirects = 0;

  private constructor(client: RpcClient) {
    this.client = client;
  }

  static async open(address: string, connectTimeoutMs: number): Promise<PrimaryConnection> {
    return new PrimaryConnection(await RpcClient.connect(address, connectTimeoutMs));
  }

  get address(): string {
    return this.client.address;
  }

  async call<O extends Op>(op: O, body: RequestBody<O>, timeoutMs: number): Promise<CallResult<O>> {
    for (let redirects = 0; ; redirects += 1) {
      try {
        return await this.client.call(op, body, { timeoutMs });
      } catch (error) {
        const redirected = error instanceof FtfsError && error.code === "NOT_PRIMARY";
        const hinted = redirected ? error.hint?.primary : undefined;
        if (hinted === undefined || redirects >= PRIMARY_REDIRECTS_MAX) throw error;
        this.redirects += 1;
        this.client.close();
        this.client = await RpcClient.connect(hinted, timeoutMs);
      }
    }
  }

  close(): void {
    this.client.close();
  }
}

/** Nearest-rank quantile of an ascending array (q in [0, 1]). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export function summarize(samplesMs: readonly number[]): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? Number.NaN,
  };
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(ms >= 10 ? 1 : 2)} ms`;
}

export function formatLatency(summary: LatencySummary): string {
  const { p50Ms, p99Ms, maxMs, count } = summary;
  return `p50 ${formatMs(p50Ms)}, p99 ${formatMs(p99Ms)}, max ${formatMs(maxMs)} (n=${count})`;
}

export function errorText(error: unknown): string {
  if (error instanceof FtfsError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** Progress lines go to stderr, so stdout holds only the report. */
export function log(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
