/** The storage node's pure core: data-folder layout, request admission, views, listings. */
export * from "./layout.ts";
export * from "./limits.ts";
export * from "./owned-files.ts";
export * from "./request-rules.ts";
export * from "./view-rules.ts";
