/** Helpers for tests, the bench and the dev cluster: free ports, real-process clusters. */
export * from "./free-port.ts";
export * from "./launcher.ts";
export * from "./sim/index.ts";
