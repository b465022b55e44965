/**
 * Directory failover under load: 3 directory nodes (Raft) and one storage group of 3, real
 * processes; client loops upload small files through FtfsClient while the directory primary is
 * killed with SIGKILL. Per trial: kill → first upload the new primary acknowledged, the longest
 * silence between acknowledgements, uploads that surfaced an error, and restart → the killed
 * node's own state lists every upload acknowledged before its restart. Owns its cluster; does
 * not judge the figures (the report does).
 */

import { join } from "node:path";
import { startCluster, type LocalCluster, type NodeProcess } from "@ftfs/protocol/testing";
import { RpcClient } from "@ftfs/protocol/io";
import { FtfsClient } from "@ftfs/client";
import { errorText, log, pollUntil, waitForPrimary, waitForSettled } from "./probe.ts";

const KIB = 1024;
export const FAILOVER_CHUNK_BYTES = 64 * KIB;
export const FAILOVER_FILE_BYTES = 4 * KIB;
export const FAILOVER_STORAGE_REPLICAS = 3;
const DIRECTORIES = 3;
const STORAGE_GROUPS = 1;
/** A failover should take about a second; this only bounds a hung trial. */
const TAKEOVER_DEADLINE_MS = 30_000;
const CATCH_UP_DEADLINE_MS = 60_000;
const SETTLE_DEADLINE_MS = 30_000;
const STATUS_CONNECT_TIMEOUT_MS = 500;
const LIST_TIMEOUT_MS = 2_000;

export interface FailoverOptions {
  readonly trials: number;
  /** Concurrent upload loops, each with its own FtfsClient (own connections, own view). */
  readonly loops: number;
  /** Uploads acknowledged, and time spent, before the kill: the primary is busy when it dies. */
  readonly steadyAcks: number;
  readonly steadyMs: number;
  /** Acknowledgements by the new primary before the killed node is restarted. */
  readonly acksAfterTakeover: number;
  /** Uploads go on this long after the restarted node caught up (a rejoin must not stall them). */
  readonly tailMs: number;
}

export interface FailoverTrial {
  readonly victim: string;
  readonly successor: string;
  readonly killToFirstAckMs: number;
  readonly longestGapMs: number;
  readonly errors: number;
  readonly firstErrors: readonly string[];
  readonly retries: number;
  readonly acks: number;
  readonly restartToCaughtUpMs: number;
}

interface Ack {
  readonly tMs: number;
  readonly name: string;
  /** The directory address that answered the commit (the client's primary right after it). */
  readonly committer: string | null;
}

/** The upload loops of one trial: each its own FtfsClient, files named <uid>-<loop>-<n>. */
class UploadLoops {
  readonly acks: Ack[] = [];
  readonly errors: string[] = [];
  /** Retries the clients made (failover redirects, backoffs): context for the error count. */
  retries = 0;
  private running = true;
  private done: Promise<void> = Promise.resolve();

  static async start(
    addresses: readonly string[],
    uid: string,
    loops: number,
  ): Promise<UploadLoops> {
    const self = new UploadLoops();
    const onRetry = (): void => {
      self.retries += 1;
    };
    const clients = Array.from(
      { length: loops },
      () => new FtfsClient({ directories: addresses, onRetry }),
    );
    await clients[0]?.connect(uid); // creates the user once, so the others only read
    await Promise.all(clients.map((client) => client.connect(uid)));
    const running = clients.map((client, loop) => self.run(client, uid, loop));
    self.done = Promise.all(running).then(() => undefined);
    return self;
  }

  private async run(client: FtfsClient, uid: string, loop: number): Promise<void> {
    try {
      for (let n = 0; this.running; n += 1) {
        const name = `${uid}-${loop}-${n}`;
        const bytes = crypto.getRandomValues(new Uint8Array(FAILOVER_FILE_BYTES));
        try {
          await client.uploadBytes(uid, name, bytes);
          this.acks.push({ tMs: performance.now(), name, committer: client.primary });
        } catch (error) {
          this.errors.push(`${name}: ${errorText(error)}`);
        }
      }
    } finally {
      client.close();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

export async function runFailover(
  options: FailoverOptions,
  dataRoot: string,
): Promise<FailoverTrial[]> {
  const cluster = await startCluster({
    directories: DIRECTORIES,
    groups: [{ name: "s1", size: FAILOVER_STORAGE_REPLICAS }],
    chunkBytes: FAILOVER_CHUNK_BYTES,
    dataRoot: join(dataRoot, "failover-cluster"),
  });
  const trials: FailoverTrial[] = [];
  try {
    for (let trial = 1; trial <= options.trials; trial += 1) {
      const result = await runTrial(cluster, options, `fo${trial}`);
      trials.push(result);
      const { victim, successor, killToFirstAckMs, longestGapMs, errors } = result;
      log(
        `failover trial ${trial}: ${victim} killed → ${successor} acked after ` +
          `${killToFirstAckMs.toFixed(0)} ms; longest gap ${longestGapMs.toFixed(0)} ms; ` +
          `${errors} errors; caught up in ${result.restartToCaughtUpMs.toFixed(0)} ms`,
      );
    }
  } finally {
    await cluster.stop();
  }
  return trials;
}

async function runTrial(
  cluster: LocalCluster,
  options: FailoverOptions,
  uid: string,
): Promise<FailoverTrial> {
  await waitForSettled(cluster.nodes, STORAGE_GROUPS, SETTLE_DEADLINE_MS);
  const loops = await UploadLoops.start(cluster.directoryAddresses, uid, options.loops);
  try {
    const startMs = performance.now();
    await pollUntil(
      "steady uploads",
      () => {
        const steady = performance.now() - startMs >= options.steadyMs;
        return steady && loops.acks.length >= options.steadyAcks ? true : undefined;
      },
      TAKEOVER_DEADLINE_MS,
    );
    const victim = await waitForPrimary(cluster.nodes, SETTLE_DEADLINE_MS);
    const windowStartMs = loops.acks.at(-1)?.tMs ?? performance.now();
    const killMs = performance.now();
    victim.node.kill("SIGKILL");
    const byOther = (ack: Ack): boolean =>
      ack.committer !== null && ack.committer !== victim.node.address;
    const first = await pollUntil(
      "an upload acknowledged by the new primary",
      () => loops.acks.find((ack) => ack.tMs > killMs && byOther(ack)),
      TAKEOVER_DEADLINE_MS,
    );
    const takeoverAcks = loops.acks.length;
    await pollUntil(
      "uploads after the takeover",
      () => (loops.acks.length >= takeoverAcks + options.acksAfterTakeover ? true : undefined),
      TAKEOVER_DEADLINE_MS,
    );
    await victim.node.exited();
    const acknowledged = loops.acks.map((ack) => ack.name);
    const restartMs = performance.now();
    await victim.node.restart();
    await waitCaughtUp(victim.node, uid, acknowledged);
    const restartToCaughtUpMs = performance.now() - restartMs;
    await Bun.sleep(options.tailMs);
    await loops.stop();
    return {
      victim: victim.node.id,
      successor: nodeIdOf(cluster, first.committer),
      killToFirstAckMs: first.tMs - killMs,
      longestGapMs: longestGap(loops.acks, windowStartMs),
      errors: loops.errors.length,
      firstErrors: loops.errors.slice(0, 3),
      retries: loops.retries,
      acks: loops.acks.length,
      restartToCaughtUpMs,
    };
  } finally {
    await loops.stop();
  }
}

/** The restarted node's own applied state (a stale read) lists every name given. */
async function waitCaughtUp(
  node: NodeProcess,
  uid: string,
  names: readonly string[],
): Promise<void> {
  await pollUntil(
    `${node.id} caught up`,
    async () => {
      const client = await RpcClient.connect(node.address, STATUS_CONNECT_TIMEOUT_MS).catch(
        () => null,
      );
      if (client === null) return undefined;
      try {
        const request = { uid, stale: true };
        const answer = await client.call("listFiles", request, { timeoutMs: LIST_TIMEOUT_MS });
        const listed = new Set(answer.body.files.map((file) => file.name));
        return names.every((name) => listed.has(name)) ? true : undefined;
      } catch {
        return undefined; // not serving yet, or the user is not replicated yet
      } finally {
        client.close();
      }
    },
    CATCH_UP_DEADLINE_MS,
  );
}

/** Longest silence between consecutive acknowledgements from `fromMs` to the last one. */
function longestGap(acks: readonly Ack[], fromMs: number): number {
  const times = acks
    .map((ack) => ack.tMs)
    .filter((tMs) => tMs >= fromMs)
    .sort((a, b) => a - b);
  let longest = 0;
  for (let index = 1; index < times.length; index += 1) {
    longest = Math.max(longest, (times[index] ?? 0) - (times[index - 1] ?? 0));
  }
  return longest;
}

function nodeIdOf(cluster: LocalCluster, address: string | null): string {
  return cluster.nodes.find((node) => node.address === address)?.id ?? String(address);
}
