/**
 * Fetching a chunk from a group over real loopback sockets: replicas in order, a bad copy or a
 * missing one passed over (and reported by address), a silent one given company after the
 * hedge delay, a caller's own check instead of the default hash.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { fail, ok } from "../core/index.ts";
import { checkChunkBytes, fetchChunk } from "./chunk-fetch.ts";
import { createMemoryLogger } from "./logger.ts";
import { RpcPool } from "./rpc-client.ts";
import { RpcServer } from "./rpc-server.ts";
import { sha256Hex } from "./security/node-hashes.ts";

const GOOD = new TextEncoder().encode("the chunk's bytes");
const ID = sha256Hex(GOOD);
const SILENCE_MS = 2_000;

const OTHER = new TextEncoder().encode("another chunk, answered at once");
const OTHER_ID = sha256Hex(OTHER);
/** A "slow" replica's answer for ID: it keeps answering other calls meanwhile. */
const SLOW_MS = 400;

type Replica = "good" | "rotten" | "missing" | "silent" | "slow";

const asked = new Map<string, number>();

const servers: RpcServer[] = [];
const pools: RpcPool[] = [];
afterEach(() => {
  asked.clear();
  for (const server of servers.splice(0)) server.stop();
  for (const pool of pools.splice(0)) pool.close();
});

function replica(kind: Replica): string {
  const server = RpcServer.start({
    listen: "127.0.0.1:0",
    logger: createMemoryLogger(),
    handlers: {
      getChunk: async (body) => {
        asked.set(kind, (asked.get(kind) ?? 0) + 1);
        if (body.chunkId === OTHER_ID) {
          return ok({ body: { chunkId: OTHER_ID, bytes: OTHER.length }, payload: OTHER });
        }
        if (kind === "slow") await Bun.sleep(SLOW_MS);
        if (kind === "missing") return fail("CHUNK_NOT_FOUND", `no chunk ${body.chunkId}`);
        if (kind === "silent") await Bun.sleep(SILENCE_MS);
        const payload = kind === "rotten" ? GOOD.map((byte) => byte ^ 1) : GOOD;
        return ok({ body: { chunkId: body.chunkId, bytes: payload.length }, payload });
      },
    },
  });
  servers.push(server);
  return `127.0.0.1:${server.port}`;
}

function pool(): RpcPool {
  const made = new RpcPool();
  pools.push(made);
  return made;
}

describe("fetchChunk", () => {
  test("passes over a rotten and a missing copy, says why by address, returns the good one", async () => {
    const [rotten, missing, good] = [replica("rotten"), replica("missing"), replica("good")];
    const addresses = [rotten, missing, good];
    const fetched = await fetchChunk(pool(), { chunkId: ID, addresses, timeoutMs: 1_000 });
    expect(fetched.ok && [fetched.from, fetched.value]).toEqual([good, GOOD]);
    const none = await fetchChunk(pool(), {
      chunkId: ID,
      addresses: [rotten, missing],
      timeoutMs: 1_000,
    });
    expect(none.ok ? [] : none.failures.map((f) => [f.address, f.error.code])).toEqual([
      [rotten, "INTEGRITY"],
      [missing, "CHUNK_NOT_FOUND"],
    ]);
  });

  test("a silent replica gets company after the hedge delay, not after its timeout", async () => {
    const addresses = [replica("silent"), replica("good")];
    const startedMs = performance.now();
    const fetched = await fetchChunk(pool(), {
      chunkId: ID,
      addresses,
      timeoutMs: SILENCE_MS * 2,
      hedgeMs: 50,
    });
    expect(fetched.ok && fetched.from).toBe(addresses[1] ?? "");
    expect(performance.now() - startedMs).toBeLessThan(SILENCE_MS);
  });

  test("a slow replica still answering other calls is not hedged: no second copy is fetched", async () => {
    const [slow, good] = [replica("slow"), replica("good")];
    const shared = pool();
    let fetching = true;
    const chatter = (async () => {
      while (fetching) {
        await shared.call(slow, "getChunk", { chunkId: OTHER_ID }, { timeoutMs: 1_000 });
        await Bun.sleep(10);
      }
    })();
    const fetched = await fetchChunk(shared, {
      chunkId: ID,
      addresses: [slow, good],
      timeoutMs: SLOW_MS * 10,
      hedgeMs: 50,
    });
    fetching = false;
    await chatter;
    expect(fetched.ok && fetched.from).toBe(slow);
    expect(asked.get("good") ?? 0).toBe(0);
  });

  test("the caller's check replaces the hash check, and what it keeps is answered", async () => {
    const fetched = await fetchChunk(pool(), {
      chunkId: ID,
      addresses: [replica("good")],
      timeoutMs: 1_000,
      verify: (bytes) => ok(bytes.length),
    });
    expect(fetched.ok && fetched.value).toBe(GOOD.length);
    expect(checkChunkBytes(ID, GOOD)).toEqual(ok(GOOD));
    expect(checkChunkBytes(ID, GOOD.subarray(1)).ok).toBe(false);
  });
});
