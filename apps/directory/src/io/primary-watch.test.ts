/**
 * The primary watch: a watched primary whose connection closes and whose port then refuses is
 * reported down once; a primary no longer watched (the group moved on) is never reported; a
 * primary that stops answering keepalives while its host still answers (paused, or too busy)
 * is left to gossip, never reported. (A silent host: tests/e2e/primary-cut-link.test.ts.)
 */
import { afterEach, expect, test } from "bun:test";
import { createMemoryLogger, RpcServer, type Handlers } from "@ftfs/protocol/io";
import type { GroupConfig } from "../core/index.ts";
import { until } from "../testing/harness.ts";
import { PrimaryWatch } from "./primary-watch.ts";

const listeners: RpcServer[] = [];
const watches: PrimaryWatch[] = [];
afterEach(() => {
  for (const watch of watches.splice(0)) watch.stop();
  for (const listener of listeners.splice(0)) listener.stop();
});

/** A server that answers the handshake and serves nothing: enough to hold a connection open. */
function listener(handlers: Handlers = {}): RpcServer {
  const logger = createMemoryLogger("s1a");
  const started = RpcServer.start({ listen: "127.0.0.1:0", handlers, logger });
  listeners.push(started);
  return started;
}

function config(group: string, node: string, port: number): GroupConfig {
  const address = `127.0.0.1:${port}`;
  return { group, epoch: 1, primary: address, primaryNode: node, replicas: [{ node, address }] };
}

function watch(down: string[]): PrimaryWatch {
  const started = new PrimaryWatch({
    logger: createMemoryLogger("d1"),
    onDown: (node) => down.push(node),
  });
  watches.push(started);
  return started;
}

test("a watched primary that closes and then refuses is reported down, once", async () => {
  const primary = listener();
  const down: string[] = [];
  const watcher = watch(down);
  watcher.follow([config("s1", "s1a", primary.port)]);
  await Bun.sleep(100); // connected
  primary.stop(); // closes the port and every connection: what a killed process's kernel does
  await until("the primary is reported down", () => down.length > 0, 3_000);
  await Bun.sleep(200);
  expect(down).toEqual(["s1a"]);
});

test("a primary replaced in the configuration is no longer watched", async () => {
  const [old, next] = [listener(), listener()];
  const down: string[] = [];
  const watcher = watch(down);
  watcher.follow([config("s1", "s1a", old.port)]);
  await Bun.sleep(100);
  watcher.follow([config("s1", "s1b", next.port)]);
  old.stop();
  await Bun.sleep(500);
  expect(down).toEqual([]);
});

test("a primary whose keepalives go unanswered but whose host answers is not reported", async () => {
  const keepalives: string[] = [];
  // Every keepalive hangs, as on a paused or stalled process; its kernel still accepts.
  const primary = listener({
    hasChunks: () => {
      keepalives.push("asked");
      return new Promise(() => {});
    },
  });
  const down: string[] = [];
  watch(down).follow([config("s1", "s1a", primary.port)]);
  await until("a keepalive is sent", () => keepalives.length > 0, 3_000);
  await Bun.sleep(2_000); // several silences and host checks
  expect(down).toEqual([]);
});
