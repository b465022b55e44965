/**
 * Closed-loop load on FTFS through the client library, for `bench:storage`: N loops share a few
 * FtfsClient instances, each loop keeping one operation in flight until its phase ends, and
 * every operation's start, end and outcome is recorded. Statistics (rates, percentiles, the
 * longest silence) are pure functions of those records. Owns no cluster and starts no process:
 * the caller brings a running cluster and connected clients.
 */

import type { FtfsClient } from "@ftfs/client";
import { longestGap } from "../common/completions.ts";
import { formatProgress, startProgress } from "../common/progress.ts";

const MIB = 1024 * 1024;
/**
 * Distinct random payloads kept in memory per object size. Chunks are content-addressed, so
 * equal objects would dedupe; each object is a pool buffer stamped with its own key instead.
 */
const PAYLOAD_POOL_BYTES_MAX = 64 * MIB;
const PAYLOAD_POOL_BUFFERS_MIN = 4;
const PAYLOAD_POOL_BUFFERS_MAX = 256;
/** Only the first few error messages of a phase are kept: enough to name the cause. */
const ERROR_SAMPLES_MAX = 5;
const PERCENT = 100;

export type OpKind = "put" | "get";

export interface OpRecord {
  readonly kind: OpKind;
  /** Milliseconds since the phase started. */
  readonly startMs: number;
  readonly endMs: number;
  readonly ok: boolean;
}

/** Objects of one size, each distinct, each reproducible from its key for a later check. */
export class Payloads {
  readonly sizeBytes: number;
  private readonly pool: Uint8Array[] = [];

  constructor(sizeBytes: number, seed: number) {
    this.sizeBytes = sizeBytes;
    const wanted = Math.floor(PAYLOAD_POOL_BYTES_MAX / sizeBytes);
    const count = Math.max(PAYLOAD_POOL_BUFFERS_MIN, Math.min(PAYLOAD_POOL_BUFFERS_MAX, wanted));
    let state = seed >>> 0 || 1;
    for (let index = 0; index < count; index += 1) {
      const buffer = new Uint8Array(sizeBytes);
      const words = new Uint32Array(buffer.buffer, 0, Math.floor(sizeBytes / 4));
      for (let word = 0; word < words.length; word += 1) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        words[word] = state >>> 0;
      }
      this.pool.push(buffer);
    }
  }

  /** A fresh buffer per call: the client may still hold the previous one while it retries. */
  bytesFor(key: number): Uint8Array {
    const base = this.pool[key % this.pool.length];
    if (base === undefined) throw new Error("payload pool is empty");
    const bytes = base.slice();
    new DataView(bytes.buffer).setFloat64(0, key);
    return bytes;
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * The objects one measurement writes and reads: names `<prefix>-<key>`, each under the user of
 * the client that wrote it (`uidOf`: each client instance may be its own user, as separate
 * application processes would be). `acked` holds the keys of PUTs the cluster acknowledged, in
 * order; a client's GETs draw from its own, and the final check reads each through its writer.
 */
export class Workload {
  readonly acked: number[] = [];
  readonly payloads: Payloads;
  private readonly uidOf: (client: FtfsClient) => string;
  private readonly prefix: string;
  private readonly ackedBy = new Map<FtfsClient, number[]>();
  private readonly writerOf = new Map<number, FtfsClient>();
  private nextKey = 0;

  constructor(uidOf: (client: FtfsClient) => string, prefix: string, payloads: Payloads) {
    this.uidOf = uidOf;
    this.prefix = prefix;
    this.payloads = payloads;
  }

  name(key: number): string {
    return `${this.prefix}-${key}`;
  }

  async put(client: FtfsClient): Promise<void> {
    const key = this.nextKey;
    this.nextKey += 1;
    await client.uploadBytes(this.uidOf(client), this.name(key), this.payloads.bytesFor(key));
    this.acked.push(key);
    this.writerOf.set(key, client);
    const own = this.ackedBy.get(client) ?? [];
    own.push(key);
    this.ackedBy.set(client, own);
  }

  /**
   * Read one acknowledged object as an application streaming it to a file or a socket does:
   * the client checks every chunk's SHA-256, we count the bytes; the sink keeps nothing, so
   * the client reads later chunks into the same buffers (reuseChunkBuffers).
   */
  async get(client: FtfsClient): Promise<void> {
    const own = this.ackedBy.get(client) ?? [];
    const key = own[Math.floor(Math.random() * own.length)];
    if (key === undefined) throw new Error("no acknowledged object to read yet");
    let bytes = 0;
    const count = (chunk: Uint8Array): void => {
      bytes += chunk.length;
    };
    await client.read(this.uidOf(client), this.name(key), count, undefined, undefined, {
      reuseChunkBuffers: true,
    });
    if (bytes !== this.payloads.sizeBytes) {
      throw new Error(`${this.name(key)}: read ${bytes} bytes, wrote ${this.payloads.sizeBytes}`);
    }
  }

  /** Read back one acknowledged object, through its writer, and compare every byte. */
  async verify(key: number): Promise<boolean> {
    const client = this.writerOf.get(key);
    if (client === undefined) throw new Error(`${this.name(key)} was never acknowledged`);
    const bytes = await client.readBytes(this.uidOf(client), this.name(key));
    return sameBytes(bytes, this.payloads.bytesFor(key));
  }
}

/** What a phase drives: a PUT and a GET through a client of kind C. */
export interface PhaseWorkload<C> {
  put(client: C): Promise<void>;
  get(client: C): Promise<void>;
}

export interface PhaseSpec<C = FtfsClient> {
  readonly loops: number;
  readonly durationMs: number;
  readonly clients: readonly C[];
  /** What loop `loop` does next; mixed phases draw at random. */
  readonly pick: (loop: number) => OpKind;
  readonly workload: PhaseWorkload<C>;
  /** Told the phase's start time (performance.now()), so a caller can schedule faults on it. */
  readonly onStart?: (startMs: number) => void;
  /** What the terminal's progress line calls the phase ("FTFS g1 64 KiB × 100 PUT"). */
  readonly label?: string;
}

export interface PhaseRun {
  readonly records: readonly OpRecord[];
  readonly wallMs: number;
  readonly errorSamples: readonly string[];
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as Error & { code?: unknown }).code;
  return `${typeof code === "string" ? code : error.name}: ${error.message}`;
}

export async function runPhase<C>(spec: PhaseSpec<C>): Promise<PhaseRun> {
  const records: OpRecord[] = [];
  const errorSamples: string[] = [];
  const startMs = performance.now();
  const endMs = startMs + spec.durationMs;
  let okCount = 0;
  let errorCount = 0;
  const progress = startProgress(() =>
    formatProgress({
      elapsedMs: performance.now() - startMs,
      totalMs: spec.durationMs,
      ok: okCount,
      errors: errorCount,
      ...(spec.label === undefined ? {} : { detail: spec.label }),
    }),
  );
  spec.onStart?.(startMs);
  const loop = async (index: number): Promise<void> => {
    const client = spec.clients[index % spec.clients.length];
    if (client === undefined) throw new Error("a phase needs at least one client");
    while (performance.now() < endMs) {
      const kind = spec.pick(index);
      const opStartMs = performance.now();
      let ok = true;
      try {
        await (kind === "put" ? spec.workload.put(client) : spec.workload.get(client));
      } catch (error) {
        ok = false;
        if (errorSamples.length < ERROR_SAMPLES_MAX)
          errorSamples.push(`${kind}: ${describeError(error)}`);
      }
      records.push({ kind, startMs: opStartMs - startMs, endMs: performance.now() - startMs, ok });
      if (ok) okCount += 1;
      else errorCount += 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.loops }, (_, index) => loop(index)));
  } finally {
    progress.stop();
  }
  return { records, wallMs: performance.now() - startMs, errorSamples };
}

/** The value at rank floor(p% · n) of the sorted values, as Swift's loadgen computes it. */
export function percentile(values: readonly number[], pct: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.floor((pct / PERCENT) * sorted.length));
  return sorted[rank] ?? Number.NaN;
}

export interface PhaseStats {
  readonly ok: number;
  readonly errors: number;
  readonly opsPerS: number;
  readonly mibPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly longestGapMs: number;
  /** When the longest gap began, in ms since the phase started. */
  readonly longestGapAtMs: number;
}

export function phaseStats(run: PhaseRun, kind: OpKind | "all", sizeBytes: number): PhaseStats {
  const picked = run.records.filter((record) => kind === "all" || record.kind === kind);
  const ok = picked.filter((record) => record.ok);
  const latencies = ok.map((record) => record.endMs - record.startMs);
  const seconds = run.wallMs / 1000;
  const gap = longestGap(run.records);
  return {
    ok: ok.length,
    errors: picked.length - ok.length,
    opsPerS: ok.length / seconds,
    mibPerS: (ok.length * sizeBytes) / MIB / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, PERCENT),
    longestGapMs: gap.gapMs,
    longestGapAtMs: gap.atMs,
  };
}

/** Successful completions per second with completion time in [fromMs, toMs). */
export function okRate(records: readonly OpRecord[], fromMs: number, toMs: number): number {
  const count = records.filter((r) => r.ok && r.endMs >= fromMs && r.endMs < toMs).length;
  return toMs > fromMs ? count / ((toMs - fromMs) / 1000) : Number.NaN;
}
