/** The gossip driver: SWIM core + Bun UDP + keyring. */
export * from "./driver.ts";
export * from "./keyring.ts";
export * from "./refusal-prober.ts";
export * from "./cluster-gossip.ts";
