/**
 * `bun run bench:s3 [--repeats 3] [--seconds 10] [--multipart-mib 1024] [--no-swift]`: S3 as
 * users' tools speak it, FTFS side by side with OpenStack Swift's own S3 API (its `s3api`
 * middleware, from shared/peers/swift) in the same run, one load generator for both: a light
 * SigV4 client over fetch (light-client.ts; payloads hashed and signed, no checksums), since
 * the AWS SDK's own CPU per request would be the bottleneck on a small machine. The multipart
 * upload uses the SDK's lib-storage, as users do. Also FTFS's native client on the same
 * cluster, so the gateway's cost is a ratio.
 *
 * Cells: 64 KiB and 4 MiB objects at 1 and 100 clients, a PUT phase then a GET phase; and one
 * multipart upload (8 MiB parts, 4 at once) of a large object. FTFS: 1 directory node and one
 * storage group of 3 replicas, secure, one gateway; Swift: 4 nodes, 3 replicas. Medians over
 * repeats. Prints a table and the ratios; every process it starts is stopped.
 *
 * `--memory`: instead, the gateway's memory bound: 10 PUTs of 2 GiB at once, then 10 GETs of
 * them at once, and the gateway's peak RSS (the kernel's high-water mark) against 256 MiB.
 */

import { rmSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { FtfsClient } from "@ftfs/client";
import { Keyring, parseFlags, parseIntegerFlag, RpcPool } from "@ftfs/protocol/io";
import { CONNECT_TIMEOUT_MS_DEFAULT } from "@ftfs/protocol/core";
import { freePort, startCluster, startS3Gateway, type LocalCluster } from "@ftfs/protocol/testing";
import { median } from "../machine/limits.ts";
import { LightS3Client } from "./light-client.ts";
import { peakRssBytes } from "../common/process-memory.ts";
import { Payloads, phaseStats, runPhase, type PhaseWorkload } from "../storage/load.ts";
import { cleanSwift, freshSwift, swiftUnavailableReason } from "../storage/swift.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
const CLIENTS_MANY = 100;
/** The SDK's connections: one per client loop, so none waits on a socket. */
const SOCKETS_MAX = CLIENTS_MANY + 10;
const MULTIPART_PART_BYTES = 8 * MIB;
const MULTIPART_QUEUE = 4;
const SWIFT_S3_ENDPOINT = "http://127.0.0.1:8080";
const SWIFT_S3_KEY = { accessKeyId: "test:tester", secretAccessKey: "testing" };
const FTFS_CLIENT_INSTANCES = 4;
const BUCKET = "bench";
const REPEATS_MAX = 20;
const PHASE_SECONDS_MAX = 600;
const MULTIPART_MIB_MAX = 65_536;

interface Cell {
  readonly sizeBytes: number;
  readonly loops: number;
}

const CELLS: readonly Cell[] = [
  { sizeBytes: 64 * KIB, loops: 1 },
  { sizeBytes: 64 * KIB, loops: CLIENTS_MANY },
  { sizeBytes: 4 * MIB, loops: 1 },
  { sizeBytes: 4 * MIB, loops: CLIENTS_MANY },
];

type TargetName = "ftfs native" | "ftfs s3" | "swift s3";

interface CellFigures {
  readonly putOps: number;
  readonly getOps: number;
  readonly putMiB: number;
  readonly getMiB: number;
  readonly putP99Ms: number;
  readonly getP99Ms: number;
  readonly errors: number;
}

function log(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function s3Client(endpoint: string, key: { accessKeyId: string; secretAccessKey: string }) {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: key,
    maxAttempts: 3,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { httpAgent: { maxSockets: SOCKETS_MAX, keepAlive: true } },
  });
}

/** Distinct objects (nothing deduplicates), PUT then read back at random, over S3. */
function s3Workload(prefix: string, payloads: Payloads): PhaseWorkload<LightS3Client> {
  const acked: number[] = [];
  let next = 0;
  return {
    async put(client) {
      const key = next;
      next += 1;
      await client.putObject(BUCKET, `${prefix}/${key}`, payloads.bytesFor(key));
      acked.push(key);
    },
    async get(client) {
      const key = acked[Math.floor(Math.random() * acked.length)];
      if (key === undefined) throw new Error("nothing acknowledged to read");
      const bytes = await client.getObject(BUCKET, `${prefix}/${key}`);
      if (bytes.length !== payloads.sizeBytes) throw new Error(`short read of ${prefix}/${key}`);
    },
  };
}

function lightClient(endpoint: string, key: { accessKeyId: string; secretAccessKey: string }) {
  return new LightS3Client(endpoint, {
    accessKeyId: key.accessKeyId,
    secret: key.secretAccessKey,
    region: "us-east-1",
  });
}

/** The same load through FTFS's own client library, into the same bucket. */
function nativeWorkload(
  uid: string,
  prefix: string,
  payloads: Payloads,
): PhaseWorkload<FtfsClient> {
  const acked: number[] = [];
  let next = 0;
  return {
    async put(client) {
      const key = next;
      next += 1;
      await client.putObjectBytes(
        uid,
        { bucket: BUCKET, key: `${prefix}/${key}` },
        payloads.bytesFor(key),
      );
      acked.push(key);
    },
    async get(client) {
      const key = acked[Math.floor(Math.random() * acked.length)];
      if (key === undefined) throw new Error("nothing acknowledged to read");
      let bytes = 0;
      await client.getObject(uid, { bucket: BUCKET, key: `${prefix}/${key}` }, (chunk) => {
        bytes += chunk.length;
      });
      if (bytes !== payloads.sizeBytes) throw new Error(`short read of ${prefix}/${key}`);
    },
  };
}

async function measureCell<C>(
  clients: readonly C[],
  workload: PhaseWorkload<C>,
  cell: Cell,
  seconds: number,
  label: string,
): Promise<CellFigures> {
  const phase = (kind: "put" | "get") =>
    runPhase({
      loops: cell.loops,
      durationMs: seconds * 1000,
      clients,
      pick: () => kind,
      workload,
      label: `${label} ${kind.toUpperCase()}`,
    });
  const put = phaseStats(await phase("put"), "put", cell.sizeBytes);
  const get = phaseStats(await phase("get"), "get", cell.sizeBytes);
  return {
    putOps: put.opsPerS,
    getOps: get.opsPerS,
    putMiB: put.mibPerS,
    getMiB: get.mibPerS,
    putP99Ms: put.p99Ms,
    getP99Ms: get.p99Ms,
    errors: put.errors + get.errors,
  };
}

/** One multipart upload of `bytes` (every part distinct), in seconds. */
async function multipartSeconds(client: S3Client, key: string, bytes: number): Promise<number> {
  const part = new Payloads(MULTIPART_PART_BYTES, 7);
  const parts = Math.ceil(bytes / MULTIPART_PART_BYTES);
  const body = Readable.from(
    (function* () {
      for (let at = 0; at < parts; at += 1) yield part.bytesFor(at);
    })(),
  );
  const started = performance.now();
  await new Upload({
    client,
    params: { Bucket: BUCKET, Key: key, Body: body },
    partSize: MULTIPART_PART_BYTES,
    queueSize: MULTIPART_QUEUE,
  }).done();
  return (performance.now() - started) / 1000;
}

interface Ftfs {
  readonly cluster: LocalCluster;
  readonly gateway: Bun.Subprocess;
  readonly endpoint: string;
  readonly key: { accessKeyId: string; secretAccessKey: string };
  readonly natives: FtfsClient[];
  readonly pools: RpcPool[];
}

async function startFtfs(root: string): Promise<Ftfs> {
  const cluster = await startCluster({
    directories: 1,
    groups: [{ name: "g1", size: 3 }],
    dataRoot: join(root, "cluster"),
    secure: true,
  });
  await cluster.addUser("bench");
  const keyFile = join(root, "cluster.key");
  await writeFile(keyFile, cluster.clusterKey ?? "", { mode: 0o600 });
  const pools = Array.from(
    { length: FTFS_CLIENT_INSTANCES },
    () => new RpcPool(CONNECT_TIMEOUT_MS_DEFAULT, cluster.nodeConnectOptions("bench")),
  );
  const natives = pools.map(
    (pool) => new FtfsClient({ directories: cluster.directoryAddresses, pool }),
  );
  const admin = new FtfsClient({
    directories: cluster.directoryAddresses,
    credentials: { kind: "node", node: "bench", keyring: Keyring.parse(cluster.clusterKey ?? "") },
  });
  const made = await admin.keyCreate("bench");
  admin.close();
  const started = await startS3Gateway({
    listen: `127.0.0.1:${await freePort()}`,
    cluster: cluster.directoryAddresses,
    clusterKeyFile: keyFile,
    logFile: join(root, "gateway.log"),
  });
  return {
    cluster,
    gateway: started.process,
    endpoint: started.endpoint,
    key: { accessKeyId: made.accessKeyId, secretAccessKey: made.secret },
    natives,
    pools,
  };
}

async function stopFtfs(ftfs: Ftfs): Promise<void> {
  for (const client of ftfs.natives) client.close();
  for (const pool of ftfs.pools) pool.close();
  ftfs.gateway.kill("SIGTERM");
  await ftfs.gateway.exited;
  await ftfs.cluster.stop();
}

function medianFigures(runs: readonly CellFigures[]): CellFigures {
  const of = (pick: (figures: CellFigures) => number) => median(runs.map(pick));
  return {
    putOps: of((f) => f.putOps),
    getOps: of((f) => f.getOps),
    putMiB: of((f) => f.putMiB),
    getMiB: of((f) => f.getMiB),
    putP99Ms: of((f) => f.putP99Ms),
    getP99Ms: of((f) => f.getP99Ms),
    errors: runs.reduce((sum, f) => sum + f.errors, 0),
  };
}

function cellName(cell: Cell): string {
  const size =
    cell.sizeBytes >= MIB ? `${cell.sizeBytes / MIB} MiB` : `${cell.sizeBytes / KIB} KiB`;
  return `${size} × ${cell.loops}`;
}

function ratio(a: number, b: number): string {
  return b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : "–";
}

const MEMORY_STREAMS = 10;
const MEMORY_OBJECT_BYTES = 2 * 1024 * MIB;
const MEMORY_BLOCK_BYTES = 4 * MIB;
const GATEWAY_RSS_TARGET_BYTES = 256 * MIB;

/** A body of `bytes` made of one repeated block: the gateway streams every byte, disks dedupe. */
function repeatedBody(bytes: number): Readable {
  const block = new Payloads(MEMORY_BLOCK_BYTES, 11).bytesFor(0);
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < bytes; sent += block.length) {
        yield block.subarray(0, Math.min(block.length, bytes - sent));
      }
    })(),
  );
}

async function measureMemory(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "ftfs-bench-s3-memory-"));
  try {
    const ftfs = await startFtfs(root);
    try {
      const s3 = s3Client(ftfs.endpoint, ftfs.key);
      await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
      const idle = (await peakRssBytes(ftfs.gateway.pid)) ?? 0;
      const keys = Array.from({ length: MEMORY_STREAMS }, (_, n) => `large-${n}`);
      const putStart = performance.now();
      await Promise.all(
        keys.map((Key) =>
          s3.send(
            new PutObjectCommand({
              Bucket: BUCKET,
              Key,
              Body: repeatedBody(MEMORY_OBJECT_BYTES),
              ContentLength: MEMORY_OBJECT_BYTES,
            }),
          ),
        ),
      );
      const putS = (performance.now() - putStart) / 1000;
      const afterPuts = (await peakRssBytes(ftfs.gateway.pid)) ?? 0;
      const getStart = performance.now();
      const read = await Promise.all(
        keys.map(async (Key) => {
          const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
          let bytes = 0;
          for await (const chunk of got.Body as AsyncIterable<Uint8Array>) bytes += chunk.length;
          return bytes;
        }),
      );
      const getS = (performance.now() - getStart) / 1000;
      const peak = (await peakRssBytes(ftfs.gateway.pid)) ?? 0;
      s3.destroy();
      const total = (MEMORY_STREAMS * MEMORY_OBJECT_BYTES) / MIB;
      const complete = read.every((bytes) => bytes === MEMORY_OBJECT_BYTES);
      process.stdout.write(
        `${[
          `bench:s3 --memory: ${MEMORY_STREAMS} × ${MEMORY_OBJECT_BYTES / MIB} MiB at once through one gateway`,
          `PUT ${putS.toFixed(1)} s (${(total / putS).toFixed(0)} MiB/s), GET ${getS.toFixed(1)} s (${(total / getS).toFixed(0)} MiB/s), every GET whole: ${complete}`,
          `gateway RSS: idle ${(idle / MIB).toFixed(0)} MiB, peak after the PUTs ${(afterPuts / MIB).toFixed(0)} MiB, ` +
            `peak overall ${(peak / MIB).toFixed(0)} MiB (target < ${GATEWAY_RSS_TARGET_BYTES / MIB} MiB: ` +
            `${peak < GATEWAY_RSS_TARGET_BYTES ? "met" : "MISSED"})`,
        ].join("\n")}\n`,
      );
    } finally {
      await stopFtfs(ftfs);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), [
    { name: "repeats", description: "repeats per measurement", default: "3" },
    { name: "seconds", description: "length of each PUT or GET phase", default: "10" },
    { name: "multipart-mib", description: "size of the multipart upload", default: "1024" },
    { name: "no-swift", description: "FTFS only", boolean: true, default: "false" },
    {
      name: "memory",
      description: "measure the gateway's memory bound instead",
      boolean: true,
      default: "false",
    },
  ] as const);
  if (flags.memory === "true") return measureMemory();
  const repeats = parseIntegerFlag("repeats", flags.repeats ?? "3", 1, REPEATS_MAX);
  const seconds = parseIntegerFlag("seconds", flags.seconds ?? "10", 1, PHASE_SECONDS_MAX);
  const multipartBytes =
    parseIntegerFlag("multipart-mib", flags["multipart-mib"] ?? "1024", 8, MULTIPART_MIB_MAX) * MIB;
  const noSwift = flags["no-swift"] === "true";
  const swiftWhyNot = noSwift ? "--no-swift" : swiftUnavailableReason();
  if (swiftWhyNot !== null) log(`Swift is not measured: ${swiftWhyNot}`);
  const root = await mkdtemp(join(tmpdir(), "ftfs-bench-s3-"));
  const cleanUp = () => rmSync(root, { recursive: true, force: true });
  const results = new Map<string, CellFigures[]>();
  const multipart = new Map<TargetName, number[]>();
  const record = (target: TargetName, cell: Cell, figures: CellFigures) => {
    const key = `${target}|${cellName(cell)}`;
    results.set(key, [...(results.get(key) ?? []), figures]);
    log(
      `${target} ${cellName(cell)}: PUT ${figures.putOps.toFixed(1)}/s ${figures.putMiB.toFixed(1)} MiB/s, ` +
        `GET ${figures.getOps.toFixed(1)}/s ${figures.getMiB.toFixed(1)} MiB/s, ${figures.errors} errors`,
    );
  };
  try {
    for (let repeat = 0; repeat < repeats; repeat += 1) {
      const ftfs = await startFtfs(join(root, `r${repeat}`));
      try {
        const s3 = s3Client(ftfs.endpoint, ftfs.key);
        const light = lightClient(ftfs.endpoint, ftfs.key);
        await light.createBucket(BUCKET);
        for (const [index, cell] of CELLS.entries()) {
          const payloads = new Payloads(cell.sizeBytes, 1 + index);
          const prefix = `r${repeat}c${index}`;
          record(
            "ftfs native",
            cell,
            await measureCell(
              ftfs.natives,
              nativeWorkload("bench", `${prefix}n`, payloads),
              cell,
              seconds,
              `ftfs native ${cellName(cell)}`,
            ),
          );
          record(
            "ftfs s3",
            cell,
            await measureCell(
              [light],
              s3Workload(`${prefix}s`, payloads),
              cell,
              seconds,
              `ftfs s3 ${cellName(cell)}`,
            ),
          );
        }
        const taken = await multipartSeconds(s3, `r${repeat}-multipart`, multipartBytes);
        multipart.set("ftfs s3", [...(multipart.get("ftfs s3") ?? []), taken]);
        log(`ftfs s3 multipart ${multipartBytes / MIB} MiB: ${taken.toFixed(1)} s`);
        s3.destroy();
      } finally {
        await stopFtfs(ftfs);
      }
      if (swiftWhyNot !== null) continue;
      await freshSwift();
      try {
        const s3 = s3Client(SWIFT_S3_ENDPOINT, SWIFT_S3_KEY);
        const light = lightClient(SWIFT_S3_ENDPOINT, SWIFT_S3_KEY);
        await light.createBucket(BUCKET);
        for (const [index, cell] of CELLS.entries()) {
          const payloads = new Payloads(cell.sizeBytes, 1 + index);
          record(
            "swift s3",
            cell,
            await measureCell(
              [light],
              s3Workload(`r${repeat}c${index}`, payloads),
              cell,
              seconds,
              `swift s3 ${cellName(cell)}`,
            ),
          );
        }
        const taken = await multipartSeconds(s3, `r${repeat}-multipart`, multipartBytes);
        multipart.set("swift s3", [...(multipart.get("swift s3") ?? []), taken]);
        log(`swift s3 multipart ${multipartBytes / MIB} MiB: ${taken.toFixed(1)} s`);
        s3.destroy();
      } finally {
        await cleanSwift();
      }
    }
  } finally {
    cleanUp();
  }
  const lines = [
    `bench:s3, ${repeats} repeats, ${seconds} s phases; medians (MiB/s for 4 MiB, ops/s for 64 KiB)`,
    "| cell | FTFS native PUT/GET | FTFS S3 PUT/GET | Swift S3 PUT/GET | S3 vs Swift PUT/GET | S3 vs native PUT/GET |",
    "|---|---|---|---|---|---|",
  ];
  for (const cell of CELLS) {
    const figures = (target: TargetName) => {
      const runs = results.get(`${target}|${cellName(cell)}`);
      return runs === undefined ? null : medianFigures(runs);
    };
    const large = cell.sizeBytes >= MIB;
    const put = (f: CellFigures | null) => (f === null ? Number.NaN : large ? f.putMiB : f.putOps);
    const get = (f: CellFigures | null) => (f === null ? Number.NaN : large ? f.getMiB : f.getOps);
    const show = (f: CellFigures | null) =>
      f === null
        ? "–"
        : `${put(f).toFixed(1)} / ${get(f).toFixed(1)}${f.errors > 0 ? ` (${f.errors} errors)` : ""}`;
    const [native, gateway, swift] = [
      figures("ftfs native"),
      figures("ftfs s3"),
      figures("swift s3"),
    ];
    lines.push(
      `| ${cellName(cell)} | ${show(native)} | ${show(gateway)} | ${show(swift)} | ` +
        `${ratio(put(gateway), put(swift))} / ${ratio(get(gateway), get(swift))} | ` +
        `${ratio(put(gateway), put(native))} / ${ratio(get(gateway), get(native))} |`,
    );
  }
  const mp = (target: TargetName) => {
    const runs = multipart.get(target);
    return runs === undefined ? Number.NaN : median(runs);
  };
  lines.push(
    `multipart upload of ${multipartBytes / MIB} MiB (8 MiB parts, 4 at once): FTFS ${mp("ftfs s3").toFixed(1)} s, ` +
      `Swift ${mp("swift s3").toFixed(1)} s (FTFS ${ratio(mp("swift s3"), mp("ftfs s3"))} as fast)`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
