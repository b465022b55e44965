/**
 * The FTFS client library (`import { FtfsClient } from "@ftfs/client"`): the `ftfs` CLI, the
 * bench, the dev cluster and the test harnesses are built on exactly this.
 */

export type { ClusterStatus } from "./core/status.ts";
export {
  FtfsClient,
  type ConnectResult,
  type FtfsClientOptions,
  type UploadFileOptions,
} from "./io/client.ts";
export type { JournalState, JournalChunk } from "./core/upload-journal.ts";
export { pruneJournals } from "./io/upload-journal.ts";
export type { ByteRange, ChunkSink, ObjectLocation, ReadResult } from "./io/download.ts";
export type { ProgressListener, TransferProgress, UploadResult } from "./io/upload.ts";
export {
  fileErrorReason,
  localFileSha256,
  streamSource,
  type ByteSource,
  type StreamDigests,
} from "./io/byte-source.ts";
export type { LoginSession } from "./io/login.ts";
export type { RetryEvent, RetryObserver } from "./io/retry.ts";
export { newestCommitted, type StoredFile } from "./core/storage-listing.ts";
export { pickGroup, rankGroups, rendezvousWeight } from "./core/rendezvous.ts";
export {
  CLIENT_CHUNK_TIMEOUT_MS,
  CLIENT_DIRECTORY_TIMEOUT_MS,
  CLIENT_FIRST_CONTACT_DEADLINE_MS,
  CLIENT_RETRY_DEADLINE_MS,
  CLI_GC_INTERVAL_BYTES,
} from "./core/limits.ts";
