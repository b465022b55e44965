/**
 * The FTFS client library, as the bench and other programs import it (`import { FtfsClient }
 * from "ftfs"`). The CLI is built on exactly this.
 */

export type { ClusterStatus } from "./core/status.ts";
export { FtfsClient, type ConnectResult, type FtfsClientOptions } from "./io/client.ts";
export type { ChunkSink, ReadResult } from "./io/download.ts";
export type { ProgressListener, TransferProgress, UploadResult } from "./io/upload.ts";
export type { RetryEvent, RetryObserver } from "./io/retry.ts";
export type { StoredFile } from "./core/format.ts";
export { pickGroup, rankGroups, rendezvousWeight } from "./core/rendezvous.ts";
export {
  CLIENT_CHUNK_TIMEOUT_MS,
  CLIENT_DIRECTORY_TIMEOUT_MS,
  CLIENT_FIRST_CONTACT_DEADLINE_MS,
  CLIENT_RETRY_DEADLINE_MS,
} from "./core/limits.ts";
