/** The deterministic simulator (generic), its seeds, and the SWIM cluster and properties on it. */
export * from "./event-queue.ts";
export * from "./network.ts";
export * from "./raft-cluster.ts";
export * from "./seeds.ts";
export * from "./simulator.ts";
export * from "./swim-cluster.ts";
export * from "./swim-properties.ts";
