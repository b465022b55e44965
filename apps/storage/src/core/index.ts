/**
 * The storage node's pure core: data-folder layout, request admission, views, listings, and
 * the rules of background maintenance (scrub pacing, repair, garbage collection).
 */
export * from "./catch-up-window.ts";
export * from "./gc-rules.ts";
export * from "./identity-rules.ts";
export * from "./layout.ts";
export * from "./limits.ts";
export * from "./owned-files.ts";
export * from "./request-rules.ts";
export * from "./scrub-rules.ts";
export * from "./segment-book.ts";
export * from "./view-rules.ts";
