/**
 * Every bound of the wire protocol and the file model, in one place, each with its reason.
 * Decoders and servers import these; nothing else invents a limit.
 */

const KIB = 1024;
const MIB = 1024 * KIB;

/** Wire format version carried in every frame; a peer speaking another version is refused. */
export const PROTOCOL_VERSION = 2;

/** Default chunk size: big enough that per-chunk overhead vanishes, small enough to pipeline. */
export const CHUNK_BYTES_DEFAULT = 4 * MIB;
/** Largest configurable chunk; a chunk travels in one frame, so this bounds frame payloads. */
export const CHUNK_BYTES_MAX = 16 * MIB;
/** Smallest configurable chunk; below this the per-chunk round trip dominates. */
export const CHUNK_BYTES_MIN = 4 * KIB;

/** A frame header (JSON) carries ids and names, never file bytes; manifests of huge files fit. */
export const FRAME_HEADER_BYTES_MAX = 4 * MIB;
/** Fixed prefix: u32 length, u8 version, u8 kind, u32 request id, u32 header length. */
export const FRAME_PREFIX_BYTES = 14;
/**
 * Every frame ends in a tag: 128 bits of HMAC-SHA256 over the frame under the connection's key
 * (IPsec's HMAC-SHA-256-128, RFC 4868), or zeros on a connection that is not authenticated.
 * Always present, so framing never depends on the handshake's outcome.
 */
export const FRAME_TAG_BYTES = 16;
/** Hard cap on one frame; checked before any allocation so a hostile length cannot OOM a node. */
export const FRAME_BYTES_MAX =
  FRAME_PREFIX_BYTES + FRAME_HEADER_BYTES_MAX + CHUNK_BYTES_MAX + FRAME_TAG_BYTES;

/** A file name is one path component; 255 bytes is what ext4 and most file systems accept. */
export const FILE_NAME_BYTES_MAX = 255;
/** S3's bounds on a bucket name. */
export const BUCKET_NAME_CHARS_MIN = 3;
export const BUCKET_NAME_CHARS_MAX = 63;
/** S3's bound on an object key, in UTF-8 bytes. */
export const OBJECT_KEY_BYTES_MAX = 1024;
/** Objects per listObjects answer (S3's max-keys is at most 1,000 too). */
export const LIST_OBJECTS_MAX = 1_000;
/** Buckets a user may have besides its home bucket (S3's default limit is 100). */
export const BUCKETS_PER_USER_MAX = 1_000;
/** Parts one multipart upload may have, numbered 1 to this (S3's limit). */
export const MULTIPART_PARTS_MAX = 10_000;
/** A multipart upload's parts but the last are at least this big (S3's limit). */
export const MULTIPART_PART_BYTES_MIN = 5 * MIB;
/** The largest part (S3's limit). */
export const MULTIPART_PART_BYTES_MAX = 5 * 1024 * MIB;
/**
 * Multipart uploads one user may have open at once: each holds a record and its parts until
 * completed or aborted, so their number is bounded (S3 sets none; 10,000 is plenty for tools).
 */
export const MULTIPART_UPLOADS_PER_USER_MAX = 10_000;
/** Multipart uploads one listing answers (S3's max-uploads is at most 1,000 too). */
export const LIST_MULTIPART_UPLOADS_MAX = 1_000;
/** Parts one listing answers (S3's max-parts is at most 1,000 too). */
export const LIST_PARTS_MAX = 1_000;
/**
 * How long a multipart upload may stay open: its id carries this deadline, past which it can
 * no longer complete. S3 keeps them until aborted; a bound keeps forgotten ones from
 * holding their parts for ever unnoticed (they stay listed until aborted).
 */
export const MULTIPART_UPLOAD_LIFETIME_MS = 30 * 24 * 3_600_000;
/** The longest name the directory keeps: "/" bucket "/" key (object-names.ts). */
export const STORED_NAME_BYTES_MAX = 1 + BUCKET_NAME_CHARS_MAX + 1 + OBJECT_KEY_BYTES_MAX;
/** User ids are short, printable, and safe to use in logs and paths. */
export const UID_BYTES_MAX = 64;
/** A node id names a process in logs, gossip and `--data` folders. */
export const NODE_ID_BYTES_MAX = 64;

/** Largest file: bounded so a manifest's chunk list stays within FRAME_HEADER_BYTES_MAX. */
export const FILE_BYTES_MAX = 4 * 1024 * 1024 * MIB;
/** Chunks in one manifest: FILE_BYTES_MAX / CHUNK_BYTES_MIN would be too many; bound it. */
export const MANIFEST_CHUNKS_MAX = 32_768;
/**
 * Chunk ids one commitRefs names: a group's share of one manifest's distinct chunks, so never
 * more than the manifest holds (32,768 ids of 64 hex characters fit a frame header).
 */
export const COMMIT_CHUNK_IDS_MAX = MANIFEST_CHUNKS_MAX;
/** Entries in one listing answer. */
export const LIST_FILES_MAX = 100_000;
/** Ids in one batched chunk query. */
export const CHUNK_IDS_PER_REQUEST_MAX = 4096;
/** Chunks one confirmGarbage asks about: a page of a GC pass's candidates. */
export const GC_CANDIDATES_PER_REQUEST_MAX = 512;
/**
 * Uploads named per candidate chunk. A chunk many unfinished uploads share (the zero chunk)
 * names the first few and says there are more; it is kept until fewer remain.
 */
export const GC_UPLOADS_PER_CANDIDATE_MAX = 16;

/** Requests one connection may have unanswered; past it the server stops reading the socket. */
export const CONNECTION_REQUESTS_IN_FLIGHT_MAX = 32;
/** Bytes queued for a slow reader before the writer waits for the socket to drain. */
export const CONNECTION_WRITE_QUEUE_BYTES_MAX = 8 * MIB;
/** Default wait for a response before the caller gives up on that request. */
export const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;
/** Wait for a TCP connection to open. */
export const CONNECT_TIMEOUT_MS_DEFAULT = 3_000;

/** Chunks an uploading or reading client keeps in flight: bounds client memory by chunks. */
export const CLIENT_CHUNKS_IN_FLIGHT_DEFAULT = 4;

/** Shortest rest a pacer asks for: shorter timers cost more than the work they spread. */
export const PACE_SLEEP_MS_MIN = 10;

/** SHA-256 in lowercase hex. */
export const SHA256_HEX_LENGTH = 64;

/**
 * Until gossip (SWIM) carries liveness, storage nodes announce themselves to the directory on
 * this interval, and the directory counts one silent for the timeout as gone from its group.
 */
export const STORAGE_HEARTBEAT_INTERVAL_MS = 500;
export const STORAGE_HEARTBEAT_TIMEOUT_MS = 3_000;

/** Local cluster of the contract: directory nodes and storage groups on fixed loopback ports. */
export const DEV_DIRECTORY_ADDRESSES = [
  "127.0.0.1:7101",
  "127.0.0.1:7102",
  "127.0.0.1:7103",
] as const;

/**
 * Frames at least this large (chunks of file bytes) arriving at a client are read into buffers
 * it can lend and take back (frame-buffers.ts): a fresh 4 MiB buffer per chunk costs page
 * faults on every byte, which profiled as half of a load process reading 4 MiB objects.
 */
export const POOLED_FRAME_BYTES_MIN = 256 * KIB;
/** Pooled buffers come in sizes of this step, so a chunk's frame fits the last one's buffer. */
export const POOLED_FRAME_STEP_BYTES = 64 * KIB;
/** Buffers given back and kept for reuse, in all, per pool; past it they go to the collector. */
export const POOLED_FRAME_FREE_BYTES_MAX = 64 * MIB;
