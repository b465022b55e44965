/**
 * The RPC layer over real loopback sockets: requests and answers match by id, bad requests get
 * typed errors and the connection lives on, bad frames get one error and a close, payloads of
 * file bytes arrive intact, and a slow reader does not make the server buffer without bound.
 */
import { afterEach, describe, expect, test } from "bun:test";
import {
  encodeFrameBytes,
  FRAME_KIND,
  FRAME_BYTES_MAX,
  FrameDecoder,
  fail,
  ok,
  FtfsError,
  MetricsRegistry,
} from "../core/index.ts";
import { createMemoryLogger } from "./logger.ts";
import { RpcClient, RpcPool } from "./rpc-client.ts";
import { RpcServer } from "./rpc-server.ts";

const servers: RpcServer[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.stop();
});

function startEchoServer(metrics?: MetricsRegistry): RpcServer {
  const server = RpcServer.start({
    listen: "127.0.0.1:0",
    logger: createMemoryLogger(),
    ...(metrics === undefined ? {} : { metrics }),
    handlers: {
      getChunk: async (body) => {
        if (body.chunkId.startsWith("0"))
          return fail("CHUNK_NOT_FOUND", `no chunk ${body.chunkId}`);
        const payload = new Uint8Array(1024 * 1024).fill(7);
        return ok({ body: { chunkId: body.chunkId, bytes: payload.length }, payload });
      },
      putChunk: async (body, context) =>
        ok({ body: { chunkId: body.chunkId, bytes: context.payload.length, replicas: 1 } }),
      hasChunks: async () => {
        throw new Error("boom");
      },
    },
  });
  servers.push(server);
  return server;
}

const idA = "a".repeat(64);
const id0 = "0".repeat(64);

/**
 * Write raw bytes to a server and return what it sent back as text: everything until it closes
 * the connection, or (until "answer") the first bytes it sends.
 */
async function rawExchange(
  port: number,
  bytes: Uint8Array,
  until: "close" | "answer",
): Promise<string> {
  const received: Uint8Array[] = [];
  const done = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_socket, chunk) => {
        received.push(chunk);
        if (until === "answer") done.resolve();
      },
      close: () => done.resolve(),
    },
  });
  socket.write(bytes);
  await done.promise;
  socket.end();
  return new TextDecoder().decode(Buffer.concat(received));
}

describe("rpc over loopback", () => {
  test("many concurrent calls on one connection each get their own answer", async () => {
    const server = startEchoServer();
    const client = await RpcClient.connect(`127.0.0.1:${server.port}`);
    const sizes = [1, 10, 1000, 100_000, 2_000_000];
    const answers = await Promise.all(
      sizes.map((size) =>
        client.call(
          "putChunk",
          { chunkId: idA, owner: { uid: "u", name: "n", uploadId: "x" } },
          { payload: new Uint8Array(size) },
        ),
      ),
    );
    expect(answers.map((answer) => answer.body.bytes)).toEqual(sizes);
    client.close();
  });

  test("two connections to one server each get their own answers", async () => {
    const server = startEchoServer();
    const clients = await Promise.all(
      [1, 2, 3].map(() => RpcClient.connect(`127.0.0.1:${server.port}`)),
    );
    const owner = { uid: "u", name: "n", uploadId: "x" };
    const answers = await Promise.all(
      clients.map((client, index) =>
        client.call("putChunk", { chunkId: idA, owner }, { payload: new Uint8Array(index + 1) }),
      ),
    );
    expect(answers.map((answer) => answer.body.bytes)).toEqual([1, 2, 3]);
    for (const client of clients) client.close();
  });

  test("a handler's error value reaches the caller as a typed FtfsError, and the connection lives", async () => {
    const server = startEchoServer();
    const client = await RpcClient.connect(`127.0.0.1:${server.port}`);
    const error = await client
      .call("getChunk", { chunkId: id0 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FtfsError);
    expect((error as FtfsError).code).toBe("CHUNK_NOT_FOUND");
    const answer = await client.call("getChunk", { chunkId: idA });
    expect(answer.payload.length).toBe(1024 * 1024);
    expect(answer.payload[1234]).toBe(7);
    client.close();
  });

  test("a thrown handler bug answers INTERNAL, not a crash", async () => {
    const server = startEchoServer();
    const client = await RpcClient.connect(`127.0.0.1:${server.port}`);
    const error = await client
      .call("hasChunks", { chunkIds: [] })
      .catch((caught: unknown) => caught);
    expect((error as FtfsError).code).toBe("INTERNAL");
    expect((await client.call("getChunk", { chunkId: idA })).body.chunkId).toBe(idA);
    client.close();
  });

  test("an op the server does not serve answers UNKNOWN_OP", async () => {
    const server = startEchoServer();
    const client = await RpcClient.connect(`127.0.0.1:${server.port}`);
    const error = await client.call("listFiles", { uid: "u" }).catch((caught: unknown) => caught);
    expect((error as FtfsError).code).toBe("UNKNOWN_OP");
    client.close();
  });

  test("garbage bytes get one BAD_FRAME-class error and a closed connection; others keep working", async () => {
    const server = startEchoServer();
    const garbage = new Uint8Array([0, 0, 0, 40, ...new Array<number>(40).fill(9)]);
    expect(await rawExchange(server.port, garbage, "close")).toContain("UNSUPPORTED_VERSION");
    const client = await RpcClient.connect(`127.0.0.1:${server.port}`);
    expect((await client.call("getChunk", { chunkId: idA })).body.bytes).toBe(1024 * 1024);
    client.close();
  });

  test("an oversize frame length is refused before any allocation", async () => {
    const metrics = new MetricsRegistry();
    const server = startEchoServer(metrics);
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, FRAME_BYTES_MAX + 1);
    expect(await rawExchange(server.port, prefix, "close")).toContain("FRAME_TOO_LARGE");
    expect(server.stats.badFrames).toBe(1);
    expect(metrics.render()).toContain('\nftfs_rpc_refused_total{reason="bad_frame"} 1\n');
  });

  test("a request whose body breaks its schema answers BAD_REQUEST naming the field", async () => {
    const server = startEchoServer();
    const frame = encodeFrameBytes(FRAME_KIND.request, 5, {
      op: "getChunk",
      epoch: 0,
      body: { chunkId: 42 },
    });
    const text = await rawExchange(server.port, frame, "answer");
    expect(text).toContain("BAD_REQUEST");
    expect(text).toContain("chunkId");
  });

  test("a connect to a closed port fails with CONNECT_FAILED", async () => {
    const server = startEchoServer();
    const port = server.port;
    server.stop();
    servers.length = 0;
    const error = await RpcClient.connect(`127.0.0.1:${port}`).catch((caught: unknown) => caught);
    expect((error as FtfsError).code).toBe("CONNECT_FAILED");
  });
});

describe("a pool", () => {
  test("drops a connection whose call failed for the connection, and only then", async () => {
    const slowId = "5".repeat(64);
    const server = RpcServer.start({
      listen: "127.0.0.1:0",
      logger: createMemoryLogger(),
      handlers: {
        getChunk: async (body) => {
          if (body.chunkId === slowId) await Bun.sleep(1_000);
          return fail("CHUNK_NOT_FOUND", `no chunk ${body.chunkId}`);
        },
      },
    });
    servers.push(server);
    const pool = new RpcPool();
    const address = `127.0.0.1:${server.port}`;
    try {
      const first = await pool.get(address);
      const refused = await pool.call(address, "getChunk", { chunkId: idA }).catch((e) => e);
      expect((refused as FtfsError).code).toBe("CHUNK_NOT_FOUND");
      expect(await pool.get(address)).toBe(first);
      const options = { timeoutMs: 50 };
      const silent = await pool
        .call(address, "getChunk", { chunkId: slowId }, options)
        .catch((e) => e);
      expect((silent as FtfsError).code).toBe("TIMEOUT");
      expect(first.closed).toBe(true);
      const second = await pool.get(address);
      expect(second).not.toBe(first);
      const again = await pool.call(address, "getChunk", { chunkId: idA }).catch((e) => e);
      expect((again as FtfsError).code).toBe("CHUNK_NOT_FOUND");
    } finally {
      pool.close();
    }
  });

  test("closed while a connection is still being made, it keeps no connection open", async () => {
    const server = startEchoServer();
    const pool = new RpcPool();
    const getting = pool.get(`127.0.0.1:${server.port}`).catch((error: unknown) => error);
    pool.close();
    expect(((await getting) as FtfsError).code).toBe("CONNECTION_CLOSED");
    const startedMs = performance.now();
    while (server.connectionCount > 0 && performance.now() - startedMs < 2_000) await Bun.sleep(10);
    expect(server.connectionCount).toBe(0);
  });
});

describe("a peer that stops reading", () => {
  test("a call's deadline reaches the caller while its large payload is still unsent", async () => {
    // Answers the handshake, then never reads: the payload fills the socket buffers and the
    // write waits.
    const decoder = new FrameDecoder();
    const silent = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data: (socket, bytes) => {
          for (const frame of decoder.push(bytes).frames) {
            const body = { serverNonce: Buffer.alloc(32).toString("base64"), mac: false };
            socket.write(encodeFrameBytes(FRAME_KIND.response, frame.requestId, { body }));
            socket.pause();
          }
        },
      },
    });
    try {
      const client = await RpcClient.connect(`127.0.0.1:${silent.port}`);
      const payload = new Uint8Array(16 * 1024 * 1024);
      const startedAt = Date.now();
      const outcome = await client
        .call(
          "putChunk",
          { chunkId: idA, owner: { uid: "u", name: "n", uploadId: "x" } },
          {
            payload,
            timeoutMs: 200,
          },
        )
        .then(
          () => null,
          (error: unknown) => error,
        );
      expect(outcome).toBeInstanceOf(FtfsError);
      expect((outcome as FtfsError).code).toBe("TIMEOUT");
      expect(Date.now() - startedAt).toBeLessThan(5_000);
      client.close();
    } finally {
      silent.stop(true);
    }
  });
});
