/**
 * Error codes users and programs can act on. The list is append-only: a code's meaning never
 * changes, since clients of older versions match on it.
 */

export const ERROR_CODES = [
  "BAD_FRAME", // bytes on the wire are not a frame of this protocol
  "FRAME_TOO_LARGE", // a frame's length is over FRAME_BYTES_MAX
  "UNSUPPORTED_VERSION", // a frame of another protocol version
  "BAD_REQUEST", // a well-formed frame whose header does not fit the operation's schema
  "UNKNOWN_OP", // an operation this node does not serve
  "INVALID_NAME", // a file name that is empty, too long, or tries to escape
  "INVALID_UID", // a user id outside the allowed alphabet or length
  "NO_SUCH_USER", // the user has never connected
  "NOT_FOUND", // no such file (or version) for this user
  "CHUNK_NOT_FOUND", // a storage node lacks a chunk
  "CHUNK_MISMATCH", // bytes whose SHA-256 is not the chunk id they were sent as
  "MANIFEST_MISMATCH", // a manifest whose sizes or chunks do not add up
  "NOT_PRIMARY", // this node cannot serve writes; `hint` names who can
  "STALE_EPOCH", // the request was stamped with an epoch older than the node's
  "UNAVAILABLE", // the service cannot answer now (no storage group, no quorum); retry
  "TIMEOUT", // no response within the deadline
  "CONNECTION_CLOSED", // the connection ended before the response came
  "CONNECT_FAILED", // no TCP connection could be opened
  "TOO_BUSY", // a bounded queue is full; retry later
  "DISK_FULL", // the node has no room for the bytes
  "LOCAL_FILE", // a local file could not be read or was changed during upload
  "INTEGRITY", // bytes read back do not match their recorded hash
  "INTERNAL", // a bug or an unexpected I/O failure on the server
  "AUTH_FAILED", // credentials (secret, token, MAC) that do not prove who the caller says
  "FORBIDDEN", // an authenticated caller asked for something it may not do
  "SESSION_EXPIRED", // a session token past its expiry or revoked (user removed); log in again
  "QUOTA_EXCEEDED", // the user's byte or file quota would be exceeded
  "RATE_LIMITED", // too many requests from this principal; `hint.retryAfterMs` says when to retry
  "TICKET_REQUIRED", // a chunk write from a user without the placement ticket the directory issued
  "TICKET_INVALID", // a placement ticket that is forged, expired, for another group, user or size
  "RECEIPT_INVALID", // a manifest whose chunk lacks a valid receipt from its group's primary
  "CONNECTION_LIMIT", // the node (or the caller's address) has as many connections as it accepts
  "UPLOAD_EXPIRED", // an upload committed after its deadline (its chunks may be gone); upload again
  "NO_SUCH_BUCKET", // the user has no bucket of that name
  "BUCKET_NOT_EMPTY", // a bucket that still holds objects cannot be deleted
  "NO_SUCH_UPLOAD", // no open multipart upload of that id (never made, completed or aborted)
  "INVALID_PART", // a completion names a part that is not there, or not with that ETag
  "INVALID_PART_ORDER", // a completion's parts are not in ascending order, each once
  "PART_TOO_SMALL", // a part other than the last is under MULTIPART_PART_BYTES_MIN
  "PRECONDITION_FAILED", // a conditional write found the name at another version than it named
  "NOT_LOGGED_IN", // the client holds no session for the user it was asked to act as; log in
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const ERROR_CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && ERROR_CODE_SET.has(value);
}

/** The kinds of node that serve requests. */
export type ServerRole = "directory" | "storage";

/** Where to go instead (NOT_PRIMARY, STALE_EPOCH), or when to come back (RATE_LIMITED). */
export interface ErrorHint {
  readonly primary?: string;
  readonly epoch?: number;
  /** RATE_LIMITED: the earliest a retry can be admitted. */
  readonly retryAfterMs?: number;
  /** NOT_FOUND: the version asked for is an S3 delete marker (S3 answers it differently). */
  readonly deleteMarker?: boolean;
  /** UNKNOWN_OP: what kind of node answered (a storage node given as the cluster's address). */
  readonly role?: ServerRole;
}

/** Codes after which the same request may succeed if sent again (perhaps elsewhere). */
const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "NOT_PRIMARY",
  "STALE_EPOCH",
  "UNAVAILABLE",
  "TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECT_FAILED",
  "TOO_BUSY",
  "RATE_LIMITED",
  "CONNECTION_LIMIT",
]);

export function isRetryable(code: ErrorCode): boolean {
  return RETRYABLE_CODES.has(code);
}

/**
 * The one error class that crosses the wire and reaches the CLI. `code` is what programs match;
 * `message` is one line a person can act on.
 */
export class FtfsError extends Error {
  override readonly name = "FtfsError";
  readonly code: ErrorCode;
  readonly hint: ErrorHint | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; hint?: ErrorHint }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options?.hint;
  }

  get retryable(): boolean {
    return isRetryable(this.code);
  }
}

/** A peer's or user's fault, as a value: answered and counted, never thrown across layers. */
export type Result<T, E = FtfsError> = { ok: true; value: T } | { ok: false; error: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail(
  code: ErrorCode,
  message: string,
  hint?: ErrorHint,
): { ok: false; error: FtfsError } {
  return {
    ok: false,
    error: new FtfsError(code, message, hint === undefined ? undefined : { hint }),
  };
}
