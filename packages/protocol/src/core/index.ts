/** The pure core of the protocol: codecs, schemas, limits and rules. No I/O in this folder. */
export * from "./access.ts";
export * from "./assert.ts";
export * from "./auth/index.ts";
export * from "./durations.ts";
export * from "./errors.ts";
export * from "./frame.ts";
export * from "./limits.ts";
export * from "./messages.ts";
export * from "./names.ts";
export * from "./pacing.ts";
export * from "./principal.ts";
export * from "./schema.ts";
export * from "./prng.ts";
export * from "./rate-limit.ts";
export * from "./upload-id.ts";
export * as swim from "./swim/index.ts";
export * as raft from "./raft/index.ts";
