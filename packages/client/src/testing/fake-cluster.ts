/**
 * An in-process stand-in for a cluster, for the client library's unit tests: one or more fake
 * directory nodes (one primary; the others answer NOT_PRIMARY with a hint, except to a stale
 * listFiles, which every node serves) and storage groups
 * of fake nodes keeping chunks in memory, all real RpcServers on loopback. Faults are scripted
 * per node: fail the next calls of an op with a code, delay answers, corrupt or drop a chunk.
 * Test-only; it mimics the contract of messages.ts, not the real servers' internals.
 */

import {
  fail,
  FtfsError,
  ok,
  uploadIdWithDeadline,
  type ErrorCode,
  type FileEntry,
  type GroupView,
  type Manifest,
  type Op,
  type OwnedFile,
} from "@ftfs/protocol/core";
import { createMemoryLogger, RpcServer, sha256Hex, type Handlers } from "@ftfs/protocol/io";

const KIB = 1024;

interface Fault {
  readonly code: ErrorCode;
  remaining: number;
  /** Apply the operation, then lose the answer (as a crash after commit would). */
  readonly afterApply: boolean;
}

/** Per-node fault script, shared by fake directory and storage nodes. */
export class FaultScript {
  private readonly faults = new Map<Op, Fault>();
  readonly calls = new Map<Op, number>();
  delayMs = 0;
  inFlight = 0;
  inFlightMax = 0;

  failNext(op: Op, code: ErrorCode, count = 1, afterApply = false): void {
    this.faults.set(op, { code, remaining: count, afterApply });
  }

  /** Count the call; return the fault to apply, if any. */
  take(op: Op): Fault | null {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    const fault = this.faults.get(op);
    if (fault === undefined || fault.remaining <= 0) return null;
    fault.remaining -= 1;
    return fault;
  }

  async delay(): Promise<void> {
    if (this.delayMs > 0) await Bun.sleep(this.delayMs);
  }
}

interface StoredChunk {
  bytes: Uint8Array;
  owners: Array<{ uid: string; name: string; uploadId: string }>;
}

export class FakeStorageNode {
  readonly node: string;
  readonly group: string;
  readonly faults = new FaultScript();
  readonly chunks = new Map<string, StoredChunk>();
  server: RpcServer | null = null;
  address = "";

  constructor(node: string, group: string) {
    this.node = node;
    this.group = group;
  }

  stop(): void {
    this.server?.stop();
    this.server = null;
  }
}

export interface FakeClusterOptions {
  readonly directories?: number;
  readonly groups?: ReadonlyArray<{ name: string; size: number }>;
  readonly chunkBytes?: number;
}

export class FakeCluster {
  readonly chunkBytes: number;
  readonly directoryFaults: FaultScript[] = [];
  readonly directoryAddresses: string[] = [];
  readonly storage: FakeStorageNode[] = [];
  readonly epochs = new Map<string, number>();
  readonly users = new Set<string>();
  readonly versions = new Map<string, Manifest[]>();
  readonly commits = new Map<string, number>();
  /** Which directory node is primary; one past the last (or -1) means none is elected. */
  primaryIndex = 0;
  /** Every listFiles request body as a directory node decoded it, in arrival order. */
  readonly listRequests: Array<{ readonly node: number; readonly body: unknown }> = [];
  /** If set, placeUpload hands out these (stale) views while listGroups tells the truth. */
  placementViews: GroupView[] | null = null;
  /** Chunk requests being served right now over all storage nodes, and the most ever. */
  storageInFlight = 0;
  storageInFlightMax = 0;
  private readonly servers: RpcServer[] = [];
  private readonly clockMs = 1_700_000_000_000;

  private constructor(chunkBytes: number) {
    this.chunkBytes = chunkBytes;
  }

  static start(options: FakeClusterOptions = {}): FakeCluster {
    const cluster = new FakeCluster(options.chunkBytes ?? 4 * KIB);
    for (const spec of options.groups ?? [
      { name: "s1", size: 2 },
      { name: "s2", size: 2 },
    ]) {
      cluster.epochs.set(spec.name, 1);
      for (let index = 0; index < spec.size; index += 1) {
        const node = new FakeStorageNode(
          `${spec.name}${String.fromCharCode(97 + index)}`,
          spec.name,
        );
        node.server = RpcServer.start({
          listen: "127.0.0.1:0",
          logger: createMemoryLogger(),
          handlers: cluster.storageHandlers(node),
        });
        node.address = `127.0.0.1:${node.server.port}`;
        cluster.storage.push(node);
      }
    }
    for (let index = 0; index < (options.directories ?? 1); index += 1) {
      const faults = new FaultScript();
      const server = RpcServer.start({
        listen: "127.0.0.1:0",
        logger: createMemoryLogger(),
        handlers: cluster.directoryHandlers(index, faults),
      });
      cluster.servers.push(server);
      cluster.directoryFaults.push(faults);
      cluster.directoryAddresses.push(`127.0.0.1:${server.port}`);
    }
    return cluster;
  }

  stop(): void {
    for (const server of this.servers) server.stop();
    for (const node of this.storage) node.stop();
  }

  groupView(group: string): GroupView {
    const members = this.storage.filter((node) => node.group === group && node.server !== null);
    const primary = members[0] ?? null;
    return {
      group,
      epoch: this.epochs.get(group) ?? 1,
      primary: primary === null ? null : primary.address,
      primaryNode: primary === null ? null : primary.node,
      replicas: members.map((node) => ({ node: node.node, address: node.address })),
    };
  }

  groupViews(): GroupView[] {
    return [...this.epochs.keys()].map((group) => this.groupView(group));
  }

  /** Every chunk id a group's nodes hold, with how many nodes hold it. */
  nodesOf(group: string): FakeStorageNode[] {
    return this.storage.filter((node) => node.group === group);
  }

  private directoryHandlers(index: number, faults: FaultScript): Handlers {
    const guard = async <T>(
      op: Op,
      apply: () => T,
      anyNode = false,
    ): Promise<ReturnType<typeof ok<T>> | ReturnType<typeof fail>> => {
      const fault = faults.take(op);
      await faults.delay();
      if (index !== this.primaryIndex && !anyNode) {
        return fail("NOT_PRIMARY", "not the primary", {
          primary: this.directoryAddresses[this.primaryIndex] ?? "",
        });
      }
      if (fault !== null && !fault.afterApply) return fail(fault.code, `scripted ${fault.code}`);
      try {
        const value = apply();
        if (fault !== null) return fail(fault.code, `scripted ${fault.code} after apply`);
        return ok(value);
      } catch (error) {
        if (error instanceof FtfsError) return { ok: false, error };
        throw error;
      }
    };
    return {
      connect: (body) => guard("connect", () => this.onConnect(body.uid, index)),
      placeUpload: (body) => guard("placeUpload", () => this.onPlace(body.uid)),
      commitUpload: (body) => guard("commitUpload", () => this.onCommit(body)),
      getManifest: (body) =>
        guard("getManifest", () => this.onGetManifest(body.uid, body.name, body.version)),
      listFiles: (body) => {
        this.listRequests.push({ node: index, body });
        const files = () => ({ body: { files: this.onList(body.uid) } });
        return guard("listFiles", files, body.stale === true);
      },
      deleteFile: (body) => guard("deleteFile", () => this.onDelete(body.uid, body.name)),
      clusterStatus: () =>
        guard("clusterStatus", () => ({
          body: { node: `d${index + 1}`, members: [], groups: this.groupViews() },
        })),
      listGroups: () => guard("listGroups", () => ({ body: { groups: this.groupViews() } })),
    };
  }

  private requireUser(uid: string): void {
    if (!this.users.has(uid)) throw new FtfsError("NO_SUCH_USER", `no user '${uid}'`);
  }

  private onConnect(uid: string, index: number) {
    const created = !this.users.has(uid);
    this.users.add(uid);
    return {
      body: {
        uid,
        created,
        node: `d${index + 1}`,
        primary: this.directoryAddresses[index] ?? "",
        term: 1,
      },
    };
  }

  private uploads = 0;
  /** How far ahead of the real clock placeUpload sets an upload's deadline. */
  uploadDeadlineAheadMs = 3_600_000;

  private onPlace(uid: string) {
    this.requireUser(uid);
    this.uploads += 1;
    const groups = this.placementViews ?? this.groupViews();
    const uploadId = uploadIdWithDeadline(
      Date.now() + this.uploadDeadlineAheadMs,
      `up-${this.uploads}`,
    );
    return { body: { uploadId, chunkBytes: this.chunkBytes, groups } };
  }

  private onCommit(body: {
    uid: string;
    name: string;
    uploadId: string;
    bytes: number;
    sha256: string;
    chunks: readonly Manifest["chunks"][number][];
  }) {
    this.requireUser(body.uid);
    const key = `${body.uid}/${body.name}`;
    const done = this.commits.get(body.uploadId);
    if (done !== undefined) return { body: { version: done, createdAtMs: this.clockMs } };
    const list = this.versions.get(key) ?? [];
    const version = (list.at(-1)?.version ?? 0) + 1;
    list.push({
      uid: body.uid,
      name: body.name,
      version,
      bytes: body.bytes,
      sha256: body.sha256,
      createdAtMs: this.clockMs,
      chunks: [...body.chunks],
    });
    this.versions.set(key, list);
    this.commits.set(body.uploadId, version);
    return { body: { version, createdAtMs: this.clockMs } };
  }

  private onGetManifest(uid: string, name: string, version: number | undefined) {
    this.requireUser(uid);
    const list = this.versions.get(`${uid}/${name}`) ?? [];
    const manifest =
      version === undefined ? list.at(-1) : list.find((entry) => entry.version === version);
    if (manifest === undefined) throw new FtfsError("NOT_FOUND", `no file '${name}'`);
    return { body: { manifest, groups: this.groupViews() } };
  }

  private onList(uid: string): FileEntry[] {
    this.requireUser(uid);
    const files: FileEntry[] = [];
    for (const [key, list] of this.versions) {
      const newest = list.at(-1);
      if (key.startsWith(`${uid}/`) && newest !== undefined) {
        files.push({
          name: newest.name,
          version: newest.version,
          bytes: newest.bytes,
          sha256: newest.sha256,
          createdAtMs: newest.createdAtMs,
        });
      }
    }
    return files;
  }

  private onDelete(uid: string, name: string) {
    this.requireUser(uid);
    const list = this.versions.get(`${uid}/${name}`);
    const newest = list?.at(-1);
    if (newest === undefined) throw new FtfsError("NOT_FOUND", `no file '${name}'`);
    this.versions.delete(`${uid}/${name}`);
    return { body: { deletedVersion: newest.version } };
  }

  private storageHandlers(node: FakeStorageNode): Handlers {
    const enter = async (op: Op): Promise<ErrorCode | null> => {
      const fault = node.faults.take(op);
      node.faults.inFlight += 1;
      node.faults.inFlightMax = Math.max(node.faults.inFlightMax, node.faults.inFlight);
      this.storageInFlight += 1;
      this.storageInFlightMax = Math.max(this.storageInFlightMax, this.storageInFlight);
      try {
        await node.faults.delay();
      } finally {
        node.faults.inFlight -= 1;
        this.storageInFlight -= 1;
      }
      return fault === null ? null : fault.code;
    };
    return {
      putChunk: async (body, context) => {
        const fault = await enter("putChunk");
        if (fault !== null) return fail(fault, `scripted ${fault}`);
        if (context.epoch < (this.epochs.get(node.group) ?? 0))
          return fail("STALE_EPOCH", "stale epoch");
        const hash = sha256Hex(context.payload);
        if (hash !== body.chunkId) return fail("CHUNK_MISMATCH", "bytes do not match the id");
        const replicas = this.nodesOf(node.group).filter((peer) => peer.server !== null);
        for (const peer of replicas) {
          const stored = peer.chunks.get(body.chunkId) ?? {
            bytes: context.payload.slice(),
            owners: [],
          };
          stored.owners.push(body.owner);
          peer.chunks.set(body.chunkId, stored);
        }
        return ok({
          body: { chunkId: body.chunkId, bytes: context.payload.length, replicas: replicas.length },
        });
      },
      getChunk: async (body) => {
        const fault = await enter("getChunk");
        if (fault !== null) return fail(fault, `scripted ${fault}`);
        const stored = node.chunks.get(body.chunkId);
        if (stored === undefined) return fail("CHUNK_NOT_FOUND", "no such chunk");
        return ok({
          body: { chunkId: body.chunkId, bytes: stored.bytes.length },
          payload: stored.bytes,
        });
      },
      uploadHeld: async (body) => {
        const fault = await enter("uploadHeld");
        if (fault !== null) return fail(fault, `scripted ${fault}`);
        const { uid, name, uploadId } = body.owner;
        const present = body.chunkIds.filter((id) =>
          (node.chunks.get(id)?.owners ?? []).some(
            (owner) => owner.uid === uid && owner.name === name && owner.uploadId === uploadId,
          ),
        );
        return ok({ body: { present } });
      },
      listOwned: async (body) => {
        const fault = await enter("listOwned");
        if (fault !== null) return fail(fault, `scripted ${fault}`);
        return ok({ body: { node: node.node, files: this.ownedBy(node, body.uid) } });
      },
    };
  }

  private ownedBy(node: FakeStorageNode, uid: string): OwnedFile[] {
    const byUpload = new Map<string, OwnedFile>();
    for (const stored of node.chunks.values()) {
      for (const owner of stored.owners) {
        if (owner.uid !== uid) continue;
        const known = byUpload.get(owner.uploadId);
        const version = this.commits.get(owner.uploadId) ?? null;
        byUpload.set(owner.uploadId, {
          name: owner.name,
          version,
          uploadId: owner.uploadId,
          bytes: (known?.bytes ?? 0) + stored.bytes.length,
          chunks: (known?.chunks ?? 0) + 1,
          group: node.group,
        });
      }
    }
    return [...byUpload.values()];
  }
}
