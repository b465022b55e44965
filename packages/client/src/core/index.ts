/** The client library's pure parts: cluster status, storage listings, placement, bounds. */
export * from "./limits.ts";
export * from "./rendezvous.ts";
export * from "./status.ts";
export * from "./storage-listing.ts";
export * from "./timeline.ts";
