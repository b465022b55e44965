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
  /** The AWS CLI's environment: alice's key, no config files of the machine's, home `home`. */
  awsCliEnv(home: string): Record<string, string>;
  /** Where the gateway serves /metrics, /healthz and /readyz (host:port). */
  httpAddress(): string;
  /** The gateway's process (a fault test kills it). */
  gateway(): Bun.Subprocess;
  /** SIGKILL the gateway. */
  killGateway(): Promise<void>;
  /** A new gateway at the same address (after the old one was killed). */
  startGateway(): Promise<void>;
}

export interface GatewayClusterShape {
  readonly directories?: number;
  readonly groupSize?: number;
  readonly chunkBytes?: number;
}

export function useGateway(shape: GatewayClusterShape = {}): GatewayFixture {
  const fx = useCluster({
    directories: shape.directories ?? 1,
    groups: [{ name: "s1", size: shape.groupSize ?? 2 }],
    chunkBytes: shape.chunkBytes ?? 1024 * 1024,
    secure: true,
  });
  let gateway: Bun.Subprocess | null = null;
  let endpoint = "";
  let listen = "";
  let httpListen = "";
  let keyFile = "";
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
    keyFile = join(folder, "cluster.key");
    await writeFile(keyFile, fx.cluster.clusterKey ?? "", { mode: 0o600 });
    aliceSecret = (await fx.cluster.addUser("alice")).secret;
    accessKey = await withAdmin((admin) => admin.keyCreate("alice"));
    listen = `127.0.0.1:${await freePort()}`;
    httpListen = `127.0.0.1:${await freePort()}`;
    await startGateway();
  });

  const startGateway = async (): Promise<void> => {
    const started = await startS3Gateway({
      listen,
      cluster: fx.cluster.directoryAddresses,
      clusterKeyFile: keyFile,
      httpListen,
    });
    endpoint = started.endpoint;
    gateway = started.process;
  };

  afterAll(async () => {
    gateway?.kill("SIGTERM");
    await gateway?.exited;
  });

  return {
    fx,
    endpoint: () => endpoint,
    httpAddress: () => httpListen,
    accessKey: () => accessKey,
    aliceSecret: () => aliceSecret,
    withAdmin,
    awsCliEnv: (home) => ({
      PATH: process.env.PATH ?? "",
      HOME: home,
      AWS_ACCESS_KEY_ID: accessKey.accessKeyId,
      AWS_SECRET_ACCESS_KEY: accessKey.secret,
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_CONFIG_FILE: join(home, "no-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(home, "no-credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
    }),
    gateway: () => {
      if (gateway === null) throw new Error("the gateway has not started");
      return gateway;
    },
    killGateway: async () => {
      gateway?.kill("SIGKILL");
      await gateway?.exited;
    },
    startGateway,
  };
}
