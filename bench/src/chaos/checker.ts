/**
 * The checker, over a finished history and the final read-back made after healing. Pure.
 * Per file (uid/name), versions are the directory's total order of that file's writes, so
 * per-file linearizability reduces to checks on versions:
 *  - every read returns bytes some write of that file wrote, under that write's version, from a
 *    write invoked before the read ended (no phantom or corrupt bytes);
 *  - a read is never older than a version acknowledged before it started (a write that failed
 *    or whose answer was lost counts as concurrent forever after its invoke, never as "before");
 *  - a read never goes back behind a read that ended before it started;
 *  - two acknowledgements of one version carry the same bytes (no split brain);
 *  - a listing has every name acknowledged before it started, at that version or newer;
 *  - after healing, every acknowledged version reads back with its exact bytes (nothing lost),
 *    and the latest is no older than the newest acknowledged.
 */

import { fileKey, formatOp, isWrite, type Op } from "./history.ts";

export type ViolationKind =
  | "lost" | "corrupt" | "phantom-read" | "future-read" | "stale-read" | "non-monotonic-read"
  | "split-brain" | "list-missing" | "list-stale" | "final-stale" | "not-converged";

export interface Violation {
  readonly kind: ViolationKind;
  /** uid/name, or null for a whole-cluster violation. */
  readonly file: string | null;
  readonly detail: string;
  /** The ops that show it (the offending op and the ones it is judged against). */
  readonly opIds: readonly number[];
}

/** After healing: one version (or the latest, version null asked) read back by the harness. */
export interface FinalRead {
  readonly uid: string;
  readonly name: string;
  /** The version asked for; null: the latest. */
  readonly asked: number | null;
  readonly version: number | null;
  readonly sha256: string | null;
  readonly error: string | null;
}

interface FileOps {
  readonly writes: Op[];
  readonly reads: Op[];
}

function byFile(ops: readonly Op[]): Map<string, FileOps> {
  const files = new Map<string, FileOps>();
  for (const op of ops) {
    if (op.name === null) continue;
    const key = fileKey(op.uid, op.name);
    const entry = files.get(key) ?? { writes: [], reads: [] };
    if (isWrite(op)) entry.writes.push(op);
    else if (op.kind === "read" && op.status === "ok") entry.reads.push(op);
    files.set(key, entry);
  }
  return files;
}

/** The newest write of the file acknowledged before `beforeMs`, or null. */
function newestAckedBefore(writes: readonly Op[], beforeMs: number): Op | null {
  let newest: Op | null = null;
  for (const write of writes) {
    if (write.status !== "ok" || write.endMs === null || write.endMs >= beforeMs) continue;
    if (newest === null || (write.version ?? 0) > (newest.version ?? 0)) newest = write;
  }
  return newest;
}

function checkRead(file: string, writes: readonly Op[], read: Op, out: Violation[]): void {
  const endMs = read.endMs ?? Infinity;
  const source = writes.find((write) => write.sha256 === read.sha256);
  if (source === undefined) {
    out.push({ kind: "phantom-read", file, opIds: [read.id],
      detail: `read v${read.version} returned bytes (sha ${read.sha256?.slice(0, 12)}) no write of this file wrote` });
    return;
  }
  if (source.startMs >= endMs) {
    out.push({ kind: "future-read", file, opIds: [source.id, read.id],
      detail: `read #${read.id} returned the bytes of write #${source.id}, invoked after the read ended` });
  }
  if (source.status === "ok" && source.version !== read.version) {
    out.push({ kind: "corrupt", file, opIds: [source.id, read.id],
      detail: `read #${read.id} returned write #${source.id}'s bytes as v${read.version}; they were acknowledged as v${source.version}` });
  }
  const newest = newestAckedBefore(writes, read.startMs);
  if (newest !== null && (read.version ?? 0) < (newest.version ?? 0)) {
    out.push({ kind: "stale-read", file, opIds: [newest.id, source.id, read.id],
      detail: `read #${read.id} returned v${read.version}, but v${newest.version} (write #${newest.id}) was acknowledged before it started` });
  }
}

function checkMonotonic(file: string, reads: readonly Op[], out: Violation[]): void {
  const sorted = [...reads].sort((a, b) => (a.endMs ?? 0) - (b.endMs ?? 0));
  let highest: Op | null = null;
  let index = 0;
  for (const read of [...reads].sort((a, b) => a.startMs - b.startMs)) {
    // Fold in every read that ended before this one started.
    while (index < sorted.length && (sorted[index]?.endMs ?? Infinity) < read.startMs) {
      const done = sorted[index];
      if (done !== undefined && (highest === null || (done.version ?? 0) > (highest.version ?? 0))) highest = done;
      index += 1;
    }
    if (highest !== null && (read.version ?? 0) < (highest.version ?? 0)) {
      out.push({ kind: "non-monotonic-read", file, opIds: [highest.id, read.id],
        detail: `read #${read.id} returned v${read.version} after read #${highest.id} had returned v${highest.version}` });
    }
  }
}

function checkSplitBrain(file: string, writes: readonly Op[], out: Violation[]): void {
  const seen = new Map<number, Op>();
  for (const write of writes) {
    if (write.status !== "ok" || write.version === null) continue;
    const other = seen.get(write.version);
    if (other !== undefined && other.sha256 !== write.sha256) {
      out.push({ kind: "split-brain", file, opIds: [other.id, write.id],
        detail: `writes #${other.id} and #${write.id} were both acknowledged as v${write.version} with different bytes` });
    }
    seen.set(write.version, write);
  }
}

function checkLists(ops: readonly Op[], files: ReadonlyMap<string, FileOps>, out: Violation[]): void {
  for (const list of ops) {
    if (list.kind !== "list" || list.status !== "ok" || list.listed === null) continue;
    const listed = new Map(list.listed.map((entry) => [entry.name, entry]));
    for (const [key, entry] of files) {
      if (!key.startsWith(`${list.uid}/`)) continue;
      const name = key.slice(list.uid.length + 1);
      const newest = newestAckedBefore(entry.writes, list.startMs);
      if (newest === null) continue;
      const found = listed.get(name);
      if (found === undefined) {
        out.push({ kind: "list-missing", file: key, opIds: [newest.id, list.id],
          detail: `list #${list.id} lacks ${name}, acknowledged (v${newest.version}, write #${newest.id}) before it started` });
      } else if (found.version < (newest.version ?? 0)) {
        out.push({ kind: "list-stale", file: key, opIds: [newest.id, list.id],
          detail: `list #${list.id} shows ${name} at v${found.version}, but v${newest.version} was acknowledged before it started` });
      } else {
        const source = entry.writes.find((write) => write.status === "ok" && write.version === found.version);
        if (source !== undefined && source.sha256 !== found.sha256) {
          out.push({ kind: "corrupt", file: key, opIds: [source.id, list.id],
            detail: `list #${list.id} shows ${name} v${found.version} with sha ${found.sha256.slice(0, 12)}, written as ${source.sha256?.slice(0, 12)}` });
        }
      }
    }
  }
}

function checkFinal(files: ReadonlyMap<string, FileOps>, finals: readonly FinalRead[], out: Violation[]): void {
  for (const final of finals) {
    const key = fileKey(final.uid, final.name);
    const writes = files.get(key)?.writes ?? [];
    if (final.asked === null) {
      const newest = newestAckedBefore(writes, Infinity);
      if (newest !== null && (final.error !== null || (final.version ?? 0) < (newest.version ?? 0))) {
        out.push({ kind: "final-stale", file: key, opIds: [newest.id],
          detail: `after healing the latest read ${final.error ?? `v${final.version}`}; v${newest.version} was acknowledged` });
      }
      continue;
    }
    const write = writes.find((candidate) => candidate.status === "ok" && candidate.version === final.asked);
    if (write === undefined) continue;
    if (final.error !== null) {
      out.push({ kind: "lost", file: key, opIds: [write.id],
        detail: `acknowledged v${final.asked} (write #${write.id}) does not read back after healing: ${final.error}` });
    } else if (final.sha256 !== write.sha256) {
      out.push({ kind: "corrupt", file: key, opIds: [write.id],
        detail: `acknowledged v${final.asked} reads back as sha ${final.sha256?.slice(0, 12)}, written as ${write.sha256?.slice(0, 12)}` });
    }
  }
}

export function checkHistory(ops: readonly Op[], finals: readonly FinalRead[]): Violation[] {
  const files = byFile(ops);
  const out: Violation[] = [];
  for (const [file, entry] of files) {
    for (const read of entry.reads) checkRead(file, entry.writes, read, out);
    checkMonotonic(file, entry.reads, out);
    checkSplitBrain(file, entry.writes, out);
  }
  checkLists(ops, files, out);
  checkFinal(files, finals, out);
  return out;
}

/** Ops of the file between the earliest and the latest op the violation names. */
const SLICE_OPS_MAX = 24;

/**
 * The minimal history that shows a violation: the ops it names, and every write of the same
 * file that overlaps the span they cover (those decide what a read may return).
 */
export function historySlice(ops: readonly Op[], violation: Violation): string[] {
  const named = violation.opIds.map((id) => ops[id]).filter((op): op is Op => op !== undefined);
  if (named.length === 0) return [];
  const fromMs = Math.min(...named.map((op) => op.startMs));
  const toMs = Math.max(...named.map((op) => op.endMs ?? op.startMs));
  const slice = ops.filter((op) => {
    if (violation.opIds.includes(op.id)) return true;
    if (op.name === null || violation.file !== fileKey(op.uid, op.name) || !isWrite(op)) return false;
    return op.startMs <= toMs && (op.endMs ?? Infinity) >= fromMs;
  });
  const shown = slice.slice(0, SLICE_OPS_MAX).map(formatOp);
  if (slice.length > SLICE_OPS_MAX) shown.push(`… ${slice.length - SLICE_OPS_MAX} more overlapping writes`);
  return shown;
}
