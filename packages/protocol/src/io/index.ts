/** The Bun edge of the protocol: TCP transport, RPC client and server, logs and flags. */
export * from "./auth/node-hashes.ts";
export * from "./auth/user-sessions.ts";
export * from "./channel-auth.ts";
export * from "./cli-flags.ts";
export * from "./cluster-key-flags.ts";
export * from "./connection-guard.ts";
export * from "./frame-channel.ts";
export * from "./logger.ts";
export * from "./rpc-client.ts";
export * from "./rpc-server.ts";
export * from "./parent-watch.ts";
export * from "./placement-tickets.ts";
export * from "./gossip/index.ts";
