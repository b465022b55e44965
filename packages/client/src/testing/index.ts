/** For tests of programs built on the client library: an in-process stand-in for a cluster. */
export * from "./fake-cluster.ts";
