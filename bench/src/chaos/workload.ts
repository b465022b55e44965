/**
 * The clients: closed loops, each with its own FtfsClient, uploading, updating, reading and
 * listing a few shared names per user (so writes and reads of one file race), recording every
 * operation in the history. Sizes and choices come from the seed; timing from the cluster.
 */

import { Prng } from "@ftfs/protocol/core";
import { sha256Hex } from "ftfs";
import type { ChaosClient, ChaosUsers } from "./client.ts";
import { CHAOS_CHUNK_BYTES } from "./cluster.ts";
import { fileKey, type OpKind, type OpLog } from "./history.ts";

export const CLIENTS_DEFAULT = 8;
const USERS = 3;
const NAMES_PER_USER = 5;
const STAMP_BYTES = 8;
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

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as Error & { code?: unknown }).code;
  return `${typeof code === "string" ? code : error.name}: ${error.message}`;
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
  /** Names with at least one acknowledged write, per user (reads and updates draw from them). */
  private readonly acked = new Map<string, Set<string>>();
  private stopping = false;
  private loops: Promise<void>[] = [];

  private readonly users: ChaosUsers;
  private readonly clientCount: number;

  constructor(log: OpLog, users: ChaosUsers, seed: number, clients: number) {
    this.log = log;
    this.users = users;
    this.clientCount = clients;
    this.random = new Prng(seed);
    this.base = new Uint8Array(FILE_BYTES_MAX);
    for (let index = 0; index < FILE_BYTES_MAX; index += 1) this.base[index] = this.random.intBelow(256);
  }

  private uidOf(client: number): string {
    return `chaos${client % USERS}`;
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
    for (const entry of this.clients) entry.close();
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
      let kind: OpKind = roll < 0.35 ? "update" : roll < 0.8 ? "read" : roll < 0.9 ? "list" : "upload";
      if (names.length === 0) kind = "upload";
      const name = kind === "upload"
        ? `f${this.random.intBelow(NAMES_PER_USER)}`
        : names[this.random.intBelow(names.length)] ?? "f0";
      if (kind === "upload" && names.includes(name)) kind = "update";
      await this.op(entry, index, uid, kind, name);
      await Bun.sleep(this.random.intBelow(THINK_MS_MAX));
    }
  }

  private async op(entry: ChaosClient, client: number, uid: string, kind: OpKind, name: string): Promise<void> {
    const { client: ftfs } = entry;
    if (kind === "list") {
      const op = this.log.invoke(client, kind, uid, null);
      try {
        const files = await withTimeout(ftfs.list(uid), OP_TIMEOUT_MS);
        this.log.ok(op, { listed: files.map((f) => ({ name: f.name, version: f.version, sha256: f.sha256 })) });
      } catch (error) {
        this.log.failed(op, errorText(error));
      }
      return;
    }
    if (kind === "read") {
      const op = this.log.invoke(client, kind, uid, name);
      try {
        const hasher = new Bun.CryptoHasher("sha256");
        const result = await withTimeout(ftfs.read(uid, name, (chunk) => void hasher.update(chunk)), OP_TIMEOUT_MS);
        this.log.ok(op, { version: result.version, sha256: hasher.digest("hex"), bytes: result.bytes });
      } catch (error) {
        this.log.failed(op, errorText(error));
      }
      return;
    }
    const size = FILE_BYTES_MIN + this.random.intBelow(FILE_BYTES_MAX - FILE_BYTES_MIN);
    const bytes = this.base.slice(0, size);
    const stampId = this.log.ops.length + 1;
    const view = new DataView(bytes.buffer);
    // The op id in every chunk: no two writes share bytes, so a hash names exactly one write.
    for (let offset = 0; offset + STAMP_BYTES <= size; offset += CHAOS_CHUNK_BYTES) view.setFloat64(offset, stampId);
    const op = this.log.invoke(client, kind, uid, name, { sha256: sha256Hex(bytes), bytes: size });
    try {
      const result = await withTimeout(ftfs.uploadBytes(uid, name, bytes), OP_TIMEOUT_MS);
      this.log.ok(op, { version: result.version });
      const set = this.acked.get(uid) ?? new Set<string>();
      set.add(name);
      this.acked.set(uid, set);
    } catch (error) {
      this.log.failed(op, errorText(error));
    }
  }
}
