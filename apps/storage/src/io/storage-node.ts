/**
 * One storage node, wired: the chunk store and the owner references in the data folder, the
 * RPC server with the storage handlers, the replicator a primary forwards through, and the
 * heartbeat that keeps the group view. `start` recovers everything from `--data`; `stop`
 * stops taking requests, lets in-flight ones finish (bounded), and closes the database.
 * Flags and signals are main.ts's business, not this file's.
 *
 * A spare (`spare: true`) starts with no group and holds nothing until the directory assigns
 * it one; the assignment is kept in the data folder (io/assignment.ts), so a restarted spare
 * comes back as a member of that group.
 *
 * The data folder has an identity (io/identity.ts), checked before anything else in it is
 * opened: another node's folder is refused, and the folder id goes in every heartbeat, so a
 * node back on a wiped disk is a new member to the directory.
 */

import { join } from "node:path";
import {
  MetricsRegistry,
  parseAddress,
  type GroupView,
  type Op,
  type swim,
} from "@ftfs/protocol/core";
import {
  ClusterGossip,
  RpcServer,
  type ClientTls,
  type ConnectionLimits,
  type ConnectOptions,
  type Handler,
  type Handlers,
  Keyring,
  nodeConnectOptions,
  statelessUserAuthenticator,
  type Logger,
  type ServerTls,
  startStatusEndpoint,
  type StatusEndpoint,
} from "@ftfs/protocol/io";
import { registerFsyncMetrics, registerStorageMetrics } from "./metrics.ts";
import {
  RELEASE_REMOVALS_IN_FLIGHT,
  GC_CONFIRM_TIMEOUT_MS,
  CATCH_UP_BYTES_PER_SECOND_DEFAULT,
  REFS_DB_FILE,
  STOP_DRAIN_TIMEOUT_MS,
} from "../core/index.ts";
import {
  AssignmentFileError,
  readAssignment,
  removeAssignment,
  writeAssignment,
} from "./assignment.ts";
import { CatchUp } from "./catch-up.ts";
import { ChunkStore } from "./chunk-store.ts";
import { DiskSpace } from "./disk-space.ts";
import { Fsync } from "./fsync.ts";
import { GroupCommit } from "./group-commit.ts";
import { storageHandlers, type StorageContext } from "./handlers.ts";
import { Heartbeat } from "./heartbeat.ts";
import { openIdentity } from "./identity.ts";
import { Maintenance, type MaintenanceSettings, type MaintenanceStats } from "./maintenance.ts";
import { RefsStore } from "./refs-store.ts";
import { Replicator } from "./replicator.ts";

export interface StorageNodeOptions {
  readonly node: string;
  /** The group this node replicates (`--group`); absent for a spare. */
  readonly group?: string;
  /** Started with `--spare`: the directory assigns the group. Excludes `group`. */
  readonly spare?: boolean;
  readonly listen: string;
  /** Serve /metrics, /healthz and /readyz over HTTP here (host:port); absent: not served. */
  readonly httpListen?: string;
  readonly dataDir: string;
  /** Directory addresses to heartbeat. */
  readonly join: readonly string[];
  /** Bytes this node offers; absent means the file system's free space plus what it holds. */
  readonly capacityBytes?: number;
  readonly logger: Logger;
  /** Wall clock for recorded times; default Date.now. */
  readonly nowMs?: () => number;
  /** Monotonic clock for the primary lease; default performance.now. */
  readonly monotonicMs?: () => number;
  readonly heartbeatIntervalMs?: number;
  /**
   * The cluster keyring (`--cluster-key`): gossip, node channels, tickets and receipts.
   * Absent: insecure mode, nothing authenticated.
   */
  readonly clusterKey?: Keyring;
  /** Connection bounds of the RPC server (defaults in connection-guard.ts). */
  readonly limits?: Partial<ConnectionLimits>;
  /** Serve TLS; other nodes are then reached with TLS too, trusting `clientTls`. */
  readonly tls?: ServerTls;
  readonly clientTls?: ClientTls;
  /** Scrubber and garbage-collection settings (`--scrub-rate`, `--gc-grace`, …). */
  readonly maintenance?: MaintenanceSettings;
  /** Learner copy rate (`--catch-up-rate`); default CATCH_UP_BYTES_PER_SECOND_DEFAULT. */
  readonly catchUpBytesPerSecond?: number;
}

/** Who this node is at start-up: its group (null: an unassigned spare) and whether a spare. */
interface Membership {
  readonly group: string | null;
  readonly spare: boolean;
}

/** …and on which data folder. */
interface Identity extends Membership {
  readonly folderId: string;
}

/** What start() opened before the node is built: the disk's instruments and the registry. */
interface Instruments {
  readonly metrics: MetricsRegistry;
  readonly fsync: Fsync;
  readonly disk: DiskSpace;
}

export class StorageNode {
  readonly node: string;
  /** The data folder's identity (made at its first start), reported in every heartbeat. */
  readonly folderId: string;
  readonly address: string;
  readonly chunks: ChunkStore;
  readonly refs: RefsStore;
  /** Requests' reference changes, committed in shared rounds. */
  readonly refsCommit: GroupCommit;
  private readonly server: RpcServer;
  private readonly statusEndpoint: StatusEndpoint | null;
  private readonly heartbeat: Heartbeat;
  private readonly replicator: Replicator;
  private readonly catchUp: CatchUp;
  private readonly fsync: Fsync;
  /** This node's /metrics: gossip registers its own there once it starts. */
  private readonly metrics: MetricsRegistry;
  private readonly inFlight = new InFlight();
  /** Null when the UDP port could not be bound: the heartbeat still keeps us known. */
  private gossip: ClusterGossip | null = null;
  private stopping: Promise<void> | null = null;
  private maintenance: Maintenance | null = null;

  /** Open the stores in `--data` (recovering what is there), listen, and start heartbeating. */
  static async start(options: StorageNodeOptions): Promise<StorageNode> {
    const metrics = new MetricsRegistry();
    const fsync = new Fsync(registerFsyncMetrics(metrics));
    // First: a foreign folder must be refused before anything in it is opened or created.
    const { folderId } = await openIdentity({
      dataDir: options.dataDir,
      node: options.node,
      logger: options.logger,
      nowMs: options.nowMs ?? Date.now,
      fsync,
    });
    const chunks = await ChunkStore.open(options.dataDir, options.logger, options.nowMs, fsync);
    const membership = await startMembership(options);
    const disk = await DiskSpace.open(options.dataDir, options.logger);
    chunks.capacityBytes = options.capacityBytes ?? disk.sample.freeBytes + chunks.usedBytes;
    const refs = RefsStore.open(join(options.dataDir, REFS_DB_FILE), fsync);
    const instruments = { metrics, fsync, disk };
    let node: StorageNode;
    try {
      node = new StorageNode(options, { ...membership, folderId }, chunks, refs, instruments);
    } catch (error) {
      refs.close();
      throw error;
    }
    node.startMaintenance(options);
    await node.startGossip(options);
    return node;
  }

  // ---- background maintenance (scrubber, repair, GC): the loops live in maintenance.ts ----

  private startMaintenance(options: StorageNodeOptions): void {
    this.maintenance = Maintenance.start(
      {
        node: this.node,
        chunks: this.chunks,
        refs: this.refs,
        view: () => this.heartbeat.view,
        group: () => this.heartbeat.group,
        confirmGarbage: (body) =>
          this.heartbeat.callDirectory("confirmGarbage", body, GC_CONFIRM_TIMEOUT_MS),
        logger: options.logger,
        nowMs: options.nowMs ?? Date.now,
        monotonicMs: options.monotonicMs ?? (() => performance.now()),
        connect: nodeConnect(options),
      },
      options.maintenance,
    );
  }

  /** Scrub, repair and GC counters (null before start-up finished). */
  get maintenanceStats(): MaintenanceStats | null {
    return this.maintenance?.stats ?? null;
  }

  // ---- end of background maintenance ----

  /** Joins the one gossip cluster through the directories, publishing our group role. */
  private async startGossip(options: StorageNodeOptions): Promise<void> {
    this.gossip = await ClusterGossip.start({
      node: this.node,
      address: this.address,
      join: options.join,
      keyring: options.clusterKey ?? Keyring.open(),
      logger: options.logger,
      metrics: this.metrics,
      meta: () => {
        const view = this.heartbeat.view;
        return {
          role: "storage",
          group: this.heartbeat.group,
          address: this.address,
          primary: view !== null && view.primaryNode === this.node,
          epoch: view?.epoch ?? 0,
          usedBytes: this.chunks.usedBytes,
          capacityBytes: this.chunks.capacityBytes,
        };
      },
    });
  }

  /** Members as our gossip sees them (empty without gossip). */
  gossipMembers(): swim.MemberView[] {
    return this.gossip?.members() ?? [];
  }

  private constructor(
    options: StorageNodeOptions,
    identity: Identity,
    chunks: ChunkStore,
    refs: RefsStore,
    instruments: Instruments,
  ) {
    const { logger, node } = options;
    const { group, spare, folderId } = identity;
    const { metrics, fsync } = instruments;
    const nowMs = options.nowMs ?? Date.now;
    const monotonicMs = options.monotonicMs ?? (() => performance.now());
    this.node = node;
    this.folderId = folderId;
    this.chunks = chunks;
    this.refs = refs;
    this.refsCommit = new GroupCommit(
      (changes) => refs.commitEach(changes),
      () => refs.syncLog(),
    );
    this.fsync = fsync;
    this.metrics = metrics;
    const connect = nodeConnect(options);
    this.replicator = new Replicator(logger, () => this.heartbeat.refreshSoon(), connect);
    // Heartbeat and catch-up first: the handlers use them, and the server takes requests as
    // soon as it listens. The heartbeat reads our address only when it beats (after start).
    this.heartbeat = new Heartbeat({
      node,
      group,
      spare,
      folderId,
      onAssigned: (assigned) => writeAssignment(options.dataDir, assigned, fsync),
      onReleased: (released) => this.forgetGroup(released, options.dataDir, logger),
      address: () => this.address,
      join: options.join,
      logger,
      monotonicMs,
      usage: () => ({
        capacityBytes: chunks.capacityBytes,
        usedBytes: chunks.usedBytes,
        bytesInTotal: this.server.stats.payloadBytesIn,
        bytesOutTotal: this.server.stats.payloadBytesOut,
      }),
      syncedEpoch: () => this.catchUp.syncedEpoch,
      connect,
      ...(options.heartbeatIntervalMs === undefined
        ? {}
        : { intervalMs: options.heartbeatIntervalMs }),
    });
    this.catchUp = new CatchUp({
      node,
      chunks,
      refs,
      logger,
      view: () => this.heartbeat.view,
      nowMs,
      monotonicMs,
      bytesPerSecond: options.catchUpBytesPerSecond ?? CATCH_UP_BYTES_PER_SECOND_DEFAULT,
      onSynced: () => this.heartbeat.refreshSoon(),
      connect,
    });
    const handlers = tracked(
      storageHandlers(
        this.context(logger, nowMs, monotonicMs, options.clusterKey ?? Keyring.open()),
      ),
      this.inFlight,
    );
    this.server = RpcServer.start({
      listen: options.listen,
      handlers,
      logger,
      node,
      role: "storage",
      metrics,
      ...(options.clusterKey === undefined
        ? {}
        : {
            keyring: options.clusterKey,
            // Stateless: a removed user's session works here until it expires (SESSION_TTL_MS).
            authenticateUser: statelessUserAuthenticator(options.clusterKey, nowMs),
          }),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    });
    this.address = advertisedAddress(options.listen, this.server.port);
    registerStorageMetrics(metrics, {
      node,
      usedBytes: () => chunks.usedBytes,
      capacityBytes: () => chunks.capacityBytes,
      segments: () => chunks.segmentUsage,
      view: () => this.heartbeat.view,
      disk: instruments.disk,
      catchUp: () => this.catchUp.stats,
      maintenance: () => this.maintenanceStats,
      refsCommit: () => this.refsCommit.stats,
    });
    this.statusEndpoint =
      options.httpListen === undefined
        ? null
        : startStatusEndpoint({
            listen: options.httpListen,
            registry: metrics,
            ready: () => this.heartbeat.view !== null,
            logger,
          });
    this.heartbeat.start();
    logger.info("listening", {
      address: this.address,
      group,
      spare,
      data: options.dataDir,
      folderId,
      join: options.join.join(","),
      chunks: chunks.chunkCount,
      usedBytes: chunks.usedBytes,
      capacityBytes: chunks.capacityBytes,
    });
  }

  /**
   * A released spare forgets its group: requests already admitted and a catch-up pass under
   * way end first (the heartbeat dropped the view, so nothing new is admitted), then every
   * reference and chunk goes, then the assignment; a crash before the end leaves the
   * assignment, and the next start is released again and finishes.
   */
  private async forgetGroup(group: string, dataDir: string, logger: Logger): Promise<void> {
    await this.inFlight.drained(STOP_DRAIN_TIMEOUT_MS);
    await this.catchUp.idle();
    const references = this.refs.clear();
    let bytes = 0;
    const chunkIds = this.chunks.ids();
    // Removals in flight together share their segment fsyncs.
    for (let at = 0; at < chunkIds.length; at += RELEASE_REMOVALS_IN_FLIGHT) {
      const batch = chunkIds.slice(at, at + RELEASE_REMOVALS_IN_FLIGHT);
      for (const freed of await Promise.all(batch.map((id) => this.chunks.remove(id)))) {
        bytes += freed;
      }
    }
    await removeAssignment(dataDir, this.fsync);
    logger.info("released spare forgot its group", {
      group,
      references,
      chunks: chunkIds.length,
      bytes,
    });
  }

  /** What the handlers see: the heartbeat and catch-up exist before the server listens. */
  private context(
    logger: Logger,
    nowMs: () => number,
    monotonicMs: () => number,
    keyring: Keyring,
  ): StorageContext {
    return {
      keyring,
      node: this.node,
      group: () => this.heartbeat.group,
      chunks: this.chunks,
      refs: this.refs,
      refsCommit: this.refsCommit,
      replicator: this.replicator,
      logger,
      nowMs,
      monotonicMs,
      state: () => ({
        node: this.node,
        view: this.heartbeat.view,
        leaseExpiresAtMs: this.heartbeat.leaseExpiresAtMs,
      }),
      refreshView: () => this.heartbeat.refreshSoon(),
    };
  }

  get view(): GroupView | null {
    return this.heartbeat.view;
  }

  /** This node's group; null for a spare not assigned one yet. */
  get group(): string | null {
    return this.heartbeat.group;
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
    // Leave first, in parallel with the drain: others record `left` at once, never `dead`.
    const leaving = this.gossip?.stop();
    const maintenanceStopped = this.maintenance?.stop(); // before the references close
    this.heartbeat.stop();
    this.server.stop();
    await this.catchUp.stop();
    await this.inFlight.drained(STOP_DRAIN_TIMEOUT_MS);
    this.replicator.close();
    await maintenanceStopped;
    await this.chunks.close();
    this.refs.close();
    await this.statusEndpoint?.stop();
    await leaving;
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
    dropUploadRefs: track(handlers.dropUploadRefs, inFlight),
    listOwned: track(handlers.listOwned, inFlight),
    syncRefs: track(handlers.syncRefs, inFlight),
    uploadHeld: track(handlers.uploadHeld, inFlight),
  };
}

function nodeConnect(options: StorageNodeOptions): ConnectOptions {
  return nodeConnectOptions(options.node, options.clusterKey, options.clientTls);
}

/**
 * The group from the flags, or from a spare's recorded assignment. A folder assigned to one
 * group as a spare is refused under another `--group`: its chunks belong to the first.
 */
async function startMembership(options: StorageNodeOptions): Promise<Membership> {
  const spare = options.spare === true;
  if (spare === (options.group !== undefined)) {
    throw new Error("a storage node needs exactly one of a group and spare mode");
  }
  const assigned = await readAssignment(options.dataDir);
  if (assigned !== null && options.group !== undefined && assigned !== options.group) {
    throw new AssignmentFileError(
      options.dataDir,
      `holds group ${assigned} (assigned as a spare), not ${options.group}; start it with ` +
        `--spare or --group ${assigned}`,
    );
  }
  return { group: options.group ?? assigned, spare };
}

/** The address peers reach us on: the listen host with the port actually bound (for port 0). */
function advertisedAddress(listen: string, port: number): string {
  const parsed = parseAddress(listen);
  if (!parsed.ok) throw parsed.error;
  const host = parsed.value.host.includes(":") ? `[${parsed.value.host}]` : parsed.value.host;
  return `${host}:${port}`;
}
