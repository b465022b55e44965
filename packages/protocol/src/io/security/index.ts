/**
 * Security at the edge: the cluster keyring and its sub-keys, S3 access keys sealed under it,
 * channel authentication (hello and
 * frame tags), placement tickets and receipts, key flags, user sessions, and the hashes the
 * pure authentication cores are given.
 */
export * from "./access-key-seal.ts";
export * from "./channel-auth.ts";
export * from "./cluster-key-flags.ts";
export * from "./keyring.ts";
export * from "./node-hashes.ts";
export * from "./placement-tickets.ts";
export * from "./user-sessions.ts";
