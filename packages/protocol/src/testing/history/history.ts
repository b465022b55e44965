/**
 * The history of every client operation, Jepsen style: each op is invoked, then completes as
 * ok, fail (it certainly had no effect: reads and lists) or unknown (a write or a delete whose
 * outcome the client never learned: it may have committed, now or later). Times are monotonic
 * milliseconds from the run's start. Writes carry the SHA-256 of their bytes (unique per write:
 * the workload stamps every chunk with the op id), reads the hash of the bytes the client
 * returned. A read or a delete the directory answered NOT_FOUND is ok and `absent`: a definite
 * answer that the name had no live version, which the checker holds it to.
 */

export type OpKind = "upload" | "update" | "read" | "list" | "delete";
export type OpStatus = "pending" | "ok" | "fail" | "unknown";

export interface ListedFile {
  readonly name: string;
  readonly version: number;
  readonly sha256: string;
}

export interface Op {
  readonly id: number;
  readonly client: number;
  readonly kind: OpKind;
  readonly uid: string;
  /** Null for a list. */
  readonly name: string | null;
  readonly startMs: number;
  endMs: number | null;
  status: OpStatus;
  /** A write's bytes' hash (at invoke); a read's returned bytes' hash (at ok). */
  sha256: string | null;
  bytes: number | null;
  /**
   * The version a write was acknowledged as, or a read returned; for a delete, the version it
   * deleted (its answer's deletedVersion: that version and every older one are gone).
   */
  version: number | null;
  listed: readonly ListedFile[] | null;
  /** A read or delete answered NOT_FOUND: the name had no live version (status ok). */
  absent: boolean;
  error: string | null;
}

export function isWrite(op: Op): boolean {
  return op.kind === "upload" || op.kind === "update";
}

/** Ops whose outcome may be unknown: they change the file (writes and deletes). */
function changesFile(op: Op): boolean {
  return isWrite(op) || op.kind === "delete";
}

export function fileKey(uid: string, name: string): string {
  return `${uid}/${name}`;
}

export class OpLog {
  readonly ops: Op[] = [];
  private readonly clockMs: () => number;

  /** Times come from `clockMs` (a simulator's), or else from the run's start on this host. */
  constructor(clockMs?: () => number) {
    const t0Ms = performance.now();
    this.clockMs = clockMs ?? (() => performance.now() - t0Ms);
  }

  nowMs(): number {
    return this.clockMs();
  }

  invoke(
    client: number,
    kind: OpKind,
    uid: string,
    name: string | null,
    write?: { sha256: string; bytes: number },
  ): Op {
    const op: Op = {
      id: this.ops.length,
      client,
      kind,
      uid,
      name,
      startMs: this.nowMs(),
      endMs: null,
      status: "pending",
      sha256: write?.sha256 ?? null,
      bytes: write?.bytes ?? null,
      version: null,
      listed: null,
      absent: false,
      error: null,
    };
    this.ops.push(op);
    return op;
  }

  ok(
    op: Op,
    result: { version?: number; sha256?: string; bytes?: number; listed?: readonly ListedFile[] },
  ): void {
    op.endMs = this.nowMs();
    op.status = "ok";
    op.version = result.version ?? op.version;
    op.sha256 = result.sha256 ?? op.sha256;
    op.bytes = result.bytes ?? op.bytes;
    op.listed = result.listed ?? null;
  }

  /** The directory said the name has no live version (a read's or a delete's NOT_FOUND). */
  absent(op: Op, error: string): void {
    op.endMs = this.nowMs();
    op.status = "ok";
    op.absent = true;
    op.error = error;
  }

  /** A read or list that failed had no effect (`fail`); a write or delete may have (`unknown`). */
  failed(op: Op, error: string): void {
    op.endMs = this.nowMs();
    op.status = changesFile(op) ? "unknown" : "fail";
    op.error = error;
  }
}

/** One op on one line, for the history slices a violation prints. */
export function formatOp(op: Op): string {
  const end = op.endMs === null ? "…" : op.endMs.toFixed(0);
  const target = op.name === null ? op.uid : fileKey(op.uid, op.name);
  const version = op.absent
    ? " absent"
    : op.version === null
      ? ""
      : op.kind === "delete"
        ? ` deleted v1–v${op.version}`
        : ` v${op.version}`;
  const hash = op.sha256 === null ? "" : ` sha ${op.sha256.slice(0, 12)}`;
  const listed =
    op.listed === null ? "" : ` [${op.listed.map((f) => `${f.name}@v${f.version}`).join(" ")}]`;
  const error = op.error === null ? "" : ` (${op.error})`;
  return `#${op.id} c${op.client} ${op.kind} ${target} ${op.startMs.toFixed(0)}–${end} ms ${op.status}${version}${hash}${listed}${error}`;
}
