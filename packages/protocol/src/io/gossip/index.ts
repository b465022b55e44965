/** The gossip driver: SWIM core + Bun UDP (datagrams tagged with the cluster keyring). */
export * from "./driver.ts";
export * from "./refusal-prober.ts";
export * from "./host-checker.ts";
export * from "./cluster-gossip.ts";
export * from "./metrics.ts";
