/**
 * A directory node running in this process on 127.0.0.1:0 with a controllable clock, a sqlite
 * store in a temporary folder, and fake storage nodes that record the notices they receive.
 * For the server and outbox tests; polling helpers wait with deadlines, never bare sleeps.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FtfsError, ok, type RequestBody } from "@ftfs/protocol/core";
import { createMemoryLogger, RpcClient, RpcServer } from "@ftfs/protocol/io";
import { DirectoryNode } from "../io/directory-node.ts";
import { SqliteMetadataStore } from "../io/sqlite-store.ts";

const POLL_INTERVAL_MS = 10;
const WAIT_TIMEOUT_MS_DEFAULT = 3_000;

/** Poll until `check` holds; throws naming `what` after the deadline. */
export async function until(
  what: string,
  check: () => boolean,
  timeoutMs = WAIT_TIMEOUT_MS_DEFAULT,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await Bun.sleep(POLL_INTERVAL_MS);
  }
}

/** The FtfsError a call failed with (fails the test if it succeeded). */
export async function failure(call: Promise<unknown>): Promise<FtfsError> {
  const outcome = await call.then(
    () => new Error("expected the call to fail, but it succeeded"),
    (error: unknown) => error,
  );
  if (outcome instanceof FtfsError) return outcome;
  throw outcome;
}

export type Notice =
  | { readonly op: "commitRefs"; readonly body: RequestBody<"commitRefs">; readonly epoch: number }
  | { readonly op: "dropRefs"; readonly body: RequestBody<"dropRefs">; readonly epoch: number }
  | {
      readonly op: "dropUploadRefs";
      readonly body: RequestBody<"dropUploadRefs">;
      readonly epoch: number;
    };

/** A storage node that only records the directory's notices. */
export class FakeStorage {
  readonly notices: Notice[] = [];
  private readonly server: RpcServer;

  constructor() {
    this.server = RpcServer.start({
      listen: "127.0.0.1:0",
      logger: createMemoryLogger("fake-storage"),
      handlers: {
        commitRefs: async (body, context) => {
          this.notices.push({ op: "commitRefs", body, epoch: context.epoch });
          return ok({ body: {} });
        },
        dropRefs: async (body, context) => {
          this.notices.push({ op: "dropRefs", body, epoch: context.epoch });
          return ok({ body: {} });
        },
        dropUploadRefs: async (body, context) => {
          this.notices.push({ op: "dropUploadRefs", body, epoch: context.epoch });
          return ok({ body: {} });
        },
      },
    });
  }

  get address(): string {
    return `127.0.0.1:${this.server.port}`;
  }

  stop(): void {
    this.server.stop();
  }
}

export interface Harness {
  readonly node: DirectoryNode;
  readonly client: RpcClient;
  readonly clock: { nowMs: number };
  readonly dataDir: string;
  readonly logs: string[];
  /** Stop the node (keeps the data) and start a new one on the same data. */
  restart(): Promise<Harness>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  readonly chunkBytes?: number;
  readonly dataDir?: string;
  readonly deadAfterMs?: number;
  /** How long a storage group stays under its replication factor before it gets a spare. */
  readonly rereplicationGraceMs?: number;
  readonly clock?: { nowMs: number };
  /** Runs on the store before the node starts (e.g. to set a term). */
  readonly prepare?: (store: SqliteMetadataStore) => void;
}

export const HARNESS_T0_MS = 1_700_000_000_000;
const CHUNK_BYTES_TEST = 64 * 1024;
const GROUP_CHECK_INTERVAL_MS_TEST = 20;
const MULTIPART_EXPIRY_INTERVAL_MS_TEST = 50;

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "ftfs-dir-node-"));
  const clock = options.clock ?? { nowMs: HARNESS_T0_MS };
  const store = SqliteMetadataStore.open(join(dataDir, "directory.sqlite"));
  options.prepare?.(store);
  const logger = createMemoryLogger("d1");
  const node = DirectoryNode.start({
    node: "d1",
    listen: "127.0.0.1:0",
    store,
    chunkBytes: options.chunkBytes ?? CHUNK_BYTES_TEST,
    logger,
    nowMs: () => clock.nowMs,
    storageDeadAfterMs: options.deadAfterMs ?? 3_000,
    ...(options.rereplicationGraceMs === undefined
      ? {}
      : { rereplicationGraceMs: options.rereplicationGraceMs }),
    groupCheckIntervalMs: GROUP_CHECK_INTERVAL_MS_TEST,
    multipartExpiryIntervalMs: MULTIPART_EXPIRY_INTERVAL_MS_TEST,
  });
  await until("the node of a group of one is primary", () => node.isPrimary);
  const client = await RpcClient.connect(node.address);
  const halt = async (): Promise<void> => {
    client.close();
    await node.stop();
  };
  return {
    node,
    client,
    clock,
    dataDir,
    logs: logger.lines,
    restart: async () => {
      await halt();
      return startHarness({ ...options, dataDir, clock, prepare: () => undefined });
    },
    stop: async () => {
      await halt();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A directory group of in-process nodes on loopback, each with its own folder. */
export interface GroupHarness {
  readonly nodes: Array<DirectoryNode | null>;
  readonly dataDirs: readonly string[];
  readonly addresses: readonly string[];
  readonly logs: ReadonlyArray<string[]>;
  /** The index of the one primary, once exactly one node leads. */
  primary(timeoutMs?: number): Promise<number>;
  /** Stops node `at` (its data stays). */
  stopNode(at: number): Promise<void>;
  /** Starts node `at` again on its folder and address. */
  restartNode(at: number): DirectoryNode;
  stop(): Promise<void>;
}

export async function startGroup(
  size: number,
  options: { readonly compactEveryEntries?: number } = {},
): Promise<GroupHarness> {
  const dataDirs = Array.from({ length: size }, () =>
    mkdtempSync(join(tmpdir(), "ftfs-dir-group-")),
  );
  const nodes: Array<DirectoryNode | null> = [];
  const addresses: string[] = [];
  const logs: string[][] = [];
  const startAt = (at: number, listen: string): DirectoryNode => {
    const logger = createMemoryLogger(`d${at + 1}`);
    logs[at] = logger.lines;
    const node = DirectoryNode.start({
      node: `d${at + 1}`,
      listen,
      store: SqliteMetadataStore.open(join(dataDirs[at] ?? "", "directory.sqlite")),
      chunkBytes: CHUNK_BYTES_TEST,
      logger,
      expect: size,
      join: addresses.filter((_, other) => other !== at),
      ...options,
      groupCheckIntervalMs: GROUP_CHECK_INTERVAL_MS_TEST,
    });
    nodes[at] = node;
    return node;
  };
  for (let at = 0; at < size; at += 1) addresses.push(startAt(at, "127.0.0.1:0").address);
  const group: GroupHarness = {
    nodes,
    dataDirs,
    addresses,
    logs,
    primary: async (timeoutMs = WAIT_TIMEOUT_MS_DEFAULT) => {
      const leaders = () => nodes.flatMap((node, at) => (node?.isPrimary === true ? [at] : []));
      await until("exactly one directory primary", () => leaders().length === 1, timeoutMs);
      return leaders()[0] ?? -1;
    },
    stopNode: async (at) => {
      const node = nodes[at];
      nodes[at] = null;
      await node?.stop();
    },
    restartNode: (at) => startAt(at, addresses[at] ?? ""),
    stop: async () => {
      for (const node of nodes.splice(0)) await node?.stop();
      for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    },
  };
  return group;
}
