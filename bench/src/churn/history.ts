/**
 * The run's history of writes and reads, and the checks replayed over it: every acknowledged
 * write must read back exactly at the end, and every read during the run must have returned a
 * version that was acknowledged before it started or written concurrently with it. Pure: the
 * caller records with its own clock and does the reading.
 */

export interface WriteRecord {
  readonly id: number;
  readonly uid: string;
  readonly name: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly startMs: number;
  endMs: number | null;
  /** Set when the cluster acknowledged the write; a failed write may still have committed. */
  version: number | null;
  failed: boolean;
}

export interface ReadRecord {
  readonly uid: string;
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly version: number;
  /** SHA-256 of the bytes the client returned, computed by the bench, not taken from a manifest. */
  readonly sha256: string;
  /** The versions of this name acknowledged before the read started. */
  readonly ackedBefore: readonly number[];
  /** Writes of this name in flight when the read started (ids). */
  readonly inFlightAtStart: readonly number[];
}

export type ReadVerdict = "acked" | "concurrent" | "stale" | "unknown";

export class History {
  readonly writes: WriteRecord[] = [];
  readonly reads: ReadRecord[] = [];
  private readonly byName = new Map<string, WriteRecord[]>();

  private key(uid: string, name: string): string {
    return `${uid}/${name}`;
  }

  writesOf(uid: string, name: string): readonly WriteRecord[] {
    return this.byName.get(this.key(uid, name)) ?? [];
  }

  beginWrite(uid: string, name: string, sha256: string, bytes: number, nowMs: number): WriteRecord {
    const record: WriteRecord = {
      id: this.writes.length,
      uid,
      name,
      sha256,
      bytes,
      startMs: nowMs,
      endMs: null,
      version: null,
      failed: false,
    };
    this.writes.push(record);
    const key = this.key(uid, name);
    const list = this.byName.get(key) ?? [];
    list.push(record);
    this.byName.set(key, list);
    return record;
  }

  /** What a read starting now may legitimately return: recorded with the read. */
  readContext(uid: string, name: string): { ackedBefore: number[]; inFlightAtStart: number[] } {
    const ackedBefore: number[] = [];
    const inFlightAtStart: number[] = [];
    for (const write of this.writesOf(uid, name)) {
      if (write.version !== null) ackedBefore.push(write.version);
      else if (write.endMs === null) inFlightAtStart.push(write.id);
    }
    return { ackedBefore, inFlightAtStart };
  }

  /** Names with at least one acknowledged version, for updates and reads to draw from. */
  ackedNames(uid: string): string[] {
    const names: string[] = [];
    for (const [key, list] of this.byName) {
      if (key.startsWith(`${uid}/`) && list.some((write) => write.version !== null)) {
        names.push(key.slice(uid.length + 1));
      }
    }
    return names;
  }

  acknowledged(): WriteRecord[] {
    return this.writes.filter((write) => write.version !== null);
  }
}

/**
 * A read is fine if it returned an acknowledged version no older than the newest one
 * acknowledged before it started, or the bytes of a write that overlapped it (acknowledged
 * later, or never: a write whose acknowledgement was lost may still have committed).
 */
export function judgeRead(history: History, read: ReadRecord): ReadVerdict {
  const writes = history.writesOf(read.uid, read.name);
  const newestBefore = Math.max(0, ...read.ackedBefore);
  const sameVersion = writes.find((write) => write.version === read.version);
  if (sameVersion !== undefined) {
    if (sameVersion.sha256 !== read.sha256) return "unknown";
    if (read.ackedBefore.includes(read.version)) {
      return read.version >= newestBefore ? "acked" : "stale";
    }
    if (sameVersion.startMs >= read.endMs) return "unknown";
    // Acknowledged after the read started, yet numbered below a version acknowledged before it.
    return read.version >= newestBefore ? "concurrent" : "stale";
  }
  const overlapping = writes.some(
    (write) => write.version === null && write.sha256 === read.sha256 && write.startMs < read.endMs,
  );
  if (!overlapping) return "unknown";
  return read.version >= newestBefore ? "concurrent" : "stale";
}

export interface ReadCheck {
  readonly acked: number;
  readonly concurrent: number;
  readonly stale: number;
  readonly unknown: number;
  readonly samples: readonly string[];
}

const CHECK_SAMPLES_MAX = 5;

export function checkReads(history: History): ReadCheck {
  const counts: Record<ReadVerdict, number> = { acked: 0, concurrent: 0, stale: 0, unknown: 0 };
  const samples: string[] = [];
  for (const read of history.reads) {
    const verdict = judgeRead(history, read);
    counts[verdict] += 1;
    if ((verdict === "stale" || verdict === "unknown") && samples.length < CHECK_SAMPLES_MAX) {
      samples.push(
        `${verdict}: ${read.uid}/${read.name} v${read.version} ` +
          `(acked before: ${read.ackedBefore.join(",")}; sha ${read.sha256.slice(0, 12)})`,
      );
    }
  }
  return { ...counts, samples };
}

/** Two acknowledgements of one name and version with different bytes: a split brain. */
export function conflictingAcks(history: History): string[] {
  const seen = new Map<string, string>();
  const conflicts: string[] = [];
  for (const write of history.acknowledged()) {
    const key = `${write.uid}/${write.name}@${write.version}`;
    const previous = seen.get(key);
    if (previous !== undefined && previous !== write.sha256) conflicts.push(key);
    seen.set(key, write.sha256);
  }
  return conflicts;
}
