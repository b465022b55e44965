/** A Jepsen-style history of client ops and its checker (per-file linearizability). */
export * from "./checker.ts";
export * from "./history.ts";
