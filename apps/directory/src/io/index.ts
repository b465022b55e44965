/**
 * What of the directory's I/O others may drive directly: the benches build a directory's
 * on-disk state without a running node (bench:directory's scale runs); the one binary's build
 * (bin/) builds the web console's page and script into it.
 */
export { buildConsoleAssets, type ConsoleAssets } from "./console.ts";
export { RaftLog } from "./raft-log.ts";
export { SqliteMetadataStore } from "./sqlite-store.ts";
