/**
 * Channel authentication and connection bounds over real loopback sockets: tags bind each
 * frame to its connection, direction and place in the stream; a keyring rotation done one node
 * at a time never breaks a link; a node past its connection limits refuses with
 * CONNECTION_LIMIT; a peer that trickles a frame, or idles as a client, is closed. Each
 * refusal is counted in /metrics under its reason.
 */
import { afterEach, describe, expect, test } from "bun:test";
import {
  type FtfsError,
  ok,
  encodeFrame,
  FRAME_KIND,
  type Frame,
  MetricsRegistry,
} from "../../core/index.ts";
import { ChannelMac, connectionKey, HASH_CHECKED_FIELD, type HelloClaim } from "./channel-auth.ts";
import { generateClusterKey } from "./cluster-key-flags.ts";
import { slowConnectionReason, CONNECTION_LIMITS_DEFAULT } from "../connection-guard.ts";
import { Keyring } from "./keyring.ts";
import { createMemoryLogger } from "../logger.ts";
import { RpcClient, type ConnectOptions } from "../rpc-client.ts";
import { type RefusalReason, RpcServer, type RpcServerOptions } from "../rpc-server.ts";

const servers: RpcServer[] = [];
const clients: RpcClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) server.stop();
});

/** The registry of each server serve() started, for its refusal counts. */
const registries = new WeakMap<RpcServer, MetricsRegistry>();

function serve(options: Partial<RpcServerOptions> = {}): RpcServer {
  const metrics = new MetricsRegistry();
  const server = RpcServer.start({
    listen: "127.0.0.1:0",
    logger: createMemoryLogger("s"),
    handlers: { hasChunks: async (body) => ok({ body: { present: body.chunkIds } }) },
    metrics,
    ...options,
  });
  registries.set(server, metrics);
  servers.push(server);
  return server;
}

/** ftfs_rpc_refused_total for one reason, as the server's /metrics shows it. */
function refused(server: RpcServer, reason: RefusalReason): number {
  const series = `ftfs_rpc_refused_total{reason="${reason}"} `;
  const text = registries.get(server)?.render() ?? "";
  const line = text.split("\n").find((candidate) => candidate.startsWith(series));
  return Number(line?.slice(series.length) ?? Number.NaN);
}

async function connect(server: RpcServer, options: ConnectOptions = {}): Promise<RpcClient> {
  const client = await RpcClient.connect(`127.0.0.1:${server.port}`, 2_000, options);
  clients.push(client);
  return client;
}

function asNode(node: string, keys: string): ConnectOptions {
  return { credentials: { kind: "node", node, keyring: Keyring.parse(keys) } };
}

async function works(client: RpcClient): Promise<boolean> {
  const answer = await client.call("hasChunks", { chunkIds: [] }, { timeoutMs: 2_000 });
  return answer.body.present.length === 0;
}

function frameOf(head: Uint8Array, payload: Uint8Array, tag: Uint8Array, header: unknown): Frame {
  return { kind: FRAME_KIND.request, requestId: 1, header, payload, head, tag };
}

describe("frame tags", () => {
  const claim: HelloClaim = { kind: "node", node: "a" };
  const key = connectionKey(
    new Uint8Array(32).fill(1),
    `${"A".repeat(43)}=`,
    `${"B".repeat(43)}=`,
    claim,
  );

  test("a frame verifies once, in order, in its own direction, unaltered", () => {
    const sender = new ChannelMac(key, "client");
    const header = { op: "hasChunks", epoch: 0, body: { chunkIds: [] } };
    const frames = [1, 2].map((requestId) => {
      const [head, payload] = encodeFrame(FRAME_KIND.request, requestId, header);
      return frameOf(head, payload, sender.seal(head, payload, true), header);
    });
    const [first, second] = frames as [Frame, Frame];
    expect(new ChannelMac(key, "server").verify(first)).toBe(true);
    // Reordered: the second frame in the first place fails.
    expect(new ChannelMac(key, "server").verify(second)).toBe(false);
    // Replayed: the same frame twice fails the second time.
    const receiver = new ChannelMac(key, "server");
    expect([receiver.verify(first), receiver.verify(first)]).toEqual([true, false]);
    // Reflected: a client's frame does not pass as the server's.
    expect(new ChannelMac(key, "client").verify(first)).toBe(false);
    // Altered: one bit of the head.
    const altered = Uint8Array.from(first.head);
    altered[altered.length - 2] = (altered[altered.length - 2] ?? 0) ^ 1;
    expect(new ChannelMac(key, "server").verify({ ...first, head: altered })).toBe(false);
    // Another connection's key.
    const other = connectionKey(
      new Uint8Array(32).fill(1),
      `${"C".repeat(43)}=`,
      `${"B".repeat(43)}=`,
      claim,
    );
    expect(new ChannelMac(other, "server").verify(first)).toBe(false);
  });

  test("a hash-checked payload is outside the tag; its header, length included, is not", () => {
    const sender = new ChannelMac(key, "client");
    const header = { op: "putChunk", epoch: 0, body: {}, [HASH_CHECKED_FIELD]: true };
    const payload = new Uint8Array(1000).fill(7);
    const [head] = encodeFrame(FRAME_KIND.request, 1, header, payload);
    const tag = sender.seal(head, payload, false);
    const swapped = new Uint8Array(1000).fill(8);
    expect(new ChannelMac(key, "server").verify(frameOf(head, swapped, tag, header))).toBe(true);
    // Without the field in the (tagged) header the payload is covered: a swap fails.
    const plainHeader = { op: "putChunk", epoch: 0, body: {} };
    const [plainHead] = encodeFrame(FRAME_KIND.request, 1, plainHeader, payload);
    const plainTag = new ChannelMac(key, "client").seal(plainHead, payload, true);
    expect(
      new ChannelMac(key, "server").verify(frameOf(plainHead, swapped, plainTag, plainHeader)),
    ).toBe(false);
  });
});

describe("the hello handshake", () => {
  test("a node with the key gets in; a wrong key, or none, is refused AUTH_FAILED", async () => {
    const key = generateClusterKey();
    const server = serve({ keyring: Keyring.parse(key) });
    expect(await works(await connect(server, asNode("a", key)))).toBe(true);
    for (const options of [
      asNode("b", generateClusterKey()),
      { credentials: { kind: "node", node: "c", keyring: Keyring.open() } } as const,
    ]) {
      const error = await RpcClient.connect(`127.0.0.1:${server.port}`, 2_000, options).catch(
        (caught: unknown) => caught,
      );
      expect((error as FtfsError).code).toBe("AUTH_FAILED");
    }
    expect(server.stats.authFailures).toBe(2);
    expect(refused(server, "auth_failed")).toBe(2);
    expect(refused(server, "forbidden")).toBe(0);
  });

  test("a keyed client refuses a server without a key: it could be anyone", async () => {
    const server = serve({});
    const error = await RpcClient.connect(
      `127.0.0.1:${server.port}`,
      2_000,
      asNode("a", generateClusterKey()),
    ).catch((caught: unknown) => caught);
    expect((error as FtfsError).code).toBe("AUTH_FAILED");
  });

  test("anonymous callers reach only 'anyone' ops on a keyed node (FORBIDDEN), any op without a key", async () => {
    const secure = serve({ keyring: Keyring.parse(generateClusterKey()) });
    const denied = await (await connect(secure))
      .call("hasChunks", { chunkIds: [] })
      .catch((caught: unknown) => caught);
    expect((denied as FtfsError).code).toBe("FORBIDDEN");
    expect(refused(secure, "forbidden")).toBe(1);
    expect(await works(await connect(serve({})))).toBe(true);
  });

  test("a key rotation done one node at a time (A; A,B; B,A; B) never breaks a link", async () => {
    const [keyA, keyB] = [generateClusterKey(), generateClusterKey()];
    const steps = [`${keyA},${keyB}`, `${keyB},${keyA}`, keyB];
    const nodes = ["n1", "n2", "n3"];
    const keysOf = new Map(nodes.map((node) => [node, keyA]));
    const serverOf = new Map(nodes.map((node) => [node, serve({ keyring: Keyring.parse(keyA) })]));
    const everyLinkWorks = async (): Promise<void> => {
      for (const from of nodes) {
        for (const to of nodes) {
          const server = serverOf.get(to);
          if (server === undefined || from === to) continue;
          expect(await works(await connect(server, asNode(from, keysOf.get(from) ?? "")))).toBe(
            true,
          );
        }
      }
    };
    for (const keys of steps) {
      for (const node of nodes) {
        // "Restart" the node with its new keys: a new server and new outgoing credentials.
        serverOf.get(node)?.stop();
        serverOf.set(node, serve({ keyring: Keyring.parse(keys) }));
        keysOf.set(node, keys);
        await everyLinkWorks();
      }
    }
  });
});

describe("connection bounds", () => {
  test("past --connections-max, and per address, a connection is refused with CONNECTION_LIMIT", async () => {
    const cases = [
      { limits: { connectionsMax: 2 }, reason: "connections_max" },
      { limits: { connectionsPerAddressMax: 2 }, reason: "connections_per_address_max" },
    ] as const;
    for (const { limits, reason } of cases) {
      const server = serve({ limits });
      await connect(server);
      await connect(server);
      const error = await RpcClient.connect(`127.0.0.1:${server.port}`, 2_000).catch(
        (caught: unknown) => caught,
      );
      expect((error as FtfsError).code).toBe("CONNECTION_LIMIT");
      expect((error as FtfsError).message).toMatch(/--connections-(per-address-)?max/);
      expect(server.stats.refusedConnections).toBe(1);
      expect(refused(server, reason)).toBe(1);
    }
  });

  test("a peer trickling a frame is closed after the grace; a steady one is not", async () => {
    const server = serve({ limits: { frameProgressGraceMs: 300, frameBytesPerSecondMin: 1_000 } });
    const steady = await connect(server);
    let closed = false;
    const trickler = await Bun.connect({
      hostname: "127.0.0.1",
      port: server.port,
      socket: {
        data: () => undefined,
        close: () => {
          closed = true;
        },
      },
    });
    const [head] = encodeFrame(FRAME_KIND.request, 1, { op: "hello", epoch: 0, body: {} });
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < head.length) trickler.write(head.subarray(sent, sent + 1));
      sent += 1;
    }, 50);
    try {
      const startedMs = performance.now();
      while (!closed && performance.now() - startedMs < 3_000) await Bun.sleep(25);
      expect(closed).toBe(true);
      expect(server.stats.closedConnections).toBe(1);
      expect([refused(server, "slow_frame"), refused(server, "idle")]).toEqual([1, 0]);
      expect(await works(steady)).toBe(true);
    } finally {
      clearInterval(timer);
      trickler.end();
    }
  });

  test("a client idle past --idle-timeout is closed; a node is not", async () => {
    const key = generateClusterKey();
    const server = serve({ keyring: Keyring.parse(key), limits: { idleTimeoutMs: 300 } });
    const client = await connect(server);
    const node = await connect(server, asNode("n1", key));
    const startedMs = performance.now();
    while (!client.closed && performance.now() - startedMs < 3_000) await Bun.sleep(25);
    expect(client.closed).toBe(true);
    expect(await works(node)).toBe(true);
    expect(refused(server, "idle")).toBe(1);
  });

  test("the rules: handshake deadline, slow frame, idleness", () => {
    const limits = {
      ...CONNECTION_LIMITS_DEFAULT,
      handshakeTimeoutMs: 100,
      frameProgressGraceMs: 100,
      idleTimeoutMs: 100,
    };
    const base = {
      openedMs: 0,
      handshaken: true,
      idleCounts: true,
      requestsInFlight: 0,
      lastActivityMs: 0,
      progress: null,
    };
    expect(slowConnectionReason({ ...base, handshaken: false }, 101, limits)).toMatchObject({
      kind: "handshake_timeout",
      message: expect.stringMatching(/hello/),
    });
    expect(slowConnectionReason({ ...base, handshaken: false }, 99, limits)).toBeNull();
    const slow = { startedMs: 0, bytes: 10 };
    expect(
      slowConnectionReason({ ...base, progress: slow, lastActivityMs: 200 }, 200, limits),
    ).toMatchObject({ kind: "slow_frame", message: expect.stringMatching(/B\/s/) });
    const fast = { startedMs: 0, bytes: 1_000_000 };
    expect(
      slowConnectionReason({ ...base, progress: fast, lastActivityMs: 200 }, 200, limits),
    ).toBeNull();
    expect(slowConnectionReason(base, 101, limits)).toMatchObject({
      kind: "idle",
      message: expect.stringMatching(/idle/),
    });
    expect(slowConnectionReason({ ...base, requestsInFlight: 1 }, 101, limits)).toBeNull();
    expect(slowConnectionReason({ ...base, idleCounts: false }, 101, limits)).toBeNull();
  });
});
