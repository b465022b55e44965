/**
 * Cluster key rotation without downtime, on real processes: a cluster on key A has every node
 * restarted one at a time with "A,B", then "B,A", then "B" (Serf's procedure: add, promote,
 * drop). Uploads and verified reads run the whole time and every one succeeds (the client
 * retries across a restarting node as it does across any failover); at the end the nodes no
 * longer accept key A. An S3 access key made under A is resealed under B by the primary once
 * B signs, and still opens, with the same secret, once A is gone.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { CONNECT_TIMEOUT_MS_DEFAULT, type FtfsError } from "@ftfs/protocol/core";
import {
  generateClusterKey,
  Keyring,
  openAccessKeySecret,
  RpcClient,
  RpcPool,
  type ConnectOptions,
} from "@ftfs/protocol/io";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import { FtfsClient } from "@ftfs/client";
import { E2E_CHUNK_BYTES, randomBytes, sha256 } from "./helpers.ts";

/** Three steps of six restarts each, every one waiting for the cluster to be whole again. */
const ROTATION_TEST_TIMEOUT_MS = 180_000;
setDefaultTimeout(ROTATION_TEST_TIMEOUT_MS);

const UID = "rotor";
/** The primary reseals as it starts and every ACCESS_KEY_RESEAL_INTERVAL_MS: 10 s, and slack. */
const RESEAL_WAIT_MS = 25_000;

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startCluster({
    secure: true,
    directories: 3,
    groups: [{ name: "s1", size: 3 }],
    chunkBytes: E2E_CHUNK_BYTES,
  });
  await cluster.addUser(UID);
});

afterAll(async () => {
  await cluster?.stop();
});

/** A client acting as a node with `keys`: it may do what a user may, without a login. */
function clientWith(keys: string): { client: FtfsClient; pool: RpcPool } {
  const options: ConnectOptions = {
    credentials: { kind: "node", node: "rotation-test", keyring: Keyring.parse(keys) },
  };
  const pool = new RpcPool(CONNECT_TIMEOUT_MS_DEFAULT, options);
  return { client: new FtfsClient({ directories: cluster.directoryAddresses, pool }), pool };
}

test("rotating the cluster key node by node (A; A,B; B,A; B) keeps uploads and reads going", async () => {
  const keyA = cluster.clusterKey ?? "";
  const keyB = generateClusterKey();
  let keys = keyA;
  let stop = false;
  let rounds = 0;
  const failures: string[] = [];
  // One round: upload a fresh file, read it back, compare. Keys follow the rotation.
  const traffic = (async () => {
    while (!stop) {
      const { client, pool } = clientWith(keys);
      try {
        const bytes = randomBytes(2 * E2E_CHUNK_BYTES + rounds);
        const name = `f${rounds}`;
        await client.uploadBytes(UID, name, bytes);
        const back = await client.readBytes(UID, name);
        if (sha256(back) !== sha256(bytes)) failures.push(`${name}: read back other bytes`);
        rounds += 1;
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      } finally {
        client.close();
        pool.close();
      }
    }
  })();
  const accessKey = await withClient(keyA, (client) => client.keyCreate(UID));
  const keyIdB = Keyring.parse(keyB).keyIds[0];
  const steps = [`${keyA},${keyB}`, `${keyB},${keyA}`, keyB];
  for (const [index, step] of steps.entries()) {
    // The last step drops A: clients sign with B from then on (every node has held B since step 1).
    if (index === steps.length - 1) {
      keys = `${keyB},${keyA}`;
      // SECURITY.md's rotation: before dropping A, every access key is sealed under B.
      await waitResealed(accessKey.accessKeyId, keys, keyIdB ?? "");
    }
    for (const node of cluster.nodes) {
      await cluster.writeNodeKeys(node.id, step);
      await node.restart();
      await waitWhole(keys);
    }
  }
  const roundsBefore = rounds;
  while (rounds < roundsBefore + 2) await Bun.sleep(50);
  stop = true;
  await traffic;
  expect(failures).toEqual([]);
  expect(rounds).toBeGreaterThan(steps.length);
  // Key A is gone everywhere: a node still signing with it is refused.
  const refused = await RpcClient.connect(cluster.directoryAddresses[0] ?? "", 2_000, {
    credentials: { kind: "node", node: "old", keyring: Keyring.parse(keyA) },
  }).catch((error: unknown) => error);
  expect((refused as FtfsError).code).toBe("AUTH_FAILED");
  // The access key made under A opens under B alone, with the secret shown at its creation.
  const resolved = await withClient(keyB, (client) =>
    client.resolveAccessKey(accessKey.accessKeyId),
  );
  expect(resolved.uid).toBe(UID);
  expect(openAccessKeySecret(Keyring.parse(keyB), accessKey.accessKeyId, resolved.sealed)).toBe(
    accessKey.secret,
  );
});

async function withClient<T>(keys: string, work: (client: FtfsClient) => Promise<T>): Promise<T> {
  const { client, pool } = clientWith(keys);
  try {
    return await work(client);
  } finally {
    client.close();
    pool.close();
  }
}

/** Until the directory reports `accessKeyId` sealed under the cluster key `keyId`. */
async function waitResealed(accessKeyId: string, keys: string, keyId: string): Promise<void> {
  const deadline = Date.now() + RESEAL_WAIT_MS;
  for (;;) {
    const sealed = await withClient(keys, (client) => client.resolveAccessKey(accessKeyId));
    if (sealed.sealed.keyId === keyId) return;
    if (Date.now() > deadline)
      throw new Error(`access key still sealed under ${sealed.sealed.keyId}`);
    await Bun.sleep(200);
  }
}

/** Until a directory primary reports all three storage nodes in sync, asked with `keys`. */
async function waitWhole(keys: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  const options: ConnectOptions = {
    credentials: { kind: "node", node: "probe", keyring: Keyring.parse(keys) },
  };
  while (Date.now() < deadline) {
    for (const address of cluster.directoryAddresses) {
      const client = await RpcClient.connect(address, 500, options).catch(() => null);
      if (client === null) continue;
      try {
        const status = (await client.call("clusterStatus", {}, { timeoutMs: 1_000 })).body;
        const primary = status.members.some(
          (member) => member.node === status.node && member.primary,
        );
        const s1 = status.groups.find((group) => group.group === "s1");
        const directoriesAlive = status.members.filter(
          (m) => m.role === "directory" && m.state === "alive",
        );
        if (primary && s1?.replicas.length === 3 && directoriesAlive.length === 3) return;
      } catch (error) {
        void error; // not ready yet: ask again
      } finally {
        client.close();
      }
    }
    await Bun.sleep(100);
  }
  throw new Error("the cluster did not become whole again after a restart");
}
