/**
 * What of the directory's I/O others may drive directly: the benches build a directory's
 * on-disk state without a running node (bench:directory's scale runs).
 */
export { RaftLog } from "./raft-log.ts";
export { SqliteMetadataStore } from "./sqlite-store.ts";
