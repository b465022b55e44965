/**
 * Every FtfsClient and every raw connection pool the chaos harness makes comes from here. On a
 * secure cluster (the default) the workload's users are added with the cluster key, as an
 * administrator would, and every client logs in as its user (SCRAM) before it acts; the
 * harness's own calls to nodes prove the cluster key, as an operator's tool would.
 */

import { RpcPool } from "@ftfs/protocol/io";
import type { LocalCluster } from "@ftfs/protocol/testing";
import { FtfsClient } from "@ftfs/client";

const CLIENT_CONNECT_TIMEOUT_MS = 2_000;
/** The node name the harness's own connections claim on a secure cluster. */
const HARNESS_NODE = "chaos";

export interface ChaosClient {
  readonly client: FtfsClient;
  close(): void;
}

/**
 * The workload's users: each added once per cluster (a cluster with a key has no users until an
 * administrator adds them), each client its own login. On an insecure cluster a client just
 * connects, as before security existed.
 */
export class ChaosUsers {
  private readonly cluster: LocalCluster;
  private readonly secrets = new Map<string, Promise<string>>();

  constructor(cluster: LocalCluster) {
    this.cluster = cluster;
  }

  /** A client with its own connections, logged in as `uid`, as one application process would be. */
  async client(uid: string): Promise<ChaosClient> {
    const directories = this.cluster.directoryAddresses;
    if (this.cluster.clusterKey === null)
      return owned(new FtfsClient({ directories, connectTimeoutMs: CLIENT_CONNECT_TIMEOUT_MS }));
    const secret = await this.secretOf(uid);
    const anonymous = new FtfsClient({ directories, connectTimeoutMs: CLIENT_CONNECT_TIMEOUT_MS });
    try {
      const challenge = await anonymous.loginStart(uid);
      if (challenge === null)
        throw new Error(`the cluster has a key but its directory serves no logins (user ${uid})`);
      const session = await anonymous.loginFinish(challenge, secret);
      const credentials = {
        kind: "user",
        token: session.token,
        sessionKey: session.sessionKey,
      } as const;
      return owned(
        new FtfsClient({ directories, connectTimeoutMs: CLIENT_CONNECT_TIMEOUT_MS, credentials }),
      );
    } finally {
      anonymous.close();
    }
  }

  /** The user's secret (the user added on first use), for the CLI's FTFS_SECRET; null: insecure. */
  async secret(uid: string): Promise<string | null> {
    return this.cluster.clusterKey === null ? null : this.secretOf(uid);
  }

  private secretOf(uid: string): Promise<string> {
    let secret = this.secrets.get(uid);
    if (secret === undefined) {
      secret = this.cluster.addUser(uid).then((added) => added.secret);
      this.secrets.set(uid, secret);
    }
    return secret;
  }
}

function owned(client: FtfsClient): ChaosClient {
  return { client, close: () => client.close() };
}

/**
 * A pool for the harness's own calls to nodes (clusterStatus, stale listings, manifests,
 * hasChunks), which a secure cluster takes only from a holder of the cluster key.
 */
export function chaosNodePool(cluster: LocalCluster, connectTimeoutMs: number): RpcPool {
  return new RpcPool(connectTimeoutMs, cluster.nodeConnectOptions(HARNESS_NODE));
}
