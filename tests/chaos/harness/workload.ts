/**
 * The clients: closed loops, each with its own FtfsClient, uploading, updating, reading,
 * listing and deleting a few shared names per user (so writes, deletes and reads of one file
 * race, and a deleted name is uploaded again), recording every operation in the history. Sizes
 * and choices come from the seed; timing from the cluster. Ops started elsewhere (the nemesis's
 * upload through the real CLI) are tracked here too, so `stop` waits for them.
 */

import { Prng } from "@ftfs/protocol/core";
import { sha256Hex } from "@ftfs/protocol/io";
import type { ChaosClient, ChaosUsers } from "./client.ts";
import { CHAOS_CHUNK_BYTES, CHAOS_SHAPE } from "./cluster.ts";
import { groupsOfBytes } from "./group-gap.ts";
import { fileKey, type OpKind, type OpLog } from "@ftfs/protocol/testing/history";
import { NAMES_PER_USER, workloadName, workloadUid } from "./schedule.ts";

export const CLIENTS_DEFAULT = 8;
const STAMP_BYTES = 8;
/** Room for a chunk's index after the stamp, in files big enough to repeat the base bytes. */
const CHUNK_INDEX_BYTES = 4;
/** At least one stamp, so every write's bytes are its own. */
const FILE_BYTES_MIN = STAMP_BYTES;
/** Up to four 64 KiB chunks: files span chunks and storage groups. */
const FILE_BYTES_MAX = 4 * CHAOS_CHUNK_BYTES;
/**
 * A client gives up waiting on one op after this long and records it as unknown (a write) or
 * failed (a read); the client library's own retry deadline (20 s) normally ends it sooner.
 */
export const OP_TIMEOUT_MS = 45_000;
/** Pause between a client's ops: keeps 8 clients from saturating 2 shared cores. */
const THINK_MS_MAX = 60;
/**
 * The op mix, as cumulative shares of a roll: updates, reads, lists, deletes, then uploads of
 * a name drawn from all of the user's names (an update when the name has a live version, a
 * re-upload when it was deleted). Deletes are rarer than uploads, so most names stay live.
 */
const ROLL_UPDATE = 0.3;
const ROLL_READ = 0.72;
const ROLL_LIST = 0.8;
const ROLL_DELETE = 0.87;

function errorCode(error: unknown): string | null {
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : null;
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return `${errorCode(error) ?? error.name}: ${error.message}`;
}

/** The directory's definite "no such file (or version)": only it answers NOT_FOUND. */
export function isNotFound(error: unknown): boolean {
  return errorCode(error) === "NOT_FOUND";
}

/**
 * `size` bytes of `base` (repeated), stamped with the op id at every chunk's start, and with
 * the chunk's index after it when the file is longer than the base: no two writes, and no two
 * chunks of one write, share a chunk, so a hash names exactly one write and chunks never
 * deduplicate (the disk check counts them one by one).
 */
export function stampedBytes(base: Uint8Array, size: number, stampId: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += base.length) {
    bytes.set(base.subarray(0, size - offset), offset);
  }
  const view = new DataView(bytes.buffer);
  const indexed = size > base.length;
  for (let offset = 0; offset + STAMP_BYTES <= size; offset += CHAOS_CHUNK_BYTES) {
    view.setFloat64(offset, stampId);
    if (indexed && offset + STAMP_BYTES + CHUNK_INDEX_BYTES <= size) {
      view.setUint32(offset + STAMP_BYTES, offset / CHAOS_CHUNK_BYTES);
    }
  }
  return bytes;
}

class Timeout extends Error {}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`no answer in ${ms} ms (harness limit)`)), ms);
  });
  try {
    return await Promise.race([promise, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

export class Workload {
  private readonly log: OpLog;
  private readonly random: Prng;
  private readonly base: Uint8Array;
  private readonly clients: ChaosClient[] = [];
  /**
   * Per user, names with a live version as far as this workload knows: reads, updates and
   * deletes draw from them.
   */
  private readonly acked = new Map<string, Set<string>>();
  private stopping = false;
  private loops: Promise<void>[] = [];
  /** Ops run outside the loops (the nemesis's CLI upload): awaited by `stop`. */
  private readonly tracked = new Set<Promise<void>>();
  /** What ops run outside the loops went through, for the run's figures. */
  readonly notes: string[] = [];
  /** The storage groups each read or write touched (group-gap.ts), by op id. */
  private readonly opGroups = new Map<number, string[]>();
  private readonly groupNames = (CHAOS_SHAPE.groups ?? []).map((group) => group.name);

  private readonly users: ChaosUsers;
  private readonly clientCount: number;

  constructor(log: OpLog, users: ChaosUsers, seed: number, clients: number) {
    this.log = log;
    this.users = users;
    this.clientCount = clients;
    this.random = new Prng(seed);
    this.base = new Uint8Array(FILE_BYTES_MAX);
    for (let index = 0; index < FILE_BYTES_MAX; index += 1)
      this.base[index] = this.random.intBelow(256);
  }

  private uidOf(client: number): string {
    return workloadUid(client);
  }

  /** Logs every client in as its user and connects it, before any fault. */
  async connect(): Promise<void> {
    for (let index = 0; index < this.clientCount; index += 1) {
      const entry = await this.users.client(this.uidOf(index));
      this.clients.push(entry);
      await entry.client.connect(this.uidOf(index));
    }
  }

  start(): void {
    this.loops = this.clients.map((entry, index) => this.loop(entry, index));
  }

  /** Stops starting ops; resolves when every client's last op has ended (or timed out). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    await Promise.all(this.tracked);
    for (const entry of this.clients) entry.close();
  }

  /** The history's client number for an op run outside the loops (after the loops' own). */
  get externalClient(): number {
    return this.clientCount;
  }

  /** The base bytes every write is cut from (seeded), for writes made outside the loops. */
  get baseBytes(): Uint8Array {
    return this.base;
  }

  get history(): OpLog {
    return this.log;
  }

  /** Waits for an op run outside the loops before `stop` resolves. */
  track(done: Promise<void>): void {
    this.tracked.add(done);
    void done.finally(() => this.tracked.delete(done));
  }

  /** Whether `name` has a live version as far as this workload knows (upload vs update). */
  isLive(uid: string, name: string): boolean {
    return this.acked.get(uid)?.has(name) ?? false;
  }

  /** Records what an op learned: the name has a live version (true) or none (false). */
  noteLive(uid: string, name: string, live: boolean): void {
    const set = this.acked.get(uid) ?? new Set<string>();
    if (live) set.add(name);
    else set.delete(name);
    this.acked.set(uid, set);
  }

  /** The storage groups op `opId`'s chunks rank first (none for lists and deletes). */
  groupsOf(opId: number): readonly string[] {
    return this.opGroups.get(opId) ?? [];
  }

  private noteGroups(opId: number, bytes: Uint8Array): void {
    this.opGroups.set(opId, groupsOfBytes(bytes, CHAOS_CHUNK_BYTES, this.groupNames));
  }

  /** Every file any write touched, for the final read-back. */
  files(): Array<{ uid: string; name: string }> {
    const seen = new Map<string, { uid: string; name: string }>();
    for (const op of this.log.ops) {
      if (op.name !== null) seen.set(fileKey(op.uid, op.name), { uid: op.uid, name: op.name });
    }
    return [...seen.values()];
  }

  private async loop(entry: ChaosClient, index: number): Promise<void> {
    const uid = this.uidOf(index);
    while (!this.stopping) {
      const names = [...(this.acked.get(uid) ?? [])];
      const roll = this.random.nextFloat();
      let kind: OpKind =
        roll < ROLL_UPDATE
          ? "update"
          : roll < ROLL_READ
            ? "read"
            : roll < ROLL_LIST
              ? "list"
              : roll < ROLL_DELETE
                ? "delete"
                : "upload";
      if (names.length === 0) kind = "upload";
      const name =
        kind === "upload"
          ? workloadName(this.random.intBelow(NAMES_PER_USER))
          : (names[this.random.intBelow(names.length)] ?? "f0");
      if (kind === "upload" && names.includes(name)) kind = "update";
      await this.op(entry, index, uid, kind, name);
      await Bun.sleep(this.random.intBelow(THINK_MS_MAX));
    }
  }

  private async op(
    entry: ChaosClient,
    client: number,
    uid: string,
    kind: OpKind,
    name: string,
  ): Promise<void> {
    const { client: ftfs } = entry;
    if (kind === "list") {
      const op = this.log.invoke(client, kind, uid, null);
      try {
        const files = await withTimeout(ftfs.list(uid), OP_TIMEOUT_MS);
        this.log.ok(op, {
          listed: files.map((f) => ({ name: f.name, version: f.version, sha256: f.sha256 })),
        });
      } catch (error) {
        this.log.failed(op, errorText(error));
      }
      return;
    }
    if (kind === "read") {
      const op = this.log.invoke(client, kind, uid, name);
      try {
        const hasher = new Bun.CryptoHasher("sha256");
        const pieces: Uint8Array[] = [];
        const sink = (piece: Uint8Array): void => {
          hasher.update(piece);
          pieces.push(piece.slice());
        };
        const result = await withTimeout(ftfs.read(uid, name, sink), OP_TIMEOUT_MS);
        this.noteGroups(op.id, Buffer.concat(pieces));
        this.log.ok(op, {
          version: result.version,
          sha256: hasher.digest("hex"),
          bytes: result.bytes,
        });
      } catch (error) {
        if (!isNotFound(error)) return this.log.failed(op, errorText(error));
        this.log.absent(op, errorText(error));
        this.noteLive(uid, name, false);
      }
      return;
    }
    if (kind === "delete") return this.delete(ftfs, client, uid, name);
    const size = FILE_BYTES_MIN + this.random.intBelow(FILE_BYTES_MAX - FILE_BYTES_MIN);
    // The op id in every chunk: no two writes share bytes, so a hash names exactly one write.
    const bytes = stampedBytes(this.base, size, this.log.ops.length + 1);
    const op = this.log.invoke(client, kind, uid, name, { sha256: sha256Hex(bytes), bytes: size });
    this.noteGroups(op.id, bytes);
    try {
      const result = await withTimeout(ftfs.uploadBytes(uid, name, bytes), OP_TIMEOUT_MS);
      this.log.ok(op, { version: result.version });
      this.noteLive(uid, name, true);
    } catch (error) {
      this.log.failed(op, errorText(error));
    }
  }

  /** Deletes every version of the name: acknowledged with the version it removed, or absent. */
  private async delete(
    ftfs: ChaosClient["client"],
    client: number,
    uid: string,
    name: string,
  ): Promise<void> {
    const op = this.log.invoke(client, "delete", uid, name);
    try {
      const result = await withTimeout(ftfs.remove(uid, name), OP_TIMEOUT_MS);
      this.log.ok(op, { version: result.deletedVersion });
      this.noteLive(uid, name, false);
    } catch (error) {
      if (!isNotFound(error)) return this.log.failed(op, errorText(error));
      this.log.absent(op, errorText(error));
      this.noteLive(uid, name, false);
    }
  }
}
