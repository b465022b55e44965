/** SWIM + Lifeguard membership, sans I/O: the node, its wire codec, config and pure helpers. */
export * from "./awareness.ts";
export * from "./codec.ts";
export * from "./config.ts";
export type { OutboundPacket, SwimCounters } from "./context.ts";
export * from "./messages.ts";
export * from "./node.ts";
export * from "./queue.ts";
export * from "./suspicion.ts";
export * from "./types.ts";
