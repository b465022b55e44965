/** The directory's pure core: metadata commands, state machine, stores' contract, group rules. */
export * from "./checks.ts";
export * from "./commands.ts";
export * from "./disk-full-rules.ts";
export * from "./garbage-rules.ts";
export * from "./group-rules.ts";
export * from "./limits.ts";
export * from "./manifest-rules.ts";
export * from "./memory-store.ts";
export * from "./model.ts";
export * from "./queries.ts";
export * from "./quota-rules.ts";
export * from "./replica.ts";
export * from "./rebalance-rules.ts";
export * from "./spare-rules.ts";
export * from "./state-machine.ts";
export * from "./storage-registry.ts";
export * from "./store.ts";
