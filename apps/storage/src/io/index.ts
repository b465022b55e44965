/**
 * What of storage's I/O others may drive directly: the GC protocol simulation applies notices
 * to real reference stores, as the handlers do.
 */
export { applyNotice } from "./notices.ts";
export { refKey, RefsStore, type ChunkRefFacts } from "./refs-store.ts";
