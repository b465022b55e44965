/**
 * One directory node: its store, proposer, storage-group manager, outbox and RPC server, wired
 * together and started and stopped in the right order. Replication (Raft) and gossip will slot
 * in behind the Proposer and the liveness source; the handlers do not change.
 */

import hyperid from "hyperid";
import { parseAddress, type swim } from "@ftfs/protocol/core";
import { ClusterGossip, Keyring, RpcPool, RpcServer, type Logger } from "@ftfs/protocol/io";
import {
  GROUP_CHECK_INTERVAL_MS,
  SHUTDOWN_FLUSH_TIMEOUT_MS,
  STORAGE_DEAD_AFTER_MS,
  STORAGE_NODES_MAX,
  interimPrimaryAddress,
  type MetadataStore,
} from "../core/index.ts";
import { GroupManager } from "./group-manager.ts";
import { directoryHandlers } from "./handlers.ts";
import { OutboxDrainer } from "./outbox.ts";
import { ensureTerm, LocalProposer } from "./proposer.ts";

export interface DirectoryNodeOptions {
  readonly node: string;
  readonly listen: string;
  /** Owned by the node from now on: closed by stop(). */
  readonly store: MetadataStore;
  readonly chunkBytes: number;
  readonly logger: Logger;
  /** Other members' addresses: gossip seeds (and the interim primary rule). */
  readonly join?: readonly string[];
  /** Gossip keyring (`--cluster-key`); absent: open dev mode. */
  readonly clusterKey?: Keyring;
  readonly nowMs?: () => number;
  /** Heartbeat age after which a storage node counts as dead; tests shorten it. */
  readonly storageDeadAfterMs?: number;
  readonly groupCheckIntervalMs?: number;
}

export class DirectoryNode {
  readonly node: string;
  readonly join: readonly string[];
  private readonly logger: Logger;
  private readonly store: MetadataStore;
  private readonly pool = new RpcPool();
  private readonly outbox: OutboxDrainer;
  private readonly groups: GroupManager;
  private readonly server: RpcServer;
  private readonly ticker: ReturnType<typeof setInterval>;
  private readonly listenHost: string;
  /** Resolves to null when the UDP port could not be bound (heartbeats still work). */
  private readonly gossip: Promise<ClusterGossip | null>;
  private gossipReady: ClusterGossip | null = null;
  private stopping: Promise<void> | null = null;

  private constructor(options: DirectoryNodeOptions) {
    const nowMs = options.nowMs ?? (() => Date.now());
    const deadAfterMs = options.storageDeadAfterMs ?? STORAGE_DEAD_AFTER_MS;
    const listen = parseAddress(options.listen);
    if (!listen.ok) throw listen.error;
    this.listenHost = listen.value.host;
    this.node = options.node;
    this.join = options.join ?? [];
    this.logger = options.logger;
    this.store = options.store;
    const term = ensureTerm(this.store, this.node);
    this.outbox = new OutboxDrainer({
      store: this.store,
      pool: this.pool,
      logger: this.logger,
      nowMs,
      random: Math.random,
    });
    const proposer = new LocalProposer(this.store, term, () => this.outbox.kick());
    this.groups = new GroupManager({
      store: this.store,
      proposer,
      logger: this.logger,
      nowMs,
      nodesMax: STORAGE_NODES_MAX,
      deadAfterMs,
    });
    const newId = hyperid({ urlSafe: true });
    const handlers = directoryHandlers({
      node: this.node,
      address: () => this.address,
      store: this.store,
      proposer,
      groups: this.groups,
      chunkBytes: options.chunkBytes,
      nowMs,
      newId,
      deadAfterMs,
      logger: this.logger,
      redirectTo: () => this.redirectTo(),
      gossipMembers: () => this.gossipReady?.members() ?? [],
    });
    this.server = RpcServer.start({ listen: options.listen, handlers, logger: this.logger });
    const checkEveryMs = options.groupCheckIntervalMs ?? GROUP_CHECK_INTERVAL_MS;
    this.ticker = setInterval(() => {
      if (this.redirectTo() === null) void this.groups.tick();
    }, checkEveryMs);
    if (this.redirectTo() === null) this.outbox.start();
    this.gossip = this.startGossip(options.clusterKey ?? Keyring.open());
  }

  /** Joins the one gossip cluster and acts on storage nodes it finds dead or gone. */
  private async startGossip(keyring: Keyring): Promise<ClusterGossip | null> {
    const gossip = await ClusterGossip.start({
      node: this.node,
      address: this.address,
      join: this.join,
      keyring,
      logger: this.logger,
      meta: () => ({
        role: "directory",
        group: null,
        address: this.address,
        primary: this.redirectTo() === null,
        epoch: this.store.readHardState().term,
        usedBytes: 0,
        capacityBytes: 0,
      }),
    });
    gossip?.subscribe((event) => this.onGossipEvent(event));
    this.gossipReady = gossip;
    return gossip;
  }

  /** Faster than the heartbeat timeout, which stays as the fallback. */
  private onGossipEvent(event: swim.MemberEvent): void {
    if (event.member.meta.role !== "storage") return;
    if (event.kind !== "dead" && event.kind !== "left") return;
    if (this.redirectTo() !== null || this.stopping !== null) return;
    void this.groups.onMemberDown(event.member.id);
  }

  /** Null when this node holds the metadata; else the address of the node that does. */
  private redirectTo(): string | null {
    const primary = interimPrimaryAddress(this.address, this.join);
    return primary === this.address ? null : primary;
  }

  /** Start serving: the server listens before this returns. */
  static start(options: DirectoryNodeOptions): DirectoryNode {
    const node = new DirectoryNode(options);
    node.logger.info("listening", {
      address: node.address,
      role: node.redirectTo() === null ? "primary" : "backup",
      term: node.store.readHardState().term,
      lastApplied: node.store.lastApplied(),
    });
    return node;
  }

  get port(): number {
    return this.server.port;
  }

  /** host:port as clients reach it (the real port when listening on port 0). */
  get address(): string {
    const host = this.listenHost.includes(":") ? `[${this.listenHost}]` : this.listenHost;
    return `${host}:${this.server.port}`;
  }

  get outboxStats(): OutboxDrainer["stats"] {
    return this.outbox.stats;
  }

  /** Stop accepting, let running work finish (bounded), close the store. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    // Leave while the rest winds down: others record `left` at once, never `dead`.
    const leaving = this.gossip.then((gossip) => gossip?.stop());
    this.server.stop();
    clearInterval(this.ticker);
    await this.groups.idle();
    await this.outbox.stop(SHUTDOWN_FLUSH_TIMEOUT_MS);
    this.pool.close();
    this.store.close();
    await leaving;
    this.logger.info("stopped", {});
  }
}
