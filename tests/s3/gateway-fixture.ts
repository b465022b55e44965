/**
 * One secure cluster and one S3 gateway per test file, with a user alice who has an access
 * key: what every gateway test starts from. Also the cluster seen as a node (withAdmin), to
 * check what clients stored without going through the gateway.
 */
import { afterAll, beforeAll } from "bun:test";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FtfsClient } from "@ftfs/client";
import { Keyring } from "@ftfs/protocol/io";
import { freePort, startS3Gateway } from "@ftfs/protocol/testing";
import { useCluster, type ClusterFixture } from "../e2e/helpers.ts";

export interface GatewayFixture {
  readonly fx: ClusterFixture;
  /** The gateway's http:// address. */
  endpoint(): string;
  accessKey(): { readonly accessKeyId: string; readonly secret: string };
  /** alice's own secret, for `ftfs`. */
  aliceSecret(): string;
  withAdmin<T>(use: (admin: FtfsClient) => Promise<T>): Promise<T>;
  /** The gateway's process (a fault test kills it). */
  gateway(): Bun.Subprocess;
}

export function useGateway(options: { readonly chunkBytes?: number } = {}): GatewayFixture {
  const fx = useCluster({
    directories: 1,
    groups: [{ name: "s1", size: 2 }],
    chunkBytes: options.chunkBytes ?? 1024 * 1024,
    secure: true,
  });
  let gateway: Bun.Subprocess | null = null;
  let endpoint = "";
  let accessKey = { accessKeyId: "", secret: "" };
  let aliceSecret = "";

  const withAdmin = async <T>(use: (admin: FtfsClient) => Promise<T>): Promise<T> => {
    const admin = new FtfsClient({
      directories: fx.cluster.directoryAddresses,
      credentials: {
        kind: "node",
        node: "s3-test",
        keyring: Keyring.parse(fx.cluster.clusterKey ?? ""),
      },
    });
    try {
      return await use(admin);
    } finally {
      admin.close();
    }
  };

  beforeAll(async () => {
    const folder = await mkdtemp(join(tmpdir(), "ftfs-s3-"));
    const keyFile = join(folder, "cluster.key");
    await writeFile(keyFile, fx.cluster.clusterKey ?? "", { mode: 0o600 });
    aliceSecret = (await fx.cluster.addUser("alice")).secret;
    accessKey = await withAdmin((admin) => admin.keyCreate("alice"));
    const started = await startS3Gateway({
      listen: `127.0.0.1:${await freePort()}`,
      cluster: fx.cluster.directoryAddresses,
      clusterKeyFile: keyFile,
    });
    endpoint = started.endpoint;
    gateway = started.process;
  });

  afterAll(async () => {
    gateway?.kill("SIGTERM");
    await gateway?.exited;
  });

  return {
    fx,
    endpoint: () => endpoint,
    accessKey: () => accessKey,
    aliceSecret: () => aliceSecret,
    withAdmin,
    gateway: () => {
      if (gateway === null) throw new Error("the gateway has not started");
      return gateway;
    },
  };
}
