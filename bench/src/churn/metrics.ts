/**
 * Per-second metrics from the run's operation records, retry times and membership samples.
 * Pure: seconds are counted from the load's start; an operation counts in the second it ended.
 */

import type { MembershipSample } from "@ftfs/protocol/testing";
import { OP_KINDS, type OpKind } from "./config.ts";

const MIB = 1024 * 1024;
const MS_PER_S = 1000;
const PERCENT = 100;

export interface OpRecord {
  readonly kind: OpKind;
  readonly startMs: number;
  readonly endMs: number;
  readonly ok: boolean;
  /** Payload bytes moved (uploaded or read); 0 for listings and failures. */
  readonly bytes: number;
}

export interface SecondMetrics {
  readonly second: number;
  readonly ops: Readonly<Record<OpKind, number>>;
  readonly opsTotal: number;
  readonly mibPerS: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly errors: number;
  readonly retries: number;
  readonly membership: MembershipSample | null;
}

/** The value at rank floor(p% · n) of the sorted values (Swift's loadgen rule). */
export function percentile(sorted: readonly number[], pct: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.floor((pct / PERCENT) * sorted.length));
  return sorted[rank] ?? null;
}

function zeroOps(): Record<OpKind, number> {
  return { upload: 0, update: 0, read: 0, list: 0 };
}

export function perSecond(
  records: readonly OpRecord[],
  retryTimesMs: readonly number[],
  membership: readonly MembershipSample[],
  durationMs: number,
): SecondMetrics[] {
  const seconds = Math.max(1, Math.ceil(durationMs / MS_PER_S));
  const buckets = Array.from({ length: seconds }, () => ({
    ops: zeroOps(),
    bytes: 0,
    latencies: [] as number[],
    errors: 0,
    retries: 0,
  }));
  const bucketOf = (tMs: number): (typeof buckets)[number] | undefined =>
    buckets[Math.min(seconds - 1, Math.max(0, Math.floor(tMs / MS_PER_S)))];
  for (const record of records) {
    const bucket = bucketOf(record.endMs);
    if (bucket === undefined) continue;
    if (!record.ok) {
      bucket.errors += 1;
      continue;
    }
    bucket.ops[record.kind] += 1;
    bucket.bytes += record.bytes;
    bucket.latencies.push(record.endMs - record.startMs);
  }
  for (const tMs of retryTimesMs) {
    const bucket = bucketOf(tMs);
    if (bucket !== undefined) bucket.retries += 1;
  }
  return buckets.map((bucket, second) => {
    const sorted = bucket.latencies.sort((a, b) => a - b);
    const sample = [...membership].reverse().find((entry) => entry.tMs < (second + 1) * MS_PER_S);
    return {
      second,
      ops: bucket.ops,
      opsTotal: OP_KINDS.reduce((sum, kind) => sum + bucket.ops[kind], 0),
      mibPerS: bucket.bytes / MIB,
      p50Ms: percentile(sorted, 50),
      p95Ms: percentile(sorted, 95),
      p99Ms: percentile(sorted, 99),
      errors: bucket.errors,
      retries: bucket.retries,
      membership: sample ?? null,
    };
  });
}
