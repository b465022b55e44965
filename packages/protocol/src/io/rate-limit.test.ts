/**
 * The server's rate limit on real sockets: a caller past its burst is answered RATE_LIMITED
 * with a retry-after the client decodes, other callers are not affected, and after the wait
 * the caller is served again; nodes are never limited. Each refusal is counted in /metrics.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { FtfsError, MetricsRegistry, ok } from "../core/index.ts";
import { createMemoryLogger } from "./logger.ts";
import { RpcClient } from "./rpc-client.ts";
import { RpcServer } from "./rpc-server.ts";

const servers: RpcServer[] = [];
const clients: RpcClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) server.stop();
});

function start(
  rateLimit: { perSecond: number; burst: number } | null,
  metrics = new MetricsRegistry(),
): RpcServer {
  const server = RpcServer.start({
    listen: "127.0.0.1:0",
    logger: createMemoryLogger(),
    rateLimit,
    metrics,
    handlers: { hasChunks: async () => ok({ body: { present: [] } }) },
  });
  servers.push(server);
  return server;
}

async function connect(server: RpcServer): Promise<RpcClient> {
  const client = await RpcClient.connect(`127.0.0.1:${server.port}`);
  clients.push(client);
  return client;
}

async function codeOf(call: Promise<unknown>): Promise<FtfsError | "ok"> {
  try {
    await call;
    return "ok";
  } catch (error) {
    if (error instanceof FtfsError) return error;
    throw error;
  }
}

describe("rate limits", () => {
  test("past the burst: RATE_LIMITED with retry-after; another caller is unaffected", async () => {
    const metrics = new MetricsRegistry();
    const server = start({ perSecond: 10, burst: 2 }, metrics);
    const greedy = await connect(server);
    const calm = await connect(server);
    expect(await codeOf(greedy.call("hasChunks", { chunkIds: [] }))).toBe("ok");
    expect(await codeOf(greedy.call("hasChunks", { chunkIds: [] }))).toBe("ok");
    const refused = await codeOf(greedy.call("hasChunks", { chunkIds: [] }));
    expect(refused instanceof FtfsError && refused.code).toBe("RATE_LIMITED");
    const retryAfterMs = refused instanceof FtfsError ? (refused.hint?.retryAfterMs ?? 0) : 0;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(100);
    expect(refused instanceof FtfsError && refused.retryable).toBe(true);
    expect(await codeOf(calm.call("hasChunks", { chunkIds: [] }))).toBe("ok");
    await Bun.sleep(retryAfterMs + 5);
    expect(await codeOf(greedy.call("hasChunks", { chunkIds: [] }))).toBe("ok");
    expect(metrics.render()).toContain('\nftfs_rpc_refused_total{reason="rate_limited"} 1\n');
  });

  test("null turns the limit off", async () => {
    const client = await connect(start(null));
    for (let call = 0; call < 50; call += 1) {
      expect(await codeOf(client.call("hasChunks", { chunkIds: [] }))).toBe("ok");
    }
  });
});
