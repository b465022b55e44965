/** The Bun edge of the protocol: TCP transport, RPC client and server, security, logs and flags. */
export * from "./chunk-fetch.ts";
export * from "./chunk-list-digest.ts";
export * from "./cli-flags.ts";
export * from "./connection-guard.ts";
export * from "./frame-channel.ts";
export * from "./gossip/index.ts";
export * from "./hedge.ts";
export * from "./logger.ts";
export * from "./parent-watch.ts";
export * from "./primary-finder.ts";
export * from "./rpc-client.ts";
export * from "./rpc-server.ts";
export * from "./security/index.ts";
export * from "./status-http.ts";
export * from "./flag-values.ts";
export * from "./sd-notify.ts";
export * from "./server-main.ts";
