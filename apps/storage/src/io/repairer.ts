/**
 * Repair of damaged chunks: the chunk store reports rot, lost files and reads of chunks it
 * should hold (see `DamageKind`); the scrubber's sweep reports referenced chunks gone from the
 * store. Each becomes a job in a bounded, de-duplicated queue; one job at a time fetches the
 * chunk from another replica of the group (primary first), checks its SHA-256 and stores it.
 *
 * A full queue drops the request (counted and logged): the scrubber's next sweep finds every
 * referenced chunk still missing, so nothing is lost for good, only later. A repair that finds
 * no good copy is counted and logged, and waits for that same sweep.
 *
 * Which replicas to ask and which damage is worth a repair are core/scrub-rules.ts's calls.
 */

import type { GroupView } from "@ftfs/protocol/core";
import {
  describeError,
  fetchChunk,
  RpcPool,
  type FetchFailure,
  type ConnectOptions,
  type Logger,
} from "@ftfs/protocol/io";
import {
  REPAIR_CONNECT_TIMEOUT_MS,
  REPAIR_FETCH_TIMEOUT_MS,
  REPAIR_QUEUE_MAX,
  repairSources,
  repairWanted,
  type DamageKind,
  type Replica,
} from "../core/index.ts";
import type { ChunkStore } from "./chunk-store.ts";
import type { RefsStore } from "./refs-store.ts";

export interface RepairStats {
  /** Damage reported, by kind (before deciding whether it is worth a repair). */
  rotFound: number;
  missingFound: number;
  absentReported: number;
  queued: number;
  /** Requests refused because the queue was full. */
  dropped: number;
  repaired: number;
  repairedBytes: number;
  /** Jobs that found no good copy, or could not store it. */
  failed: number;
  /**
   * Chunks no replica holds that only unfinished uploads named: their references were dropped
   * (a put that failed everywhere and could not take its reference back, as on a full disk).
   */
  danglingDropped: number;
}

export interface RepairerOptions {
  readonly node: string;
  readonly chunks: ChunkStore;
  readonly refs: RefsStore;
  /** The group's current configuration (from the heartbeat); null before the first answer. */
  readonly view: () => GroupView | null;
  readonly logger: Logger;
  /** How this node proves itself to the replicas it copies from (the cluster key). */
  readonly connect?: ConnectOptions;
}

export class Repairer {
  readonly stats: RepairStats = {
    rotFound: 0,
    missingFound: 0,
    absentReported: 0,
    queued: 0,
    dropped: 0,
    repaired: 0,
    repairedBytes: 0,
    failed: 0,
    danglingDropped: 0,
  };
  private readonly options: RepairerOptions;
  private readonly pool: RpcPool;
  /** Chunk id → why; insertion order is repair order. */
  private readonly queue = new Map<string, DamageKind>();
  private working: Promise<void> | null = null;
  private stopped = false;

  constructor(options: RepairerOptions) {
    this.options = options;
    this.pool = new RpcPool(REPAIR_CONNECT_TIMEOUT_MS, options.connect);
  }

  /** The chunk store's damage listener. */
  readonly onDamage = (chunkId: string, kind: DamageKind): void => {
    if (this.stopped) return;
    this.count(kind);
    const references = kind === "absent" ? this.options.refs.referencesTo(chunkId) : 0;
    if (!repairWanted(kind, references)) return;
    this.schedule(chunkId, kind);
  };

  /** Queue a repair; answers whether it was queued, already waiting, or dropped (full). */
  schedule(chunkId: string, kind: DamageKind): "queued" | "waiting" | "full" {
    if (this.stopped) return "full";
    if (this.queue.has(chunkId)) return "waiting";
    if (this.queue.size >= REPAIR_QUEUE_MAX) {
      this.stats.dropped += 1;
      this.options.logger.warn("repair queue full; request dropped until the next sweep", {
        chunkId,
        kind,
        queued: this.queue.size,
      });
      return "full";
    }
    this.queue.set(chunkId, kind);
    this.stats.queued += 1;
    this.working ??= this.work().finally(() => {
      this.working = null;
    });
    return "queued";
  }

  /** Repairs waiting or running; the sweep leaves room for client-found damage. */
  get backlog(): number {
    return this.queue.size;
  }

  /** Resolves when the queue is empty (tests). */
  async idle(): Promise<void> {
    while (this.working !== null) await this.working;
  }

  /** Stop taking jobs, let the running one finish, close connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.clear();
    await this.working;
    this.pool.close();
  }

  private count(kind: DamageKind): void {
    if (kind === "rot") this.stats.rotFound += 1;
    else if (kind === "missing") this.stats.missingFound += 1;
    else this.stats.absentReported += 1;
  }

  private async work(): Promise<void> {
    for (;;) {
      const next = this.queue.entries().next();
      if (next.done || this.stopped) return;
      const [chunkId, kind] = next.value;
      try {
        await this.repair(chunkId, kind);
      } catch (error) {
        // An I/O failure storing the copy: this job failed; the others still run.
        this.stats.failed += 1;
        this.options.logger.error("chunk repair failed", {
          chunkId,
          kind,
          error: describeError(error),
        });
      } finally {
        this.queue.delete(chunkId);
      }
    }
  }

  private async repair(chunkId: string, kind: DamageKind): Promise<void> {
    const { chunks, logger } = this.options;
    if (chunks.has(chunkId)) return; // a client's put stored it again meanwhile
    const sources = repairSources(this.options.view(), this.options.node);
    const problems: string[] = [];
    const fetched = await fetchChunk(this.pool, {
      chunkId,
      addresses: sources.map((source) => source.address),
      timeoutMs: REPAIR_FETCH_TIMEOUT_MS,
      // A peer's copy may have rotted too: it must hash to the id, as a put must.
      verify: (bytes) => chunks.verify(chunkId, bytes),
    });
    if (fetched.ok) {
      const stored = await chunks.put(fetched.value);
      if (stored.ok) {
        this.stats.repaired += 1;
        this.stats.repairedBytes += fetched.value.bytes.length;
        logger.info("chunk repaired", {
          chunkId,
          kind,
          from: nodeAt(sources, fetched.from),
          bytes: fetched.value.bytes.length,
        });
        return;
      }
      problems.push(`storing it here: ${stored.error.code} ${stored.error.message}`);
    } else {
      for (const { address, error } of fetched.failures) {
        problems.push(`${nodeAt(sources, address)}: ${error.code} ${error.message}`);
      }
    }
    if (kind === "missing" && this.dropDangling(chunkId, fetched.ok ? [] : fetched.failures)) {
      return;
    }
    this.stats.failed += 1;
    logger.warn("chunk repair found no good copy", {
      chunkId,
      kind,
      problems: sources.length === 0 ? "no other replica known" : problems.join("; "),
    });
  }

  /**
   * A referenced chunk that was never here (the sweep's "missing", not rot), that no replica of
   * a known group holds (each said CHUNK_NOT_FOUND, or there is none to ask), and that only
   * unfinished uploads name: the puts that recorded those references never stored it, so no
   * upload with it can have been acknowledged in this group. Its references go, or a learner's
   * catch-up would ask for it forever. A kept version's chunk is never forgotten so.
   */
  private dropDangling(chunkId: string, failures: readonly FetchFailure[]): boolean {
    const { chunks, refs, logger } = this.options;
    if (this.options.view() === null) return false;
    if (!failures.every((failure) => failure.error.code === "CHUNK_NOT_FOUND")) return false;
    if (chunks.has(chunkId) || chunks.putInFlight(chunkId)) return false;
    if (refs.chunkRefFacts(chunkId, 0).committed > 0) return false;
    const dropped = refs.dropChunk(chunkId);
    this.stats.danglingDropped += 1;
    logger.warn("no replica holds a chunk only unfinished uploads named; references dropped", {
      chunkId,
      references: dropped,
    });
    return true;
  }
}

/** The node id of the source at `address`, for logs. */
function nodeAt(sources: readonly Replica[], address: string): string {
  return sources.find((source) => source.address === address)?.node ?? address;
}
