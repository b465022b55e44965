/**
 * One storage node, wired: the chunk store and the owner references in the data folder, the
 * RPC server with the storage handlers, the replicator a primary forwards through, and the
 * heartbeat that keeps the group view. `start` recovers everything from `--data`; `stop`
 * stops taking requests, lets in-flight ones finish (bounded), and closes the database.
 * Flags and signals are main.ts's business, not this file's.
 */

import { statfs } from "node:fs/promises";
import { join } from "node:path";
import { parseAddress, type GroupView, type Op } from "@ftfs/protocol/core";
import { RpcServer, type Handler, type Handlers, type Logger } from "@ftfs/protocol/io";
import { REFS_DB_FILE, STOP_DRAIN_TIMEOUT_MS } from "../core/index.ts";
import { ChunkStore } from "./chunk-store.ts";
import { storageHandlers, type StorageContext } from "./handlers.ts";
import { Heartbeat } from "./heartbeat.ts";
import { RefsStore } from "./refs-store.ts";
import { Replicator } from "./replicator.ts";

export interface StorageNodeOptions {
  readonly node: string;
  readonly group: string;
  readonly listen: string;
  readonly dataDir: string;
  /** Directory addresses to heartbeat. */
  readonly join: readonly string[];
  /** Bytes this node offers; absent means the file system's free space plus what it holds. */
  readonly capacityBytes?: number;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  readonly heartbeatIntervalMs?: number;
}

export class StorageNode {
  readonly node: string;
  readonly group: string;
  readonly address: string;
  readonly chunks: ChunkStore;
  readonly refs: RefsStore;
  private readonly server: RpcServer;
  private readonly heartbeat: Heartbeat;
  private readonly replicator: Replicator;
  private readonly inFlight: InFlight;
  private stopping: Promise<void> | null = null;

  private constructor(init: {
    options: StorageNodeOptions;
    address: string;
    chunks: ChunkStore;
    refs: RefsStore;
    server: RpcServer;
    heartbeat: Heartbeat;
    replicator: Replicator;
    inFlight: InFlight;
  }) {
    this.node = init.options.node;
    this.group = init.options.group;
    this.address = init.address;
    this.chunks = init.chunks;
    this.refs = init.refs;
    this.server = init.server;
    this.heartbeat = init.heartbeat;
    this.replicator = init.replicator;
    this.inFlight = init.inFlight;
  }

  static async start(options: StorageNodeOptions): Promise<StorageNode> {
    const { logger, node, group } = options;
    const nowMs = options.nowMs ?? Date.now;
    const chunks = await ChunkStore.open(options.dataDir, logger);
    chunks.capacityBytes = options.capacityBytes ?? (await freeBytes(options.dataDir)) + chunks.usedBytes;
    const refs = RefsStore.open(join(options.dataDir, REFS_DB_FILE));
    // The heartbeat needs the address we listen on, known only once listening: late-bound.
    let heartbeat: Heartbeat | null = null;
    const replicator = new Replicator(logger, () => heartbeat?.refreshSoon());
    const context: StorageContext = {
      node, group, chunks, refs, replicator, logger, nowMs,
      state: () => ({ node, view: heartbeat?.view ?? null, leaseExpiresAtMs: heartbeat?.leaseExpiresAtMs ?? 0 }),
      refreshView: () => heartbeat?.refreshSoon(),
    };
    const inFlight = new InFlight();
    let server: RpcServer;
    try {
      server = RpcServer.start({ listen: options.listen, handlers: tracked(storageHandlers(context), inFlight), logger });
    } catch (error) {
      refs.close();
      throw error;
    }
    const address = advertisedAddress(options.listen, server.port);
    heartbeat = new Heartbeat({
      node, group, address, join: options.join, logger, nowMs,
      usage: () => ({ capacityBytes: chunks.capacityBytes, usedBytes: chunks.usedBytes }),
      ...(options.heartbeatIntervalMs === undefined ? {} : { intervalMs: options.heartbeatIntervalMs }),
    });
    heartbeat.start();
    logger.info("listening", {
      address, group, data: options.dataDir, chunks: chunks.chunkCount,
      usedBytes: chunks.usedBytes, capacityBytes: chunks.capacityBytes, join: options.join.join(","),
    });
    return new StorageNode({ options, address, chunks, refs, server, heartbeat, replicator, inFlight });
  }

  get view(): GroupView | null {
    return this.heartbeat.view;
  }

  /** Heartbeat now and wait for the answer (tests; start-up scripts). */
  async refreshView(): Promise<GroupView | null> {
    await this.heartbeat.beatNow();
    return this.heartbeat.view;
  }

  /** Idempotent: stop serving, wait (bounded) for in-flight requests, close the database. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.heartbeat.stop();
    this.server.stop();
    await this.inFlight.drained(STOP_DRAIN_TIMEOUT_MS);
    this.replicator.close();
    this.refs.close();
  }
}

/** Counts requests being handled, so a stop can wait for them before closing the database. */
class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  enter(): void {
    this.count += 1;
  }

  leave(): void {
    this.count -= 1;
    if (this.count > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when nothing is in flight, or after `timeoutMs` regardless. */
  async drained(timeoutMs: number): Promise<void> {
    if (this.count === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}

function track<O extends Op>(handler: Handler<O>, inFlight: InFlight): Handler<O> {
  return async (body, context) => {
    inFlight.enter();
    try {
      return await handler(body, context);
    } finally {
      inFlight.leave();
    }
  };
}

function tracked(handlers: ReturnType<typeof storageHandlers>, inFlight: InFlight): Handlers {
  return {
    putChunk: track(handlers.putChunk, inFlight),
    getChunk: track(handlers.getChunk, inFlight),
    hasChunks: track(handlers.hasChunks, inFlight),
    commitRefs: track(handlers.commitRefs, inFlight),
    dropRefs: track(handlers.dropRefs, inFlight),
    listOwned: track(handlers.listOwned, inFlight),
  };
}

/** The address peers reach us on: the listen host with the port actually bound (for port 0). */
function advertisedAddress(listen: string, port: number): string {
  const parsed = parseAddress(listen);
  if (!parsed.ok) throw parsed.error;
  const host = parsed.value.host.includes(":") ? `[${parsed.value.host}]` : parsed.value.host;
  return `${host}:${port}`;
}

async function freeBytes(path: string): Promise<number> {
  const info = await statfs(path);
  return Math.min(Number.MAX_SAFE_INTEGER, Number(info.bavail) * Number(info.bsize));
}
