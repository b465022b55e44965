/**
 * Node-to-node authentication on real processes (a cluster started with a random cluster key):
 * a process without the key cannot register as storage, push a chunk or speak Raft; a frame
 * captured from an authenticated connection is refused when replayed, on a new connection or
 * on the same one; a connection that never finishes its handshake is closed while the node
 * keeps serving; a forged gossip datagram changes nothing. Each check leaves the cluster's
 * membership as it was.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { createSocket } from "node:dgram";
import { createHash } from "node:crypto";
import { FtfsError, parseAddress, swim } from "@ftfs/protocol/core";
import { generateClusterKey, Keyring, RpcClient, type ConnectOptions } from "@ftfs/protocol/io";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  pollUntil,
  randomBytes,
  sendRaw,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

/** Short, so the test of a silent connection is quick; the default is HANDSHAKE_TIMEOUT_MS. */
const HANDSHAKE_TIMEOUT_MS = 400;
const SILENT_CONNECTIONS = 20;
const CLOSE_DEADLINE_MS = 5_000;

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startCluster({
    secure: true,
    directories: 1,
    groups: [{ name: "s1", size: 2 }],
    chunkBytes: E2E_CHUNK_BYTES,
    nodeArgs: ["--handshake-timeout", `${HANDSHAKE_TIMEOUT_MS}ms`],
  });
});

afterAll(async () => {
  await cluster?.stop();
});

function directory(): string {
  return cluster.directoryAddresses[0] ?? "";
}

function strangerOptions(): ConnectOptions {
  return {
    credentials: { kind: "node", node: "intruder", keyring: Keyring.parse(generateClusterKey()) },
  };
}

async function failureOf(promise: Promise<unknown>): Promise<FtfsError> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(FtfsError);
  return outcome as FtfsError;
}

/** Members and s1's in-sync nodes, as the directory (asked by a keyed node) reports them. */
async function membership(): Promise<string> {
  const client = await RpcClient.connect(directory(), 2_000, cluster.nodeConnectOptions());
  try {
    const status = (await client.call("clusterStatus", {})).body;
    const members = status.members.map((member) => `${member.node}:${member.state}`).sort();
    const s1 = status.groups.find((group) => group.group === "s1");
    return JSON.stringify({ members, s1: s1?.replicas.map((replica) => replica.node).sort() });
  } finally {
    client.close();
  }
}

test("without the cluster key: no registration as storage, no chunk pushed, no Raft message", async () => {
  const before = await membership();
  const primary = cluster.node("s1a").address;
  for (const address of [directory(), primary]) {
    expect((await failureOf(RpcClient.connect(address, 2_000, strangerOptions()))).code).toBe(
      "AUTH_FAILED",
    );
    // Claiming to be a node with no key at all fails the same way.
    const keyless: ConnectOptions = {
      credentials: { kind: "node", node: "intruder", keyring: Keyring.open() },
    };
    expect((await failureOf(RpcClient.connect(address, 2_000, keyless))).code).toBe("AUTH_FAILED");
  }
  // Anonymous connections are let in, but only for logging in.
  const anonymous = await RpcClient.connect(directory(), 2_000);
  const registration = {
    node: "intruder",
    group: "s1",
    address: "127.0.0.1:9",
    capacityBytes: 1 << 30,
    usedBytes: 0,
  };
  expect((await failureOf(anonymous.call("registerStorage", registration))).code).toBe("FORBIDDEN");
  anonymous.close();
  const toStorage = await RpcClient.connect(primary, 2_000);
  const bytes = randomBytes(1024);
  const chunkId = createHash("sha256").update(bytes).digest("hex");
  const owner = { uid: "mallory", name: "x", uploadId: "u1" };
  const put = toStorage.call("putChunk", { chunkId, owner, forwarded: true }, { payload: bytes });
  expect((await failureOf(put)).code).toBe("FORBIDDEN");
  toStorage.close();
  const holder = await RpcClient.connect(
    cluster.node("s1b").address,
    2_000,
    cluster.nodeConnectOptions(),
  );
  expect((await holder.call("hasChunks", { chunkIds: [chunkId] })).body.present).toEqual([]);
  holder.close();
  expect(await membership()).toBe(before);
});

/** A TCP relay that records what the client sent, and can inject bytes towards the server. */
async function recordingRelay(target: string): Promise<{
  address: string;
  sent: Uint8Array[];
  inject: (bytes: Uint8Array) => void;
  stop: () => void;
}> {
  const parsed = parseAddress(target);
  if (!parsed.ok) throw parsed.error;
  const sent: Uint8Array[] = [];
  let upstream: Awaited<ReturnType<typeof Bun.connect>> | null = null;
  const listener = Bun.listen<{ pending: Uint8Array[] }>({
    hostname: "127.0.0.1",
    port: 0,
    data: { pending: [] },
    socket: {
      open: async (client) => {
        client.data = { pending: [] };
        upstream = await Bun.connect({
          hostname: parsed.value.host,
          port: parsed.value.port,
          socket: {
            data: (_server, bytes) => void client.write(bytes),
            close: () => void client.end(),
          },
        });
        for (const bytes of client.data.pending) upstream.write(bytes);
      },
      data: (client, bytes) => {
        const copy = new Uint8Array(bytes);
        sent.push(copy);
        if (upstream === null) client.data.pending.push(copy);
        else upstream.write(copy);
      },
      close: () => void upstream?.end(),
    },
  });
  return {
    address: `127.0.0.1:${listener.port}`,
    sent,
    inject: (bytes) => void upstream?.write(bytes),
    stop: () => listener.stop(true),
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

test("a captured request replayed on a new connection, or again on its own, is refused", async () => {
  const relay = await recordingRelay(directory());
  try {
    const client = await RpcClient.connect(relay.address, 2_000, cluster.nodeConnectOptions());
    await client.call("clusterStatus", {});
    const helloBytes = relay.sent.length;
    await client.call("clusterStatus", {});
    const captured = concat(relay.sent);
    const lastRequest = concat(relay.sent.slice(helloBytes));
    // On a new connection: its hello is answered (fresh nonces), then the tags fail.
    const replayed = await sendRaw(directory(), captured, { until: "close" });
    expect(replayed).toContain("AUTH_FAILED");
    expect(replayed).not.toContain('"members"');
    // On the same connection: the sequence number is already used.
    relay.inject(lastRequest);
    const afterReplay = await failureOf(
      pollUntil("the connection is closed", async () => (client.closed ? true : undefined)).then(
        () => client.call("clusterStatus", {}),
      ),
    );
    expect(["AUTH_FAILED", "CONNECTION_CLOSED"]).toContain(afterReplay.code);
    client.close();
  } finally {
    relay.stop();
  }
  // The node serves everyone else as before.
  expect(await membership()).toContain("s1a");
});

test("connections that never say hello are closed after --handshake-timeout; others are served", async () => {
  const target = parseAddress(cluster.node("s1a").address);
  if (!target.ok) throw target.error;
  let closed = 0;
  const sockets = await Promise.all(
    Array.from({ length: SILENT_CONNECTIONS }, () =>
      Bun.connect({
        hostname: target.value.host,
        port: target.value.port,
        socket: {
          data: () => undefined,
          close: () => {
            closed += 1;
          },
        },
      }),
    ),
  );
  // One trickles the first bytes of a frame and then stops: no hello either.
  sockets[0]?.write(new Uint8Array([0, 0, 0, 200, 2]));
  const keyed = await RpcClient.connect(
    cluster.node("s1a").address,
    2_000,
    cluster.nodeConnectOptions(),
  );
  expect((await keyed.call("hasChunks", { chunkIds: [] })).body.present).toEqual([]);
  const startedMs = performance.now();
  await pollUntil("every silent connection is closed", async () =>
    closed === SILENT_CONNECTIONS ? true : undefined,
  );
  expect(performance.now() - startedMs).toBeLessThan(CLOSE_DEADLINE_MS);
  // The keyed connection is a node's: it outlives the handshake deadline.
  expect((await keyed.call("hasChunks", { chunkIds: [] })).body.present).toEqual([]);
  keyed.close();
});

test("a gossip datagram without the key, claiming a storage node is dead, changes nothing", async () => {
  const before = await membership();
  const target = parseAddress(directory());
  if (!target.ok) throw target.error;
  const dead = swim.encodeDatagram([
    { type: "dead", id: swim.memberId("s1b"), incarnation: 1_000, from: swim.memberId("d1") },
  ]);
  const socket = createSocket("udp4");
  for (const datagram of [dead, Keyring.parse(generateClusterKey()).seal(dead)]) {
    await new Promise<void>((resolve, reject) =>
      socket.send(datagram, target.value.port, target.value.host, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }
  socket.close();
  await Bun.sleep(1_000);
  expect(await membership()).toBe(before);
  expect(before).toContain("s1b:alive");
});
