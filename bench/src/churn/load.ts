/**
 * The clients: N closed loops, each its own FtfsClient (clients share a connection pool in
 * tens, like a few application processes), drawing operations from the mix and sizes from the
 * distribution, recording every operation, retry and read into the history. Also the final
 * read-back of every acknowledged write. Runs in the bench process: one async loop per client.
 */

import { assertNever } from "@ftfs/protocol/core";
import { RpcPool, sha256Hex } from "@ftfs/protocol/io";
import { FtfsClient } from "@ftfs/client";
import { OpLog, type Op } from "@ftfs/protocol/testing/history";
import { pickWeighted, type BenchOptions, type OpKind } from "./config.ts";
import type { OpRecord } from "./metrics.ts";

/** Clients that share one connection pool: one pool per ~10 clients, as an app process would. */
const CLIENTS_PER_POOL = 10;
const POOL_CONNECT_TIMEOUT_MS = 2_000;
/** Users the clients spread over; each user's names are shared, so updates and reads race. */
const TENANTS_MAX = 10;
/** Stamp a write's id this often inside its bytes, so no two files share a chunk. */
const STAMP_INTERVAL_BYTES = 64 * 1024;
const STAMP_BYTES = 8;
const ERROR_SAMPLES_MAX = 8;
const VERIFY_CONCURRENCY = 16;

export interface LoadState {
  /** Every client op, as the history checker (bench/src/history) judges it after the run. */
  readonly ops: OpLog;
  readonly records: OpRecord[];
  readonly retryTimesMs: number[];
  readonly errorSamples: string[];
  listMissing: number;
  inFlight: number;
}

/** xorshift32: the seed fixes sizes, ops and names, not the cluster's timing. */
export function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as Error & { code?: unknown }).code;
  return `${typeof code === "string" ? code : error.name}: ${error.message}`;
}

class Payloads {
  private readonly base: Uint8Array;

  constructor(maxBytes: number, random: () => number) {
    this.base = new Uint8Array(maxBytes);
    for (let index = 0; index < maxBytes; index += 1) this.base[index] = Math.floor(random() * 256);
  }

  bytes(size: number, stamp: number): Uint8Array {
    const bytes = this.base.slice(0, size);
    const view = new DataView(bytes.buffer);
    for (let offset = 0; offset + STAMP_BYTES <= size; offset += STAMP_INTERVAL_BYTES) {
      view.setFloat64(offset, stamp);
    }
    return bytes;
  }
}

export class Load {
  readonly state: LoadState;
  private readonly options: BenchOptions;
  private t0Ms: number;
  private readonly random: () => number;
  private readonly payloads: Payloads;
  private readonly pools: RpcPool[] = [];
  private readonly clients: FtfsClient[] = [];
  /** Per user, names with an acknowledged version, append-only (a listing checks a prefix). */
  private readonly ackedNames = new Map<string, string[]>();
  private stampNext = 1;
  private stopAtMs = 0;

  constructor(options: BenchOptions, directories: readonly string[], t0Ms: number) {
    this.options = options;
    this.t0Ms = t0Ms;
    this.random = prng(options.seed);
    const largest = Math.max(...options.sizes.map((entry) => entry.value));
    this.payloads = new Payloads(largest, this.random);
    this.state = {
      ops: new OpLog(),
      records: [],
      retryTimesMs: [],
      errorSamples: [],
      listMissing: 0,
      inFlight: 0,
    };
    const onRetry = (): void => void this.state.retryTimesMs.push(this.nowMs());
    for (let index = 0; index < options.clients; index += 1) {
      if (index % CLIENTS_PER_POOL === 0) this.pools.push(new RpcPool(POOL_CONNECT_TIMEOUT_MS));
      const pool = this.pools.at(-1);
      if (pool === undefined) throw new Error("no pool");
      this.clients.push(new FtfsClient({ directories, onRetry, pool }));
    }
  }

  /** Time zero is when the load starts, after every client has connected. */
  resetClock(t0Ms: number): void {
    this.t0Ms = t0Ms;
  }

  nowMs(): number {
    return performance.now() - this.t0Ms;
  }

  uidOf(client: number): string {
    return `churn${client % Math.min(TENANTS_MAX, this.options.clients)}`;
  }

  /** Create every user once, then let every client learn the primary. */
  async connect(): Promise<void> {
    const tenants = Math.min(TENANTS_MAX, this.options.clients);
    for (let index = 0; index < tenants; index += 1)
      await this.clients[index]?.connect(this.uidOf(index));
    await Promise.all(this.clients.map((client, index) => client.connect(this.uidOf(index))));
  }

  /** Run every client until `durationMs` after t0. */
  async run(durationMs: number): Promise<void> {
    this.stopAtMs = durationMs;
    await Promise.all(this.clients.map((client, index) => this.loop(client, index)));
  }

  private async loop(client: FtfsClient, index: number): Promise<void> {
    const uid = this.uidOf(index);
    for (let n = 0; this.nowMs() < this.stopAtMs; n += 1) {
      let kind: OpKind = pickWeighted(this.options.mix, this.random());
      const names = this.ackedNames.get(uid) ?? [];
      if (names.length === 0 && kind !== "upload") kind = "upload";
      const startMs = this.nowMs();
      this.state.inFlight += 1;
      let bytes = 0;
      let ok = true;
      try {
        bytes = await this.op(client, index, uid, kind, `f${index}-${n}`, names);
      } catch (error) {
        ok = false;
        if (this.state.errorSamples.length < ERROR_SAMPLES_MAX) {
          this.state.errorSamples.push(
            `${(startMs / 1000).toFixed(1)}s ${kind}: ${errorText(error)}`,
          );
        }
      }
      this.state.inFlight -= 1;
      this.state.records.push({ kind, startMs, endMs: this.nowMs(), ok, bytes });
    }
  }

  private pickName(names: readonly string[]): string {
    const name = names[Math.floor(this.random() * names.length)];
    if (name === undefined) throw new Error("no acknowledged name to pick");
    return name;
  }

  private async op(
    client: FtfsClient,
    index: number,
    uid: string,
    kind: OpKind,
    newName: string,
    names: readonly string[],
  ): Promise<number> {
    switch (kind) {
      case "upload":
        return this.write(client, index, "upload", uid, newName);
      case "update":
        return this.write(client, index, "update", uid, this.pickName(names));
      case "read":
        return this.read(client, index, uid, this.pickName(names));
      case "list":
        await this.list(client, index, uid, names.length);
        return 0;
      default:
        return assertNever(kind, "op kind");
    }
  }

  private async write(
    client: FtfsClient,
    index: number,
    kind: "upload" | "update",
    uid: string,
    name: string,
  ): Promise<number> {
    const size = pickWeighted(this.options.sizes, this.random());
    const bytes = this.payloads.bytes(size, this.stampNext);
    this.stampNext += 1;
    const { ops } = this.state;
    const op = ops.invoke(index, kind, uid, name, { sha256: sha256Hex(bytes), bytes: size });
    try {
      const result = await client.uploadBytes(uid, name, bytes);
      ops.ok(op, { version: result.version });
      this.acknowledged(uid, name);
      return size;
    } catch (error) {
      ops.failed(op, errorText(error));
      throw error;
    }
  }

  /** A name's first acknowledged version makes it one that updates, reads and lists use. */
  private acknowledged(uid: string, name: string): void {
    const names = this.ackedNames.get(uid) ?? [];
    if (names.includes(name)) return;
    names.push(name);
    this.ackedNames.set(uid, names);
  }

  private async read(
    client: FtfsClient,
    index: number,
    uid: string,
    name: string,
  ): Promise<number> {
    const { ops } = this.state;
    const op = ops.invoke(index, "read", uid, name);
    const hasher = new Bun.CryptoHasher("sha256");
    try {
      const result = await client.read(uid, name, (chunk) => void hasher.update(chunk));
      ops.ok(op, { version: result.version, sha256: hasher.digest("hex"), bytes: result.bytes });
      return result.bytes;
    } catch (error) {
      ops.failed(op, errorText(error));
      throw error;
    }
  }

  /** Every name acknowledged before the listing started must be in it. */
  private async list(
    client: FtfsClient,
    index: number,
    uid: string,
    ackedBefore: number,
  ): Promise<void> {
    const { ops } = this.state;
    const op = ops.invoke(index, "list", uid, null);
    const expected = (this.ackedNames.get(uid) ?? []).slice(0, ackedBefore);
    let files: Awaited<ReturnType<FtfsClient["list"]>>;
    try {
      files = await client.list(uid);
    } catch (error) {
      ops.failed(op, errorText(error));
      throw error;
    }
    const listed = files.map(({ name, version, sha256 }) => ({ name, version, sha256 }));
    ops.ok(op, { listed });
    const names = new Set(listed.map((file) => file.name));
    this.state.listMissing += expected.filter((name) => !names.has(name)).length;
  }

  close(): void {
    for (const client of this.clients) client.close();
    for (const pool of this.pools) pool.close();
  }
}

export interface VerifyResult {
  readonly checked: number;
  readonly exact: number;
  readonly lost: number;
  readonly corrupted: number;
  readonly samples: readonly string[];
}

/** Read every acknowledged (name, version) back and compare its SHA-256 with what was written. */
export async function verifyAcknowledged(
  directories: readonly string[],
  writes: readonly Op[],
): Promise<VerifyResult> {
  const pool = new RpcPool(POOL_CONNECT_TIMEOUT_MS);
  const client = new FtfsClient({ directories, pool });
  let next = 0;
  let exact = 0;
  let lost = 0;
  let corrupted = 0;
  const samples: string[] = [];
  const worker = async (): Promise<void> => {
    for (let index = next++; index < writes.length; index = next++) {
      const write = writes[index];
      if (write === undefined || write.version === null || write.name === null) continue;
      const label = `${write.uid}/${write.name}@v${write.version}`;
      try {
        const hasher = new Bun.CryptoHasher("sha256");
        await client.read(
          write.uid,
          write.name,
          (chunk) => void hasher.update(chunk),
          write.version,
        );
        if (hasher.digest("hex") === write.sha256) exact += 1;
        else {
          corrupted += 1;
          if (samples.length < ERROR_SAMPLES_MAX) samples.push(`corrupted ${label}`);
        }
      } catch (error) {
        lost += 1;
        if (samples.length < ERROR_SAMPLES_MAX) samples.push(`lost ${label}: ${errorText(error)}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: VERIFY_CONCURRENCY }, worker));
  } finally {
    client.close();
    pool.close();
  }
  return { checked: writes.length, exact, lost, corrupted, samples };
}
