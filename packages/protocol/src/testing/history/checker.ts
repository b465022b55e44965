/**
 * The checker, over a finished history and the final read-back made after healing. Pure.
 * Per file (uid/name), versions are the directory's total order of that file's writes and
 * deletes (a delete answered "deleted v" takes position v + 1 as its tombstone: it removes v and
 * every older version, and a later upload of the name gets a newer number), so per-file
 * linearizability reduces to checks on versions. A write or delete that failed or whose answer
 * was lost counts as concurrent forever after its invoke, never as "before":
 *  - every read returns bytes some write of that file wrote, under that write's version, from a
 *    write invoked before the read ended (no phantom or corrupt bytes);
 *  - a read is never older than a version acknowledged before it started, and never returns a
 *    version a delete acknowledged before it started removed;
 *  - a read never goes back behind a read that ended before it started;
 *  - a read (or a delete) answered "no such file" is wrong when a version was acknowledged or
 *    read before it started and no delete invoked before it ended could have removed that
 *    version;
 *  - two acknowledgements of one position carry the same bytes, and no write is acknowledged
 *    at a delete's position (no split brain);
 *  - a listing has every name acknowledged before it started, at that version or newer, unless
 *    a delete invoked before it ended could have removed it; it never shows a version a delete
 *    acknowledged before it started removed, nor bytes no write invoked before it ended wrote;
 *  - after healing, every acknowledged version no delete could have removed reads back with its
 *    exact bytes (nothing lost), every version an acknowledged delete removed reads as gone,
 *    and the latest is no older than the newest acknowledged write or delete;
 *  - under a keep policy of K versions (the directory's --keep-versions: a commit prunes the
 *    name's versions past its newest K), version v must read as gone once a write was
 *    acknowledged at v + K or later, and may read as gone ("pruned") only if K writes that may
 *    have committed (acknowledged above v, or unknown) could stand above it.
 */

import { fileKey, formatOp, isWrite, type Op } from "./history.ts";

export type ViolationKind =
  | "lost"
  | "corrupt"
  | "phantom-read"
  | "future-read"
  | "stale-read"
  | "non-monotonic-read"
  | "deleted-read"
  | "absent-read"
  | "split-brain"
  | "list-missing"
  | "list-stale"
  | "list-deleted"
  | "final-stale"
  | "delete-lost"
  | "not-pruned"
  | "not-converged"
  | "garbage-left";

/** What the directory under test was told to do (its flags). */
export interface CheckRules {
  /** `--keep-versions`: versions a name keeps; Infinity when nothing is ever pruned. */
  readonly keepVersions: number;
}

const KEEP_EVERYTHING: CheckRules = { keepVersions: Infinity };

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
  /** The directory answered NOT_FOUND (no such name, or that version was deleted). */
  readonly absent: boolean;
  readonly error: string | null;
}

interface FileOps {
  readonly writes: Op[];
  /** Deletes that may have removed something: acknowledged with a version, or unknown. */
  readonly deletes: Op[];
  /** Reads that returned bytes. */
  readonly reads: Op[];
  /** Reads and deletes answered "no such file". */
  readonly absences: Op[];
}

function byFile(ops: readonly Op[]): Map<string, FileOps> {
  const files = new Map<string, FileOps>();
  for (const op of ops) {
    if (op.name === null) continue;
    const key = fileKey(op.uid, op.name);
    const entry = files.get(key) ?? { writes: [], deletes: [], reads: [], absences: [] };
    if (isWrite(op)) entry.writes.push(op);
    else if (op.status === "ok" && op.absent) entry.absences.push(op);
    else if (op.kind === "delete" && op.status !== "fail") entry.deletes.push(op);
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

/** The acknowledged delete before `beforeMs` that removed the most (highest version), or null. */
function newestDeleteBefore(deletes: readonly Op[], beforeMs: number): Op | null {
  let newest: Op | null = null;
  for (const remove of deletes) {
    if (remove.status !== "ok" || remove.endMs === null || remove.endMs >= beforeMs) continue;
    if (newest === null || (remove.version ?? 0) > (newest.version ?? 0)) newest = remove;
  }
  return newest;
}

/**
 * A delete invoked before `beforeMs` that could have removed `version`: acknowledged as
 * deleting it (or a newer one), or unknown (it may take effect at any point after its invoke).
 */
function deleteThatCouldRemove(
  deletes: readonly Op[],
  version: number,
  beforeMs: number,
): Op | null {
  return (
    deletes.find(
      (remove) =>
        remove.startMs < beforeMs &&
        (remove.status === "unknown" || (remove.version ?? 0) >= version),
    ) ?? null
  );
}

/** The write acknowledged as `version`, if any. */
function ackedWriteOf(writes: readonly Op[], version: number): Op | undefined {
  return writes.find((write) => write.status === "ok" && write.version === version);
}

/** An acknowledged delete that removed `version` (deleted it or a newer one), or null. */
function ackedDeleteOf(deletes: readonly Op[], version: number): Op | null {
  const removes = (remove: Op): boolean =>
    remove.status === "ok" && (remove.version ?? 0) >= version;
  return deletes.find(removes) ?? null;
}

/** The read with the highest version among those that ended before `beforeMs`. */
function newestReadBefore(reads: readonly Op[], beforeMs: number): Op | null {
  let newest: Op | null = null;
  for (const read of reads) {
    if (read.endMs === null || read.endMs >= beforeMs) continue;
    if (newest === null || (read.version ?? 0) > (newest.version ?? 0)) newest = read;
  }
  return newest;
}

/** What a read or one entry of a listing showed: a version, its bytes' hash, by when. */
interface Shown {
  readonly id: number;
  readonly version: number | null;
  readonly sha256: string | null;
  readonly endMs: number;
}

/** Checks that the bytes a read or a listing shows were written, in time, under that version. */
function checkSource(
  file: string,
  writes: readonly Op[],
  seen: Shown,
  what: string,
  out: Violation[],
): void {
  const source = writes.find((write) => write.sha256 === seen.sha256);
  if (source === undefined) {
    out.push({
      kind: "phantom-read",
      file,
      opIds: [seen.id],
      detail:
        `${what} v${seen.version} has bytes (sha ${seen.sha256?.slice(0, 12)}) ` +
        "no write of this file wrote",
    });
    return;
  }
  if (source.startMs >= seen.endMs) {
    out.push({
      kind: "future-read",
      file,
      opIds: [source.id, seen.id],
      detail: `${what} has the bytes of write #${source.id}, invoked after it ended`,
    });
  }
  if (source.status === "ok" && source.version !== seen.version) {
    out.push({
      kind: "corrupt",
      file,
      opIds: [source.id, seen.id],
      detail:
        `${what} has write #${source.id}'s bytes as v${seen.version}; ` +
        `they were acknowledged as v${source.version}`,
    });
  }
}

function checkRead(file: string, entry: FileOps, read: Op, out: Violation[]): void {
  const endMs = read.endMs ?? Infinity;
  const shown = { id: read.id, version: read.version, sha256: read.sha256, endMs };
  checkSource(file, entry.writes, shown, `read #${read.id}`, out);
  const version = read.version ?? 0;
  const deleted = newestDeleteBefore(entry.deletes, read.startMs);
  if (deleted !== null && version <= (deleted.version ?? 0)) {
    out.push({
      kind: "deleted-read",
      file,
      opIds: [deleted.id, read.id],
      detail:
        `read #${read.id} returned v${read.version}, but delete #${deleted.id}, ` +
        `acknowledged before it started, removed every version up to v${deleted.version}`,
    });
    return;
  }
  const newest = newestAckedBefore(entry.writes, read.startMs);
  if (newest !== null && version < (newest.version ?? 0)) {
    out.push({
      kind: "stale-read",
      file,
      opIds: [newest.id, read.id],
      detail: `read #${read.id} returned v${read.version}, but v${newest.version} (write #${newest.id}) was acknowledged before it started`,
    });
  }
}

/**
 * "No such file" is a claim about one moment within the op: some delete must be able to stand
 * between the newest version known live before it started and that moment.
 */
function checkAbsence(file: string, entry: FileOps, absence: Op, out: Violation[]): void {
  const acked = newestAckedBefore(entry.writes, absence.startMs);
  const read = newestReadBefore(entry.reads, absence.startMs);
  const known = (read?.version ?? 0) > (acked?.version ?? 0) ? read : acked;
  if (known === null) return; // the name may never have existed yet
  const version = known.version ?? 0;
  if (deleteThatCouldRemove(entry.deletes, version, absence.endMs ?? Infinity) !== null) return;
  const how =
    known === read ? `read #${known.id} returned` : `write #${known.id} was acknowledged as`;
  out.push({
    kind: "absent-read",
    file,
    opIds: [known.id, absence.id],
    detail:
      `${absence.kind} #${absence.id} found no such file, but ${how} v${version} before it ` +
      "started and no delete invoked before it ended could have removed it",
  });
}

function checkMonotonic(file: string, reads: readonly Op[], out: Violation[]): void {
  const sorted = [...reads].sort((a, b) => (a.endMs ?? 0) - (b.endMs ?? 0));
  let highest: Op | null = null;
  let index = 0;
  for (const read of [...reads].sort((a, b) => a.startMs - b.startMs)) {
    // Fold in every read that ended before this one started.
    while (index < sorted.length && (sorted[index]?.endMs ?? Infinity) < read.startMs) {
      const done = sorted[index];
      if (done !== undefined && (highest === null || (done.version ?? 0) > (highest.version ?? 0)))
        highest = done;
      index += 1;
    }
    if (highest !== null && (read.version ?? 0) < (highest.version ?? 0)) {
      out.push({
        kind: "non-monotonic-read",
        file,
        opIds: [highest.id, read.id],
        detail: `read #${read.id} returned v${read.version} after read #${highest.id} had returned v${highest.version}`,
      });
    }
  }
}

function checkSplitBrain(file: string, entry: FileOps, out: Violation[]): void {
  const seen = new Map<number, Op>();
  for (const write of entry.writes) {
    if (write.status !== "ok" || write.version === null) continue;
    const other = seen.get(write.version);
    if (other !== undefined && other.sha256 !== write.sha256) {
      out.push({
        kind: "split-brain",
        file,
        opIds: [other.id, write.id],
        detail: `writes #${other.id} and #${write.id} were both acknowledged as v${write.version} with different bytes`,
      });
    }
    seen.set(write.version, write);
  }
  for (const remove of entry.deletes) {
    if (remove.status !== "ok" || remove.version === null) continue;
    const tombstone = remove.version + 1;
    const write = seen.get(tombstone);
    if (write !== undefined) {
      out.push({
        kind: "split-brain",
        file,
        opIds: [remove.id, write.id],
        detail:
          `delete #${remove.id} took position v${tombstone} (it deleted ` +
          `v${remove.version}), but write #${write.id} was acknowledged as v${tombstone}`,
      });
    }
  }
}

function checkListedFile(
  key: string,
  entry: FileOps,
  list: Op,
  name: string,
  out: Violation[],
): void {
  const found = (list.listed ?? []).find((listed) => listed.name === name);
  const newest = newestAckedBefore(entry.writes, list.startMs);
  const listEndMs = list.endMs ?? Infinity;
  if (found === undefined) {
    if (newest === null) return;
    if (deleteThatCouldRemove(entry.deletes, newest.version ?? 0, listEndMs) !== null) return;
    out.push({
      kind: "list-missing",
      file: key,
      opIds: [newest.id, list.id],
      detail:
        `list #${list.id} lacks ${name}, acknowledged (v${newest.version}, ` +
        `write #${newest.id}) before it started`,
    });
    return;
  }
  const shown = { id: list.id, version: found.version, sha256: found.sha256, endMs: listEndMs };
  checkSource(key, entry.writes, shown, `list #${list.id}'s ${name}`, out);
  const deleted = newestDeleteBefore(entry.deletes, list.startMs);
  const acked = ackedWriteOf(entry.writes, found.version);
  if (deleted !== null && found.version <= (deleted.version ?? 0)) {
    out.push({
      kind: "list-deleted",
      file: key,
      opIds: [deleted.id, list.id],
      detail:
        `list #${list.id} shows ${name} at v${found.version}, deleted (up to ` +
        `v${deleted.version}, delete #${deleted.id}) before it started`,
    });
  } else if (newest !== null && found.version < (newest.version ?? 0)) {
    out.push({
      kind: "list-stale",
      file: key,
      opIds: [newest.id, list.id],
      detail:
        `list #${list.id} shows ${name} at v${found.version}, but v${newest.version} ` +
        "was acknowledged before it started",
    });
  } else if (acked !== undefined && acked.sha256 !== found.sha256) {
    out.push({
      kind: "corrupt",
      file: key,
      opIds: [acked.id, list.id],
      detail:
        `list #${list.id} shows ${name} v${found.version} with sha ` +
        `${found.sha256.slice(0, 12)}, written as ${acked.sha256?.slice(0, 12)}`,
    });
  }
}

function checkLists(
  ops: readonly Op[],
  files: ReadonlyMap<string, FileOps>,
  out: Violation[],
): void {
  for (const list of ops) {
    if (list.kind !== "list" || list.status !== "ok" || list.listed === null) continue;
    for (const [key, entry] of files) {
      if (!key.startsWith(`${list.uid}/`)) continue;
      checkListedFile(key, entry, list, key.slice(list.uid.length + 1), out);
    }
  }
}

/** After healing, the latest: not older than any acknowledged write or delete. */
function checkFinalLatest(key: string, entry: FileOps, final: FinalRead, out: Violation[]): void {
  const newest = newestAckedBefore(entry.writes, Infinity);
  const deleted = newestDeleteBefore(entry.deletes, Infinity);
  if (final.absent) {
    if (newest === null) return;
    if (deleteThatCouldRemove(entry.deletes, newest.version ?? 0, Infinity) !== null) return;
    out.push({
      kind: "final-stale",
      file: key,
      opIds: [newest.id],
      detail:
        `after healing the file is gone; v${newest.version} was acknowledged ` +
        "and no delete could have removed it",
    });
    return;
  }
  if (final.error !== null) {
    if (newest !== null) {
      out.push({
        kind: "final-stale",
        file: key,
        opIds: [newest.id],
        detail:
          `after healing the latest read ${final.error}; ` + `v${newest.version} was acknowledged`,
      });
    }
    return;
  }
  const version = final.version ?? 0;
  if (deleted !== null && version <= (deleted.version ?? 0)) {
    out.push({
      kind: "delete-lost",
      file: key,
      opIds: [deleted.id],
      detail:
        `after healing the latest is v${final.version}; delete #${deleted.id} removed ` +
        `every version up to v${deleted.version}`,
    });
  } else if (newest !== null && version < (newest.version ?? 0)) {
    out.push({
      kind: "final-stale",
      file: key,
      opIds: [newest.id],
      detail:
        `after healing the latest read v${final.version}; ` + `v${newest.version} was acknowledged`,
    });
  }
}

/** A write acknowledged at `version + keepVersions` or later: `version` must have been pruned. */
function prunerOf(writes: readonly Op[], version: number, rules: CheckRules): Op | null {
  return (
    writes.find(
      (write) => write.status === "ok" && (write.version ?? 0) >= version + rules.keepVersions,
    ) ?? null
  );
}

/** Whether enough writes that may have committed stand above `version` to have pruned it. */
function mayBePruned(writes: readonly Op[], version: number, rules: CheckRules): boolean {
  const above = writes.filter(
    (write) =>
      write.status === "unknown" || (write.status === "ok" && (write.version ?? 0) > version),
  );
  return above.length >= rules.keepVersions;
}

/** After healing, one acknowledged version: gone if a delete or pruning removed it, else exact. */
function checkFinalVersion(
  key: string,
  entry: FileOps,
  final: FinalRead,
  rules: CheckRules,
  out: Violation[],
): void {
  const asked = final.asked ?? 0;
  const write = ackedWriteOf(entry.writes, asked);
  if (write === undefined) return;
  const deleted = ackedDeleteOf(entry.deletes, asked);
  const pruner = deleted === null ? prunerOf(entry.writes, asked, rules) : null;
  if (deleted !== null || pruner !== null) {
    if (final.absent) return;
    const answer = final.error ?? `sha ${final.sha256?.slice(0, 12)}`;
    const by =
      deleted !== null
        ? `deleted by delete #${deleted.id}`
        : `pruned by write #${pruner?.id} (v${pruner?.version}, keeping ${rules.keepVersions})`;
    out.push({
      kind: deleted !== null ? "delete-lost" : "not-pruned",
      file: key,
      opIds: [write.id, (deleted ?? pruner)?.id ?? write.id],
      detail:
        `v${asked} (write #${write.id}) was ${by}, but after healing it reads ${answer}, ` +
        "not gone",
    });
    return;
  }
  if (final.absent && deleteThatCouldRemove(entry.deletes, asked, Infinity) !== null) return;
  if (final.absent && mayBePruned(entry.writes, asked, rules)) return;
  if (final.error !== null) {
    out.push({
      kind: "lost",
      file: key,
      opIds: [write.id],
      detail:
        `acknowledged v${asked} (write #${write.id}) does not read back after healing: ` +
        final.error,
    });
  } else if (final.sha256 !== write.sha256) {
    out.push({
      kind: "corrupt",
      file: key,
      opIds: [write.id],
      detail:
        `acknowledged v${asked} reads back as sha ${final.sha256?.slice(0, 12)}, ` +
        `written as ${write.sha256?.slice(0, 12)}`,
    });
  }
}

const NO_OPS: FileOps = { writes: [], deletes: [], reads: [], absences: [] };

export function checkHistory(
  ops: readonly Op[],
  finals: readonly FinalRead[],
  rules: CheckRules = KEEP_EVERYTHING,
): Violation[] {
  const files = byFile(ops);
  const out: Violation[] = [];
  for (const [file, entry] of files) {
    for (const read of entry.reads) checkRead(file, entry, read, out);
    for (const absence of entry.absences) checkAbsence(file, entry, absence, out);
    checkMonotonic(file, entry.reads, out);
    checkSplitBrain(file, entry, out);
  }
  checkLists(ops, files, out);
  for (const final of finals) {
    const key = fileKey(final.uid, final.name);
    const entry = files.get(key) ?? NO_OPS;
    if (final.asked === null) checkFinalLatest(key, entry, final, out);
    else checkFinalVersion(key, entry, final, rules, out);
  }
  return out;
}

/** An acknowledged version the cluster must still hold after healing. */
export interface KeptVersion {
  readonly uid: string;
  readonly name: string;
  readonly version: number;
  /**
   * An unknown delete may have removed it, or unknown writes pruned it: "no such version" is
   * then an answer, not a loss.
   */
  readonly mayBeGone: boolean;
}

/**
 * Acknowledged versions no acknowledged delete removed and the keep policy did not surely
 * prune (what convergence must find everywhere).
 */
export function keptVersions(
  ops: readonly Op[],
  rules: CheckRules = KEEP_EVERYTHING,
): KeptVersion[] {
  const out: KeptVersion[] = [];
  for (const [, entry] of byFile(ops)) {
    for (const write of entry.writes) {
      if (write.status !== "ok" || write.version === null || write.name === null) continue;
      const version = write.version;
      if (ackedDeleteOf(entry.deletes, version) !== null) continue;
      if (prunerOf(entry.writes, version, rules) !== null) continue;
      const mayBeGone =
        deleteThatCouldRemove(entry.deletes, version, Infinity) !== null ||
        mayBePruned(entry.writes, version, rules);
      out.push({ uid: write.uid, name: write.name, version, mayBeGone });
    }
  }
  return out;
}

/** Ops of the file between the earliest and the latest op the violation names. */
const SLICE_OPS_MAX = 24;

/**
 * The minimal history that shows a violation: the ops it names, and every write or delete of
 * the same file that overlaps the span they cover (those decide what a read may return).
 */
export function historySlice(ops: readonly Op[], violation: Violation): string[] {
  const named = violation.opIds.map((id) => ops[id]).filter((op): op is Op => op !== undefined);
  if (named.length === 0) return [];
  const fromMs = Math.min(...named.map((op) => op.startMs));
  const toMs = Math.max(...named.map((op) => op.endMs ?? op.startMs));
  const slice = ops.filter((op) => {
    if (violation.opIds.includes(op.id)) return true;
    if (op.name === null || violation.file !== fileKey(op.uid, op.name)) return false;
    if (!isWrite(op) && op.kind !== "delete") return false;
    return op.startMs <= toMs && (op.endMs ?? Infinity) >= fromMs;
  });
  const shown = slice.slice(0, SLICE_OPS_MAX).map(formatOp);
  if (slice.length > SLICE_OPS_MAX) {
    shown.push(`… ${slice.length - SLICE_OPS_MAX} more overlapping writes and deletes`);
  }
  return shown;
}
