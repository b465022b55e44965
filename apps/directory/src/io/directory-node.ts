/**
 * One directory node: its store, its Raft replicator and transport, the primary's duties (run
 * only while this node is the primary: primary-duties.ts), gossip, and the RPC server, wired
 * together and started and stopped in the right order.
 *
 * The group's members are fixed at first boot (members.ts): a group of one starts at once; a
 * larger group waits until gossip shows `--expect` directory nodes, records them, and keeps
 * them for good. Until then every request is answered UNAVAILABLE, which clients retry.
 *
 * A full disk is an answer, not a crash: when Raft cannot persist for want of space, the node
 * drops its replicator (as a crash would, in memory only) but stays up. It refuses changes
 * (DISK_FULL, or points at the primary the others elected), serves what its own state can
 * answer, and probes the disk; once a durable write succeeds it rebuilds the replicator from
 * the disk, exactly as a restart would, and rejoins the group.
 */

import { dirname } from "node:path";
import hyperid from "hyperid";
import {
  CONNECT_TIMEOUT_MS_DEFAULT,
  fail,
  ok,
  parseAddress,
  type Op,
  type Result,
  type swim,
  MetricsRegistry,
} from "@ftfs/protocol/core";
import {
  ClusterGossip,
  describeError,
  Keyring,
  nodeConnectOptions,
  RpcPool,
  RpcServer,
  sha256Hex,
  startStatusEndpoint,
  type ClientTls,
  type ConnectionLimits,
  type ConnectOptions,
  type Handler,
  type Handlers,
  type Logger,
  type ServerTls,
  type StatusEndpoint,
} from "@ftfs/protocol/io";
import { WebConsole } from "./console.ts";
import {
  admittedAsMember,
  changeMembership,
  directoryFolderId,
  joinedAsNewMember,
  markJoinedAsNewMember,
  MembershipDuties,
  membersView,
} from "./directory-membership.ts";
import { registerDirectoryMetrics } from "./metrics.ts";
import {
  QUOTA_BYTES_DEFAULT,
  QUOTA_FILES_DEFAULT,
  UPLOAD_DEADLINE_MS_DEFAULT,
  KEEP_VERSIONS_DEFAULT,
  STORAGE_DEAD_AFTER_MS,
  diskFullRefusal,
  hearWhileFull,
  IDENTITY_CALL_TIMEOUT_MS,
  notPrimary,
  type AutopilotSettings,
  type Command,
  type DiskFullState,
  type OutcomeOf,
} from "../core/index.ts";
import { directoryHandlers, type Leadership } from "./handlers.ts";
import { formGroup, formingRefusal, GroupFormation, loadMembers } from "./members.ts";
import type { OutboxDrainer } from "./outbox.ts";
import { PrimaryDuties } from "./primary-duties.ts";
import { RaftLog } from "./raft-log.ts";
import { RaftTransport } from "./raft-transport.ts";
import { newRebalanceTotals } from "./rebalancer.ts";
import { newSnapshotStats, Replicator, type GroupMember, type Proposer } from "./replicator.ts";
import { SnapshotFetcher, SNAPSHOT_PART_TIMEOUT_MS } from "./snapshot-fetch.ts";
import { SnapshotImages } from "./snapshot-images.ts";
import { isDiskFull, type SqliteMetadataStore } from "./sqlite-store.ts";
import { directoryUserAuthenticator } from "./users.ts";

/** How often a node whose disk filled tries a durable write, to learn that space is back. */
export const DISK_FULL_PROBE_INTERVAL_MS = 1_000;
/**
 * What that probe writes (then deletes): about what a busy batch of commands writes, so a
 * probe that passes means Raft's next batches fit too, rather than failing again at once.
 */
export const DISK_FULL_PROBE_BYTES = 64 * 1024;

export interface DirectoryNodeOptions {
  readonly node: string;
  readonly listen: string;
  /** Owned by the node from now on: closed by stop(). */
  readonly store: SqliteMetadataStore;
  readonly chunkBytes: number;
  readonly logger: Logger;
  /** Other members' addresses: gossip seeds. */
  readonly join?: readonly string[];
  /** Directory nodes in the group (1, 3 or 5). */
  readonly expect?: number;
  /**
   * The cluster keyring (`--cluster-key`): gossip, node channels, sessions, tickets and
   * receipts. Absent: insecure mode, nothing authenticated.
   */
  readonly clusterKey?: Keyring;
  /** Connection bounds of the RPC server (defaults in connection-guard.ts). */
  readonly limits?: Partial<ConnectionLimits>;
  /** Serve TLS; other nodes are then reached with TLS too, trusting `clientTls`. */
  readonly tls?: ServerTls;
  readonly clientTls?: ClientTls;
  readonly nowMs?: () => number;
  /** Heartbeat age after which a storage node counts as dead; tests shorten it. */
  readonly storageDeadAfterMs?: number;
  /** How long a storage group stays under its replication factor before it gets a spare. */
  readonly rereplicationGraceMs?: number;
  readonly groupCheckIntervalMs?: number;
  /** Serve /metrics, /healthz and /readyz over HTTP here (host:port); absent: not served. */
  readonly httpListen?: string;
  /** Join an existing group as a new member (`--new-member`) rather than form one. */
  readonly newMember?: boolean;
  /** Remove directory voters silent too long (core/autopilot-rules.ts); absent or null: off. */
  readonly autopilot?: AutopilotSettings | null;
  /** How often the primary aborts expired multipart uploads (MULTIPART_EXPIRY_INTERVAL_MS). */
  readonly multipartExpiryIntervalMs?: number;
  /** The disk failed under Raft: the process must go (main exits; tests may record it). */
  readonly onFatal?: (error: unknown) => void;
  /** Applied entries between Raft snapshots (default RAFT_COMPACT_EVERY_ENTRIES). */
  readonly compactEveryEntries?: number;
  /** Bytes per second a rebalance run copies (default REBALANCE_BYTES_PER_SECOND_DEFAULT). */
  readonly rebalanceBytesPerSecond?: number;
  /** Quotas of users without their own (defaults QUOTA_BYTES_DEFAULT, QUOTA_FILES_DEFAULT). */
  readonly quotaBytesDefault?: number;
  readonly quotaFilesDefault?: number;
  /** How long an upload may take from placement to commit (UPLOAD_DEADLINE_MS_DEFAULT). */
  readonly uploadDeadlineMs?: number;
  /** Versions each name keeps (KEEP_VERSIONS_DEFAULT). */
  readonly keepVersions?: number;
}

/** While the disk is full (core/disk-full-rules.ts), with the probe that waits for space. */
interface DiskFull {
  state: DiskFullState;
  readonly probe: ReturnType<typeof setInterval>;
}

export class DirectoryNode {
  readonly node: string;
  readonly join: readonly string[];
  readonly expect: number;
  private readonly options: DirectoryNodeOptions;
  private readonly logger: Logger;
  private readonly store: SqliteMetadataStore;
  private readonly raftLog: RaftLog;
  /** This data folder's identity: the directory group binds this node's id to it. */
  private readonly folderId: string;
  private readonly pool: RpcPool;
  /** How this node proves itself to other nodes. */
  private readonly connect: ConnectOptions;
  private readonly server: RpcServer;
  private readonly metrics = new MetricsRegistry();
  /** Counted across the replicators and primary terms of this process, for /metrics. */
  private readonly snapshots = newSnapshotStats();
  private readonly rebalanceTotals = newRebalanceTotals();
  private readonly statusEndpoint: StatusEndpoint | null;
  /** Promotion of caught-up learners (as primary) and a new member's admission on disk. */
  private readonly membershipDuties: MembershipDuties;
  /** The web console, on the status endpoint's listener. */
  private readonly console: WebConsole | null;
  private readonly listenHost: string;
  private readonly nowMs: () => number;
  private readonly deadAfterMs: number;
  private readonly transport: RaftTransport;
  /** Snapshot images this node sends (as primary) and receives (catching up). */
  private readonly images: SnapshotImages;
  private readonly fetcher: SnapshotFetcher;
  /** When this node last served a part of a snapshot image (monotonic ms; null: never). */
  private lastImagePartServedMs: number | null = null;
  private readonly newId = hyperid({ urlSafe: true });
  /** The cluster keyring; null in insecure mode. */
  private readonly keyring: Keyring | null;
  /** Member id → address: recorded at formation, refreshed from gossip. */
  private readonly addresses = new Map<string, string>();
  private replicator: Replicator | null = null;
  /** The group as recorded at formation (empty until it forms). */
  private members: readonly GroupMember[] = [];
  /** Non-null while the disk is full and Raft is stopped. */
  private diskFull: DiskFull | null = null;
  private duties: PrimaryDuties | null = null;
  /** Waiting for the group to form (null once it has, or if it had before this start). */
  private formation: GroupFormation | null = null;
  /** Resolves to null when the UDP port could not be bound. */
  private readonly gossip: Promise<ClusterGossip | null>;
  private gossipReady: ClusterGossip | null = null;
  private stopping: Promise<void> | null = null;
  /** Retired primaries' outboxes, still flushing; stop() waits for them. */
  private readonly retiring: Array<Promise<void>> = [];

  private constructor(options: DirectoryNodeOptions) {
    this.options = options;
    this.nowMs = options.nowMs ?? (() => Date.now());
    this.deadAfterMs = options.storageDeadAfterMs ?? STORAGE_DEAD_AFTER_MS;
    const listen = parseAddress(options.listen);
    if (!listen.ok) throw listen.error;
    this.listenHost = listen.value.host;
    this.node = options.node;
    this.join = options.join ?? [];
    this.expect = options.expect ?? 1;
    this.logger = options.logger;
    this.store = options.store;
    this.raftLog = RaftLog.of(this.store);
    this.images = new SnapshotImages(this.store.path);
    this.folderId = directoryFolderId(this.store, options.node);
    const keyring = options.clusterKey ?? Keyring.open();
    this.keyring = keyring.isOpen ? null : keyring;
    this.connect = nodeConnectOptions(options.node, keyring, options.clientTls);
    this.pool = new RpcPool(CONNECT_TIMEOUT_MS_DEFAULT, this.connect);
    this.transport = new RaftTransport({
      addressOf: (id) => this.addresses.get(id) ?? this.replicator?.memberAddress(id) ?? undefined,
      connect: this.connect,
      logger: this.logger,
      onPeerUnreachable: (id) => this.replicator?.suspectLeader(id),
    });
    this.fetcher = new SnapshotFetcher({
      images: this.images,
      logger: this.logger,
      addressOf: (id) => this.addresses.get(id) ?? this.replicator?.memberAddress(id) ?? undefined,
      fetchPart: async (address, request) => {
        const timeoutMs = SNAPSHOT_PART_TIMEOUT_MS;
        const answer = await this.pool.call(address, "raftSnapshotPart", request, { timeoutMs });
        return { ...answer.body, payload: answer.payload };
      },
      mayInstall: () => this.replicator !== null && !this.replicator.exporting,
      step: (message) => this.replicator?.step(message),
      snapshots: this.snapshots,
    });
    const currentTerm = () => this.term;
    const proposer: Proposer = {
      get term() {
        return currentTerm();
      },
      propose: <C extends Command>(command: C) => this.propose(command),
      readBarrier: () => this.readBarrier(),
    };
    const handlers = this.refusingWhileFull({
      ...this.membershipHandlers(),
      raftSnapshotPart: (body) => this.snapshotPart(body),
      ...directoryHandlers({
        node: this.node,
        address: () => this.address,
        store: this.store,
        proposer,
        primary: () => this.duties,
        nowMs: this.nowMs,
        newId: this.newId,
        logger: this.logger,
        leadership: () => this.leadership(),
        gossipMembers: () => this.gossipReady?.members() ?? [],
        userTraffic: () => this.server.stats.userTraffic,
        onRaftMessage: (header, payload) => this.onRaftMessage(header, payload),
        keyring: this.keyring,
        settings: {
          chunkBytes: options.chunkBytes,
          deadAfterMs: this.deadAfterMs,
          quotaDefaults: {
            quotaBytesDefault: options.quotaBytesDefault ?? QUOTA_BYTES_DEFAULT,
            quotaFilesDefault: options.quotaFilesDefault ?? QUOTA_FILES_DEFAULT,
          },
          uploadDeadlineMs: options.uploadDeadlineMs ?? UPLOAD_DEADLINE_MS_DEFAULT,
          keepVersions: options.keepVersions ?? KEEP_VERSIONS_DEFAULT,
        },
      }),
    });
    const authenticate = directoryUserAuthenticator(keyring, this.store, this.nowMs);
    this.server = RpcServer.start({
      listen: options.listen,
      handlers,
      logger: this.logger,
      keyring,
      authenticateUser: authenticate,
      node: options.node,
      role: "directory",
      metrics: this.metrics,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    });
    registerDirectoryMetrics(this.metrics, {
      term: () => this.term,
      leader: () => this.isPrimary,
      commitIndex: () => this.replicator?.commitIndex ?? 0,
      appliedIndex: () => this.store.lastApplied(),
      snapshots: () => this.snapshots,
      members: () => this.gossipReady?.members() ?? [],
      groups: () => this.store.listGroups(),
      rebalance: () => ({
        ...this.rebalanceTotals,
        running: this.duties?.rebalancer.running ?? false,
      }),
    });
    this.console =
      options.httpListen === undefined
        ? null
        : new WebConsole({
            node: options.node,
            directories: () =>
              this.addresses.size === 0 ? [this.address] : [...this.addresses.values()],
            pool: this.pool,
            clientTls: options.clientTls,
            secure: this.keyring !== null,
            authenticate,
            nowMs: this.nowMs,
            logger: this.logger,
          });
    const webConsole = this.console;
    this.statusEndpoint =
      options.httpListen === undefined
        ? null
        : startStatusEndpoint({
            listen: options.httpListen,
            registry: this.metrics,
            ready: () => this.replicator !== null && this.diskFull === null,
            logger: this.logger,
            ...(webConsole === null ? {} : { routes: (request) => webConsole.handle(request) }),
          });
    this.gossip = this.startGossip(keyring);
    const members = loadMembers(this.store);
    this.membershipDuties = new MembershipDuties({
      store: this.store,
      replicator: () => this.replicator,
      logger: this.logger,
      nowMs: this.nowMs,
      autopilot: options.autopilot ?? null,
      self: this.node,
    });
    if (members !== null) this.startReplication(members);
    else if (options.newMember === true || joinedAsNewMember(this.store)) {
      this.startAsNewMember();
    } else if (this.expect === 1) {
      this.startReplication(formGroup(this.store, this.logger, [this.selfMember()]));
    } else {
      this.formation = new GroupFormation({
        store: this.store,
        logger: this.logger,
        expect: this.expect,
        seen: () => this.directoriesSeen(),
        dataFolder: this.dataFolder,
        identify: (id, address) => this.folderOf(id, address),
        folder: this.folderId,
        onStranger: (boundFolder) => this.startAsStranger(boundFolder),
        onFormed: (members) => this.startReplication(members),
      });
    }
  }

  /** Start serving: the server listens before this returns. */
  static start(options: DirectoryNodeOptions): DirectoryNode {
    const node = new DirectoryNode(options);
    node.logger.info("listening", {
      address: node.address,
      expect: node.expect,
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

  get isPrimary(): boolean {
    return this.replicator?.isLeader ?? false;
  }

  get term(): number {
    return this.replicator?.term ?? this.diskFull?.state.term ?? 0;
  }

  /** The disk filled and this node waits for space (out of its group meanwhile). */
  get isDiskFull(): boolean {
    return this.diskFull !== null;
  }

  get outboxStats(): OutboxDrainer["stats"] | null {
    return this.duties?.outbox.stats ?? null;
  }

  /** What /metrics serves, without the HTTP endpoint (tests, tools). */
  renderMetrics(): string {
    return this.metrics.render();
  }

  // ---- forming the group ----

  private selfMember(): GroupMember {
    return { id: this.node, address: this.address, folder: this.folderId };
  }

  /** `ftfs admin directory ls|add|remove`: the primary answers, from its log. */
  private membershipHandlers(): Pick<
    Handlers,
    "directoryMembers" | "directoryChange" | "directoryIdentity"
  > {
    const atPrimary = (): Result<Replicator> => {
      const replicator = this.replicator;
      if (replicator === null) return this.forming();
      if (!replicator.isLeader) return notPrimary(this.node, replicator.leaderAddress());
      return ok(replicator);
    };
    return {
      // Answered before the group forms: the founders bind each other's folders with it.
      directoryIdentity: async (body) => {
        const bound = body.asking === undefined ? undefined : this.boundFolderOf(body.asking);
        return ok({
          body: {
            node: this.node,
            folder: this.folderId,
            ...(bound === undefined ? {} : { boundFolder: bound }),
          },
        });
      },
      directoryMembers: async () => {
        const primary = atPrimary();
        if (!primary.ok) return primary;
        return ok({ body: membersView(primary.value, this.node, (id) => this.addresses.get(id)) });
      },
      directoryChange: async (body) => {
        const primary = atPrimary();
        if (!primary.ok) return primary;
        return changeMembership(primary.value, this.node, body, (id) => this.addresses.get(id));
      },
    };
  }

  /** The folder this node's group binds `id` to, as its configuration (or formation) says. */
  private boundFolderOf(id: string): string | undefined {
    const configured = this.replicator?.membership.members.find((member) => member.id === id);
    if (configured !== undefined) return configured.folder;
    return this.members.find((member) => member.id === id)?.folder;
  }

  /**
   * Formation found the group formed already, binding this node's id to another folder: this
   * is a wiped or replaced disk under an old id. It must not vote (it forgot its votes and
   * the entries it acknowledged); it waits, as a new member does, to be removed and added.
   */
  private startAsStranger(boundFolder: string): void {
    this.logger.error(
      "this node's data folder is not the one the directory group knows for it " +
        "(a wiped or replaced disk): it will not vote or campaign",
      {
        folder: this.folderId,
        groupKnows: boundFolder,
        action:
          `ftfs admin directory remove ${this.node}, ` +
          `then ftfs admin directory add ${this.node} ${this.address}`,
      },
    );
    this.startAsNewMember();
  }

  /**
   * An empty folder joining a group that exists: it waits to be added (a learner), and never
   * votes until its log says it was (an empty folder may be a wiped member that forgot its
   * votes). What it must remember across a restart is written down (directory-membership.ts).
   */
  private startAsNewMember(): void {
    markJoinedAsNewMember(this.store);
    this.logger.info("joining an existing directory group as a new member", {
      admitted: admittedAsMember(this.store),
      add: `ftfs admin directory add ${this.node} ${this.address}`,
    });
    this.startReplication([]);
  }

  private startReplication(members: readonly GroupMember[]): void {
    this.members = members;
    for (const member of members) this.addresses.set(member.id, member.address);
    this.addresses.set(this.node, this.address);
    const joined = members.length === 0;
    const peerFolders = new Map(
      members.flatMap((member) =>
        member.folder === undefined ? [] : [[member.id, member.folder]],
      ),
    );
    this.replicator = new Replicator({
      id: this.node,
      members: members.map((member) => member.id),
      folder: this.folderId,
      ...(peerFolders.size === 0 ? {} : { peerFolders }),
      ...(joined ? { admitted: admittedAsMember(this.store) } : {}),
      store: this.store,
      raftLog: this.raftLog,
      logger: this.logger,
      send: (message) => this.transport.send(message),
      addressOf: (id) => this.addresses.get(id) ?? this.replicator?.memberAddress(id) ?? undefined,
      onApplied: () => this.duties?.outbox.kick(),
      onLeadership: (leading) => this.onLeadership(leading),
      onFatal: (error) => this.onFatal(error),
      onDiskFull: (error) => this.onDiskFull(error),
      random: Math.random,
      nowMs: this.nowMs,
      snapshots: this.snapshots,
      images: this.images,
      // A member fetching goes on asking within a part's timeout, or has given up.
      imageBeingFetched: () =>
        this.lastImagePartServedMs !== null &&
        performance.now() - this.lastImagePartServedMs < SNAPSHOT_PART_TIMEOUT_MS,
      ...(this.options.compactEveryEntries === undefined
        ? {}
        : { compactEveryEntries: this.options.compactEveryEntries }),
    });
  }

  /**
   * The data folder `id` answers from at `address` (this node's own), and the folder its
   * group binds this node to; null: no answer.
   */
  private async folderOf(
    id: string,
    address: string,
  ): Promise<{ folder: string; boundSelf: string | null } | null> {
    if (id === this.node) return { folder: this.folderId, boundSelf: null };
    try {
      const answer = await this.pool.call(
        address,
        "directoryIdentity",
        { asking: this.node },
        { timeoutMs: IDENTITY_CALL_TIMEOUT_MS },
      );
      if (answer.body.node !== id) return null;
      return { folder: answer.body.folder, boundSelf: answer.body.boundFolder ?? null };
    } catch (error) {
      this.logger.debug("directory node did not say its folder yet", {
        peer: id,
        reason: describeError(error),
      });
      return null;
    }
  }

  /** Directory nodes alive in gossip, this one included: id → address. */
  private directoriesSeen(): Map<string, string> {
    const seen = new Map<string, string>([[this.node, this.address]]);
    for (const member of this.gossipReady?.members() ?? []) {
      if (member.meta.role === "directory" && member.state === "alive") {
        seen.set(member.id, member.meta.address);
      }
    }
    return seen;
  }

  private forming(): Result<never> {
    return formingRefusal(this.directoriesSeen().size, this.expect);
  }

  private propose<C extends Command>(command: C): Promise<Result<OutcomeOf<C>>> {
    if (this.diskFull !== null) return Promise.resolve(this.diskFullRefusal(this.diskFull));
    return this.replicator?.propose(command) ?? Promise.resolve(this.forming());
  }

  private readBarrier(): Promise<Result<void>> {
    const full = this.diskFull;
    if (full === null) return this.replicator?.readBarrier() ?? Promise.resolve(this.forming());
    // Alone in its group, nothing commits without this node: its applied state is current.
    return Promise.resolve(this.alone ? ok(undefined) : this.diskFullRefusal(full));
  }

  private leadership(): Leadership {
    const full = this.diskFull;
    if (full !== null) {
      // Alone, it serves what needs no write (reads); proposals answer DISK_FULL themselves.
      if (this.alone) return { kind: "primary" };
      const refusal = this.diskFullRefusal(full);
      const primary = refusal.error.hint?.primary;
      if (primary === undefined) return { kind: "forming", error: refusal };
      return { kind: "backup", primary };
    }
    const replicator = this.replicator;
    if (replicator === null) return { kind: "forming", error: this.forming() };
    if (replicator.isLeader) return { kind: "primary" };
    return { kind: "backup", primary: replicator.leaderAddress() };
  }

  private onRaftMessage(header: unknown, payload: Uint8Array): Result<void> {
    const assembled = this.transport.receive(header, payload);
    if (!assembled.ok) return assembled;
    if (assembled.value === null) return ok(undefined);
    const message = assembled.value;
    // A snapshot naming an image waits for the image to be here (snapshot-fetch.ts).
    if (message.type === "installSnapshot" && this.replicator !== null) {
      if (!this.fetcher.admit(message)) return ok(undefined);
    }
    if (this.replicator !== null) this.replicator.step(assembled.value);
    else if (this.diskFull !== null) {
      const full = this.diskFull;
      full.state = hearWhileFull(full.state, assembled.value, performance.now());
    }
    return ok(undefined);
  }

  /**
   * One part of a snapshot image this node holds, for a member catching up. Images are
   * immutable once named by their hash, so any part of one is the same whoever asks and when;
   * one pruned meanwhile is NOT_FOUND, and the member fetches the newer one it is sent.
   */
  private async snapshotPart(body: { image: string; offset: number; bytes: number }) {
    const file = Bun.file(this.images.imagePath(body.image));
    let bytes: Uint8Array;
    try {
      if (!(await file.exists())) throw new Error("gone");
      if (body.offset > file.size)
        return fail("BAD_REQUEST", `the image ends before ${body.offset}`);
      bytes = new Uint8Array(await file.slice(body.offset, body.offset + body.bytes).arrayBuffer());
    } catch (error) {
      this.logger.debug("snapshot image part not served", { error: describeError(error) });
      return fail("NOT_FOUND", "that snapshot image was replaced by a newer one; fetch that");
    }
    this.lastImagePartServedMs = performance.now();
    return ok({ body: { offset: body.offset, sha256: sha256Hex(bytes) }, payload: bytes });
  }

  // ---- the primary's duties ----

  private onLeadership(leading: boolean): void {
    if (leading) {
      this.logger.info("this node is the directory primary", { term: this.term });
      this.startDuties();
    } else {
      this.stopDuties();
    }
  }

  private startDuties(): void {
    if (this.duties !== null || this.stopping !== null || this.replicator === null) return;
    this.duties = new PrimaryDuties({
      store: this.store,
      proposer: this.replicator,
      pool: this.pool,
      connect: this.connect,
      logger: this.logger,
      nowMs: this.nowMs,
      newId: this.newId,
      deadAfterMs: this.deadAfterMs,
      after: Promise.all(this.retiring),
      keyring: this.keyring,
      rereplicationGraceMs: this.options.rereplicationGraceMs,
      groupCheckIntervalMs: this.options.groupCheckIntervalMs,
      multipartExpiryIntervalMs: this.options.multipartExpiryIntervalMs,
      rebalanceBytesPerSecond: this.options.rebalanceBytesPerSecond,
      rebalanceTotals: this.rebalanceTotals,
    });
  }

  private stopDuties(): void {
    const duties = this.duties;
    if (duties === null) return;
    this.duties = null;
    this.retiring.push(duties.stop());
  }

  private onFatal(error: unknown): void {
    this.logger.error("cannot persist Raft state; this node must stop", {
      error: describeError(error),
    });
    if (this.diskFull !== null) clearInterval(this.diskFull.probe);
    this.diskFull = null;
    this.stopDuties();
    if (this.options.onFatal !== undefined) this.options.onFatal(error);
    else process.exit(1);
  }

  // ---- a full disk ----

  private get dataFolder(): string {
    return dirname(this.store.path);
  }

  /** A group of one: no other node can take over, nor change the state behind its back. */
  private get alone(): boolean {
    return this.members.length === 1;
  }

  /** Raft stopped for want of space: stay up, refuse changes, and probe for space. */
  private onDiskFull(error: unknown): void {
    if (this.stopping !== null || this.diskFull !== null) return;
    // The core's term may be one it never persisted: claim only what the disk holds.
    const term = this.raftLog.durableTerm();
    this.replicator = null;
    this.stopDuties();
    this.diskFull = {
      state: { sinceMs: performance.now(), term, heard: null },
      probe: setInterval(() => this.probeDisk(), DISK_FULL_PROBE_INTERVAL_MS),
    };
    this.logger.error("disk is full: changes are refused until space returns; reads go on", {
      dataFolder: this.dataFolder,
      term,
      error: error instanceof Error ? error.message : String(error),
    });
  }

  /**
   * A durable write through the store, as Raft's would be; once one succeeds, the replicator
   * is rebuilt from the disk as a restart would, and the node rejoins its group. Another kind
   * of disk failure is as fatal here as anywhere.
   */
  private probeDisk(): void {
    const full = this.diskFull;
    if (full === null || this.stopping !== null) return;
    try {
      this.store.transaction(() => this.raftLog.writeProbe(DISK_FULL_PROBE_BYTES));
      this.store.transaction(() => this.raftLog.clearProbe());
      clearInterval(full.probe);
      this.diskFull = null;
      this.logger.info("disk has room again; rejoining the directory group", {
        dataFolder: this.dataFolder,
        fullForMs: Math.round(performance.now() - full.state.sinceMs),
      });
      this.startReplication(loadMembers(this.store) ?? this.members);
    } catch (error) {
      if (isDiskFull(error)) return; // still full: the next probe tries again
      this.onFatal(error);
    }
  }

  /** What a change hears while the disk is full (core/disk-full-rules.ts). */
  private diskFullRefusal(full: DiskFull): ReturnType<typeof fail> {
    return diskFullRefusal(full.state, {
      node: this.node,
      dataFolder: this.dataFolder,
      alone: this.alone,
      nowMs: performance.now(),
      addressOf: (node) => this.addresses.get(node),
    });
  }

  /**
   * Ops that lead to a change without proposing one: refused up front while the disk is full,
   * so a client does not send chunks for a commit that must fail. A storage node's heartbeat
   * is told to retry: this node answers again once space returns.
   */
  private refusingWhileFull(handlers: Handlers): Handlers {
    const guard = <O extends Op>(handler: Handler<O>, retryable: boolean): Handler<O> => {
      return (body, request) => {
        const full = this.diskFull;
        if (full === null) return handler(body, request);
        const refusal = this.diskFullRefusal(full);
        if (!retryable || refusal.error.code !== "DISK_FULL") return Promise.resolve(refusal);
        return Promise.resolve(fail("UNAVAILABLE", refusal.error.message));
      };
    };
    const { placeUpload, rebalance, registerStorage } = handlers;
    return {
      ...handlers,
      ...(placeUpload === undefined ? {} : { placeUpload: guard(placeUpload, false) }),
      ...(rebalance === undefined ? {} : { rebalance: guard(rebalance, false) }),
      ...(registerStorage === undefined ? {} : { registerStorage: guard(registerStorage, true) }),
    };
  }

  // ---- gossip ----

  /** Joins the one gossip cluster; acts on members it finds suspect, dead or moved. */
  private async startGossip(keyring: Keyring): Promise<ClusterGossip | null> {
    const gossip = await ClusterGossip.start({
      node: this.node,
      address: this.address,
      join: this.join,
      keyring,
      logger: this.logger,
      metrics: this.metrics,
      meta: () => ({
        role: "directory",
        group: null,
        address: this.address,
        primary: this.isPrimary,
        epoch: this.term,
        usedBytes: 0,
        capacityBytes: 0,
      }),
    });
    gossip?.subscribe((event) => this.onGossipEvent(event));
    this.gossipReady = gossip;
    return gossip;
  }

  private onGossipEvent(event: swim.MemberEvent): void {
    if (this.stopping !== null) return;
    const { member, kind } = event;
    if (member.meta.role === "directory") {
      // Every directory gossip knows, members or not yet: a new member learns where the others
      // are here (the group's first configuration names no addresses), and they learn its.
      if (kind !== "dead" && kind !== "left") this.addresses.set(member.id, member.meta.address);
      // Suspicion is the trigger the design asks for; the election timeout is the fallback.
      if (kind === "suspect" || kind === "dead" || kind === "left") {
        this.replicator?.suspectLeader(member.id);
      }
      return;
    }
    if (member.meta.role !== "storage") return;
    if (kind !== "suspect" && kind !== "dead" && kind !== "left") return;
    // A suspected node leaves its group's in-sync set at once (the design's rule): writes
    // wait for every in-sync replica, so waiting for "dead" would stall its group for the
    // whole suspicion timeout. If the suspicion was wrong, the node's next heartbeat brings
    // it back as a learner, and one catch-up pass makes it in sync again.
    void this.duties?.groups.onMemberDown(member.id, `gossip: ${kind}`);
  }

  // ---- stopping ----

  /** Stop accepting, let running work finish (bounded), close the store. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    // Leave while the rest winds down: others record `left` at once, never `dead`.
    const leaving = this.gossip.then((gossip) => gossip?.stop());
    this.formation?.stop();
    this.membershipDuties.stop();
    if (this.diskFull !== null) clearInterval(this.diskFull.probe);
    this.server.stop();
    this.stopDuties();
    this.replicator?.stop();
    this.fetcher.stop();
    await Promise.all(this.retiring);
    this.transport.close();
    this.pool.close();
    this.raftLog.close();
    this.store.close();
    this.console?.stop();
    await this.statusEndpoint?.stop();
    await leaving;
    this.logger.info("stopped", {});
  }
}
