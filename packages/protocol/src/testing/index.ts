/**
 * Helpers for tests, the bench and the dev cluster: free ports, real-process clusters and their
 * status, network namespaces and the deterministic simulator. The history checker the chaos
 * suite and the churn bench judge their runs by is @ftfs/protocol/testing/history.
 */
export * from "./cluster-view.ts";
export * from "./free-port.ts";
export * from "./launcher.ts";
export * from "./netns.ts";
export * from "./sim/index.ts";
