/**
 * What of storage's I/O others may drive directly: the GC protocol simulation applies notices
 * to real reference stores, as the handlers do; the crash test opens a killed node's stores as
 * the node does at start; tests and tools read what a node's disk holds (chunksOnDisk).
 */
export { type ChunkOnDisk, ChunkStore, chunksOnDisk } from "./chunk-store.ts";
export { applyNotice } from "./notices.ts";
export { refKey, RefsStore, type ChunkRefFacts } from "./refs-store.ts";
