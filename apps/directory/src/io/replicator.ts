/**
 * The Raft driver of a directory node: gives the sans-I/O DirectoryReplica (core/replica.ts) a
 * clock (ticks), a disk (RaftLog and the metadata store, one transaction per batch), a network
 * (send) and a snapshot exporter (a worker). Handlers see it as a Proposer: propose() answers
 * once the command is committed by a majority and applied here; readBarrier() answers once a
 * heartbeat round proved this node still leads and the state has caught up with the commit
 * index.
 *
 * Batching is the group commit: inputs only mark work; one drain per event-loop turn takes
 * every proposal that arrived meanwhile into one Ready, one transaction and one fsync.
 *
 * A Ready that cannot be persisted stops this replicator for good, before anything of it is
 * sent or advanced: the core in memory may then be ahead of the disk, so it is dropped, as a
 * crash would drop it. A full disk (onDiskFull) is the node's to wait out and rebuild from the
 * disk; any other disk failure is fatal (onFatal).
 */

import { fail, raft, type Result } from "@ftfs/protocol/core";
import type { Logger } from "@ftfs/protocol/io";
import {
  DirectoryReplica,
  RAFT_SUSPECT_JITTER_MS_MAX,
  RAFT_TICK_MS,
  type Command,
  type OutcomeOf,
  type ReplicaDisk,
  type ReplicaEvent,
} from "../core/index.ts";
import { SQLiteError } from "bun:sqlite";
import { RaftLog } from "./raft-log.ts";
import { exportImageInWorker, type ExportedState } from "./snapshot-export.ts";
import type { SnapshotImages } from "./snapshot-images.ts";
import { isDiskFull, StoreCorruptError, type SqliteMetadataStore } from "./sqlite-store.ts";

/** How a handler turns a command into a change, and makes a read current. */
export interface Proposer {
  /** Raft's current term, which clients see as the directory's epoch. */
  readonly term: number;
  propose<C extends Command>(command: C): Promise<Result<OutcomeOf<C>>>;
  /** Resolves ok once a read of the local state is linearizable. */
  readBarrier(): Promise<Result<void>>;
}

export interface GroupMember {
  readonly id: string;
  readonly address: string;
  /** The data folder it formed the group from (absent: recorded before folders were bound). */
  readonly folder?: string;
}

/**
 * Snapshots this node took (folding its log), sent to lagging members (as primary), and
 * installed from its primary. The node keeps one across the replicators it builds (a full
 * disk rebuilds one), so the counts only rise for as long as the process lives.
 */
export interface SnapshotStats {
  taken: number;
  sent: number;
  installed: number;
  /** Bytes of the last snapshot taken (0: none yet). */
  lastBytes: number;
  /** Snapshot image bytes received from the primary and made durable (snapshot-fetch.ts). */
  receivedBytes: number;
  /** Image transfers that went on from parts already on disk rather than from the start. */
  resumed: number;
}

export function newSnapshotStats(): SnapshotStats {
  return { taken: 0, sent: 0, installed: 0, lastBytes: 0, receivedBytes: 0, resumed: 0 };
}

export interface ReplicatorOptions {
  readonly id: string;
  readonly members: readonly string[];
  readonly store: SqliteMetadataStore;
  readonly raftLog: RaftLog;
  readonly logger: Logger;
  readonly send: (message: raft.RaftMessage) => void;
  /** The address of a member, for NOT_PRIMARY hints. */
  readonly addressOf: (id: string) => string | undefined;
  /** After commands were applied (the outbox sends their notices at once). */
  readonly onApplied: () => void;
  /** This node became primary (true) or stopped being it (false). */
  readonly onLeadership: (leading: boolean) => void;
  /** The disk failed under Raft's feet: the node must stop, it cannot go on safely. */
  readonly onFatal: (error: unknown) => void;
  /**
   * The disk is full (SQLITE_FULL, rolled back): this replicator has stopped without sending or
   * advancing past what it could not persist. The node may build a new one from the disk.
   */
  readonly onDiskFull: (error: unknown) => void;
  readonly random: () => number;
  readonly nowMs: () => number;
  /** Applied entries between snapshots; tests lower it to exercise snapshot catch-up. */
  readonly compactEveryEntries?: number;
  /** Where this node keeps the snapshot images it sends and receives. */
  readonly images: SnapshotImages;
  /** True while a member fetches a snapshot image from this node (see compactionDue). */
  readonly imageBeingFetched?: () => boolean;
  /** How the state is exported for a snapshot; default: a worker copying the database. */
  readonly exportState?: () => Promise<ExportedState>;
  /** Where snapshots are counted (the node's, across replicators); default: a fresh count. */
  readonly snapshots?: SnapshotStats;
  /** False for a node that joined with an empty folder and is not yet admitted. */
  readonly admitted?: boolean;
  /** This node's data folder identity: stamped on its Raft messages, bound when it votes. */
  readonly folder?: string;
  /** Each founder's folder when the group formed. */
  readonly peerFolders?: ReadonlyMap<string, string>;
}

/** The replica's disk on SQLite: Raft's log beside the state, in the same database. */
function sqliteReplicaDisk(
  store: SqliteMetadataStore,
  raftLog: RaftLog,
  images: SnapshotImages,
  logger: Logger,
): ReplicaDisk {
  return {
    state: store,
    loadRaft: () => raftLog.load(),
    transaction: (work) => store.transaction(work),
    saveRaft: (ready) => raftLog.save(ready),
    installSnapshot: (ready) => {
      // The swap is the one part of an install on the main thread: how long it held it.
      const startedMs = performance.now();
      installSnapshot(store, raftLog, images, ready);
      const mainThreadMs = Math.round(performance.now() - startedMs);
      logger.info("snapshot installed", { index: ready.snapshot.index, mainThreadMs });
    },
    isDiskError: (error) => error instanceof SQLiteError || error instanceof StoreCorruptError,
  };
}

/**
 * A snapshot naming an image is installed by swapping in the image, received and readied
 * beforehand (snapshot-fetch.ts steps the message in only then); inline data (an older
 * node's gzipped export) is imported row by row, as before images.
 */
function installSnapshot(
  store: SqliteMetadataStore,
  raftLog: RaftLog,
  images: SnapshotImages,
  ready: raft.Ready & { readonly snapshot: raft.Snapshot },
): void {
  const image = raft.decodeSnapshotImage(ready.snapshot.data);
  if (image === null) {
    store.transaction(() => {
      raftLog.save(ready);
      store.importState(ready.snapshot.data, ready.snapshot.index);
    });
    return;
  }
  store.swapDatabase(images.readyPath(image.sha256), (db) => {
    const imageLog = new RaftLog(db);
    try {
      imageLog.save(ready);
    } finally {
      imageLog.detach();
    }
  });
}

export class Replicator implements Proposer {
  readonly id: string;
  private readonly options: ReplicatorOptions;
  private readonly replica: DirectoryReplica;
  private readonly snapshots: SnapshotStats;
  private flushQueued = false;
  private suspicionTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly ticker: ReturnType<typeof setInterval>;
  private stopped = false;
  /** The snapshot index last sent to each member: Raft repeats it while the member fetches. */
  private readonly snapshotSentTo = new Map<string, number>();
  /** A snapshot export is running (one at a time); no image may be swapped in meanwhile. */
  private exportRunning = false;

  constructor(options: ReplicatorOptions) {
    this.options = options;
    this.id = options.id;
    this.snapshots = options.snapshots ?? newSnapshotStats();
    this.replica = new DirectoryReplica({
      id: options.id,
      members: options.members,
      disk: sqliteReplicaDisk(options.store, options.raftLog, options.images, options.logger),
      // Seeded here, so the core itself stays deterministic; only the seed is random.
      seed: Math.floor(options.random() * 2 ** 31),
      addressOf: options.addressOf,
      ...(options.compactEveryEntries === undefined
        ? {}
        : { compactEveryEntries: options.compactEveryEntries }),
      ...(options.admitted === undefined ? {} : { admitted: options.admitted }),
      ...(options.folder === undefined ? {} : { folder: options.folder }),
      ...(options.peerFolders === undefined ? {} : { peerFolders: options.peerFolders }),
    });
    this.ticker = setInterval(
      () => this.input(() => this.replica.tick(options.nowMs())),
      RAFT_TICK_MS,
    );
    this.queueFlush();
  }

  get term(): number {
    return this.replica.term;
  }

  get isLeader(): boolean {
    return this.replica.isLeader;
  }

  get leaderId(): string | null {
    return this.replica.leaderId;
  }

  get commitIndex(): number {
    return this.replica.commitIndex;
  }

  /** The primary's address when another node leads; null when we lead or nobody is known. */
  leaderAddress(): string | null {
    return this.replica.leaderAddress();
  }

  /** The group's configuration as this node's log has it, and whether that is committed. */
  get membership(): raft.Membership {
    return this.replica.membership;
  }

  get membershipCommitted(): boolean {
    return this.replica.membershipCommitted;
  }

  get admitted(): boolean {
    return this.replica.admitted;
  }

  /** Members heard from another folder than the one the group binds them to. */
  strangerFolders(): ReadonlyMap<string, string> {
    return this.replica.strangerFolders();
  }

  /** The group binds this node's id to another data folder: it neither votes nor campaigns. */
  get strangerToGroup(): boolean {
    return this.replica.strangerToGroup;
  }

  /** As primary: how long each other member has not answered, in ms (from our election). */
  silentMs(): ReadonlyMap<string, number> {
    const silent = new Map<string, number>();
    for (const [id, ticks] of this.replica.silentTicks()) silent.set(id, ticks * RAFT_TICK_MS);
    return silent;
  }

  /** As primary: how far each other member's log matches ours. */
  matchIndexes(): ReadonlyMap<string, number> {
    return this.replica.matchIndexes();
  }

  /** A snapshot export is copying the database: an image must not be swapped in now. */
  get exporting(): boolean {
    return this.exportRunning;
  }

  memberAddress(id: string): string | null {
    return this.replica.memberAddress(id);
  }

  /** One single-server change; settles once its configuration entry is committed. */
  proposeMembership(change: raft.MembershipChange): Promise<Result<raft.Membership>> {
    return new Promise((settle) => {
      if (this.stopped) return settle(fail("UNAVAILABLE", "directory node is stopping"));
      const nowMs = this.options.nowMs();
      const taken = this.input(() => this.replica.proposeMembership(change, nowMs, settle));
      if (taken === null) settle(fail("UNAVAILABLE", "directory node failed; retry"));
    });
  }

  // ---- inputs ----

  step(message: raft.RaftMessage): void {
    this.input(() => this.replica.step(message));
  }

  /**
   * Evidence the primary is gone (its TCP link refused, or gossip suspects it). After a short
   * random delay, so backups that noticed together do not split the vote, the core starts a
   * pre-vote; peers still hearing the primary refuse it, so a false alarm changes nothing.
   */
  suspectLeader(id: string): void {
    if (this.stopped || this.suspicionTimer !== null || !this.replica.suspects(id)) return;
    const delayMs = Math.floor(this.options.random() * RAFT_SUSPECT_JITTER_MS_MAX);
    this.suspicionTimer = setTimeout(() => {
      this.suspicionTimer = null;
      if (!this.replica.suspects(id)) return;
      this.options.logger.info("primary suspected; campaigning", { primary: id, term: this.term });
      this.input(() => this.replica.campaign());
    }, delayMs);
  }

  propose<C extends Command>(command: C): Promise<Result<OutcomeOf<C>>> {
    return new Promise((resolve) => {
      // The state machine answers a command with its own type's outcome (state-machine.ts).
      const settle = (result: Result<unknown>) => resolve(result as Result<OutcomeOf<C>>);
      if (this.stopped) return settle(fail("UNAVAILABLE", "directory node is stopping"));
      const nowMs = this.options.nowMs();
      const taken = this.input(() => this.replica.propose(command, nowMs, settle));
      // The core threw (and this node stopped): whatever was in flight is retried elsewhere.
      if (taken === null) settle(fail("UNAVAILABLE", "directory node failed; retry"));
    });
  }

  readBarrier(): Promise<Result<void>> {
    return new Promise((settle) => {
      const nowMs = this.options.nowMs();
      const taken = this.input(() => this.replica.readBarrier(nowMs, settle));
      if (taken === null) settle(fail("UNAVAILABLE", "directory node is stopping"));
    });
  }

  stop(): void {
    this.halt("directory node is stopping; retry");
  }

  /** Stops ticking and answers every waiter (retryable); false if already stopped. */
  private halt(message: string): boolean {
    if (this.stopped) return false;
    this.stopped = true;
    clearInterval(this.ticker);
    if (this.suspicionTimer !== null) clearTimeout(this.suspicionTimer);
    this.replica.stop(message);
    return true;
  }

  // ---- the loop ----

  /**
   * Every input to the core goes through here: a throw from the core (a broken invariant) or
   * from the disk stops this node for good, since its state can no longer be trusted. Null
   * when this node is stopped or the input killed it.
   */
  private input<T>(apply: () => T): T | null {
    if (this.stopped) return null;
    let result: T;
    try {
      result = apply();
    } catch (error) {
      this.die(error);
      return null;
    }
    this.queueFlush();
    return result;
  }

  /**
   * Nothing of the Ready that failed was sent or advanced: the core, ahead of the disk, is
   * dropped with this replicator. Waiters are told to retry: a change in flight may or may not
   * have reached the disk, and a retry (commands are idempotent by their ids) finds out.
   */
  private die(error: unknown): void {
    if (isDiskFull(error)) {
      const message = `directory node ${this.id}'s disk filled while this change was in flight`;
      if (this.halt(`${message}; retry`)) this.options.onDiskFull(error);
      return;
    }
    if (this.halt("directory node failed; retry another")) this.options.onFatal(error);
  }

  private queueFlush(): void {
    if (this.flushQueued || this.stopped) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      if (this.stopped) return;
      try {
        this.flush();
      } catch (error) {
        this.die(error);
      }
    });
  }

  private flush(): void {
    const output = this.replica.drain();
    for (const message of output.messages) {
      if (message.type === "installSnapshot") this.countSnapshotSent(message);
      this.options.send(message);
    }
    for (const event of output.events) this.report(event);
    if (output.applied) this.options.onApplied();
    this.maybeCompact();
  }

  private countSnapshotSent(message: raft.InstallSnapshot): void {
    if (this.snapshotSentTo.get(message.to) === message.snapshot.index) return;
    this.snapshotSentTo.set(message.to, message.snapshot.index);
    this.snapshots.sent += 1;
  }

  private report(event: ReplicaEvent): void {
    const { logger } = this.options;
    switch (event.kind) {
      case "leader":
        logger.info("directory primary", {
          primary: event.leader,
          term: event.term,
          self: event.self,
        });
        return;
      case "leadership":
        this.options.onLeadership(event.leading);
        return;
      case "restored":
        this.snapshots.installed += 1;
        logger.info("state restored from the primary's snapshot", { index: event.index });
        return;
      case "skipped":
        logger.error("committed log entry applied as a no-op", {
          index: event.index,
          reason: event.reason,
        });
        return;
    }
  }

  /**
   * Folds the applied log into a snapshot. The state is exported by a worker (seconds for a
   * large state); the core takes it when it comes back, as of the index the export read.
   */
  private maybeCompact(): void {
    const held = this.options.imageBeingFetched?.() ?? false;
    if (this.exportRunning || !this.replica.compactionDue(held)) return;
    this.exportRunning = true;
    const startedMs = this.options.nowMs();
    const { images, store } = this.options;
    const exportState = this.options.exportState ?? (() => exportImageInWorker(store.path, images));
    void exportState()
      .then((exported) => {
        const compacted = this.input(() => this.replica.compact(exported.index, exported.data));
        if (compacted !== true) return;
        this.snapshots.taken += 1;
        this.snapshots.lastBytes = exported.bytes;
        images.prune(raft.decodeSnapshotImage(exported.data)?.sha256 ?? null);
        this.options.logger.info("log compacted into a snapshot", {
          index: exported.index,
          bytes: exported.bytes,
          tookMs: this.options.nowMs() - startedMs,
        });
      })
      .catch((error: unknown) => {
        this.options.logger.error(
          "snapshot export failed; the log keeps growing until the next try",
          {
            error: error instanceof Error ? error.message : String(error),
          },
        );
      })
      .finally(() => {
        this.exportRunning = false;
      });
  }
}
