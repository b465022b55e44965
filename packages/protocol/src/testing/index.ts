/** Helpers for tests of the protocol and the apps. */
export * from "./free-port.ts";
