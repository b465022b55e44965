/**
 * Raft for the directory group, sans I/O: the node, its log view, message types, bounds and
 * their wire codec.
 */
export * from "./drive.ts";
export * from "./log.ts";
export * from "./membership.ts";
export * from "./node.ts";
export * from "./progress.ts";
export * from "./quorum.ts";
export * from "./snapshot-image.ts";
export * from "./types.ts";
export * from "./wire.ts";
