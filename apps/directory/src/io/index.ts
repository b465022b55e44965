/**
 * What of the directory's I/O others may drive directly: the benches build a directory's
 * on-disk state without a running node (bench:directory's scale runs, in bulk by SQL too); the one binary's build
 * (bin/) builds the web console's page and script into it.
 */
export { buildConsoleAssets, type ConsoleAssets } from "./console.ts";
export { RaftLog } from "./raft-log.ts";
export { exportImageInWorker } from "./snapshot-export.ts";
export { SnapshotImages } from "./snapshot-images.ts";
export { RECOMPUTE_DERIVED_SQL } from "./sqlite-schema.ts";
export { SqliteMetadataStore } from "./sqlite-store.ts";
