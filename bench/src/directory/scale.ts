/**
 * The directory at scale: a database of many files built in-process through the real state
 * machine (applyCommand on SqliteMetadataStore, in batches, as the Raft driver applies them),
 * closed the way a compacted node leaves it (members recorded, a Raft snapshot of the whole
 * state, no log entries), then served by ONE real directory process. Over real RPC: listings
 * of a big and a middling user, commit latency at that size, the node's memory and the file's
 * size. Building through the network would take far longer than the bench's budget; applying
 * commands directly is the same code path minus Raft's append. Owns the folder it builds and
 * the process it starts.
 */

import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { DIRECTORY_MAIN, freePort, NodeProcess } from "@ftfs/protocol/testing";
import { sha256Hex } from "@ftfs/protocol/io";
import { applyCommand, type Command } from "@ftfs/directory/core";
import {
  exportImageInWorker,
  RaftLog,
  RECOMPUTE_DERIVED_SQL,
  SnapshotImages,
  SqliteMetadataStore,
} from "@ftfs/directory/io";
import { commitEmptyFile } from "./commits.ts";
import {
  formatMs,
  log,
  PrimaryConnection,
  pollUntil,
  summarize,
  type LatencySummary,
} from "./probe.ts";
import { currentRssBytes } from "../common/proc-stats.ts";
import { peakRssBytes } from "../common/process-memory.ts";

/** The file name the directory node opens in its data folder (apps/directory/src/main.ts). */
const DATABASE_FILE = "directory.sqlite";
const NODE_ID = "d1";
const GROUP = "s1";
const KIB = 1024;
/** Every synthetic file is this big, in one chunk: its chunk id is also its SHA-256. */
const FILE_BYTES = 4 * KIB;
/** Commands per transaction while building: one fsync each, memory bounded by the batch. */
const BUILD_BATCH_COMMANDS = 10_000;
/** Clock of the synthetic history: one millisecond per command from this instant. */
const BUILD_EPOCH_MS = Date.UTC(2026, 0, 1);
const RAFT_TERM = 1;
const START_DEADLINE_MS = 120_000;
const CONNECT_TIMEOUT_MS = 2_000;
const CALL_TIMEOUT_MS = 30_000;
export const BIG_USER = "big";
export const MID_USER = "mid";

export interface ScaleOptions {
  readonly files: number;
  readonly users: number;
  readonly bigUserFiles: number;
  readonly midUserFiles: number;
  readonly listRepeats: number;
  readonly commits: number;
}

export interface ScaleFigures {
  readonly options: ScaleOptions;
  readonly commandsApplied: number;
  readonly buildMs: number;
  readonly snapshotExportMs: number;
  readonly snapshotBytes: number;
  readonly snapshotWriteMs: number;
  readonly benchPeakRssBytes: number | null;
  readonly databaseBytesBuilt: number;
  readonly startToPrimaryMs: number;
  readonly listBig: LatencySummary;
  readonly listMid: LatencySummary;
  readonly commitPair: LatencySummary;
  readonly commitOnly: LatencySummary;
  readonly directoryRssBytes: number | null;
  readonly directoryPeakRssBytes: number | null;
  readonly databaseBytesAfter: number;
}

/** Files per user: the big one, the middling one, the rest spread evenly. */
export function filesPerUser(options: ScaleOptions): Array<[string, number]> {
  const others = options.users - 2;
  const rest = options.files - options.bigUserFiles - options.midUserFiles;
  if (others < 1 || rest < others) throw new Error("scale plan: too few files for the users asked");
  const plan: Array<[string, number]> = [
    [BIG_USER, options.bigUserFiles],
    [MID_USER, options.midUserFiles],
  ];
  for (let user = 0; user < others; user += 1) {
    const share = Math.floor(rest / others) + (user < rest % others ? 1 : 0);
    plan.push([`u${String(user).padStart(4, "0")}`, share]);
  }
  return plan;
}

/** The history a real cluster would have logged: a group, the users, then every commit. */
function* history(options: ScaleOptions): Generator<Command> {
  let atMs = BUILD_EPOCH_MS;
  const config = { group: GROUP, epoch: 1, primary: null, primaryNode: null, replicas: [] };
  yield { type: "setGroupConfig", config, atMs };
  const plan = filesPerUser(options);
  for (const [uid] of plan) {
    atMs += 1;
    yield { type: "createUser", uid, atMs };
  }
  let upload = 0;
  for (const [uid, files] of plan) {
    for (let file = 0; file < files; file += 1) {
      upload += 1;
      atMs += 1;
      const sha256 = sha256Hex(`${uid}/${file}`);
      yield {
        type: "commitVersion",
        uid,
        name: `file-${String(file).padStart(6, "0")}.bin`,
        uploadId: `up${upload}`,
        bytes: FILE_BYTES,
        sha256,
        chunks: [{ id: sha256, bytes: FILE_BYTES, group: GROUP }],
        atMs,
      };
    }
  }
}

/**
 * Applies the history in batches. After each batch the notices its commits queued for the
 * storage group are acknowledged, as the primary's outbox would once the group took them: a
 * real node does not carry a million undelivered notices.
 */
function applyHistory(store: SqliteMetadataStore, options: ScaleOptions): number {
  const commands = history(options);
  let index = store.lastApplied();
  let exhausted = false;
  while (!exhausted) {
    store.transaction(() => {
      let lastCommit = 0;
      for (let count = 0; count < BUILD_BATCH_COMMANDS; count += 1) {
        const next = commands.next();
        if (next.done === true) {
          exhausted = true;
          break;
        }
        index += 1;
        const result = applyCommand(store, index, next.value);
        if (!result.ok) throw new Error(`building: entry ${index}: ${result.error.message}`);
        if (next.value.type === "commitVersion") lastCommit = index;
      }
      if (lastCommit === 0) return;
      index += 1;
      const ack: Command = {
        type: "ackNotices",
        group: GROUP,
        throughIndex: lastCommit,
        throughSeq: 0,
        atMs: BUILD_EPOCH_MS,
      };
      const acked = applyCommand(store, index, ack);
      if (!acked.ok) throw new Error(`building: ack at ${index}: ${acked.error.message}`);
    });
  }
  return index;
}

/**
 * The same state as applyHistory's, written by SQL rather than command by command: the group
 * and the users through the state machine, then every user's files as rows of `versions` in
 * one statement each, then the derived tables (usage, the chunk index) recomputed from them by
 * the migrations' own statements. No notices are queued (applyHistory acknowledges them all).
 * File hashes are made-up hex (the index, zero-padded), not SHA-256 of anything. About a
 * hundred times faster: what makes millions of files reachable within a bench's budget.
 */
function applyBulk(store: SqliteMetadataStore, options: ScaleOptions): number {
  const commands = history(options);
  let index = store.lastApplied();
  store.transaction(() => {
    for (;;) {
      const next = commands.next();
      if (next.done === true || next.value.type === "commitVersion") break;
      index += 1;
      const result = applyCommand(store, index, next.value);
      if (!result.ok) throw new Error(`building: entry ${index}: ${result.error.message}`);
    }
  });
  const db = store.database;
  const insert = db.prepare<null, [number, string, number, number, number]>(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
     INSERT INTO versions (uid, name, version, kind, bytes, sha256, created_at_ms, upload_id,
                           chunks, pruned, marker)
     SELECT ?2, printf('file-%06d.bin', i), 1, 'live', ?3, printf('%064x', ?4 + i), ?5 + i,
            'up' || (?4 + i),
            json_array(json_object('id', printf('%064x', ?4 + i), 'bytes', ?3, 'group', '${GROUP}')),
            0, 0
     FROM n`,
  );
  let first = index + 1;
  for (const [uid, files] of filesPerUser(options)) {
    if (files === 0) continue;
    store.transaction(() => insert.run(files, uid, FILE_BYTES, first, BUILD_EPOCH_MS + first));
    first += files;
  }
  insert.finalize();
  index += 1;
  store.transaction(() => {
    for (const statement of RECOMPUTE_DERIVED_SQL) db.run(statement);
    // One entry stands for all the rows: the state's index moves past the commands above.
    store.applyEntry(index, () => undefined);
  });
  return index;
}

interface Built {
  readonly commandsApplied: number;
  readonly buildMs: number;
  readonly snapshotExportMs: number;
  readonly snapshotBytes: number;
  readonly snapshotWriteMs: number;
}

/**
 * Builds the state, then leaves the folder as a node that compacted its whole log would: its
 * snapshot an image of the database (VACUUM INTO on a worker, as the node makes them).
 */
export async function buildDatabase(
  folder: string,
  address: string,
  options: ScaleOptions,
  method: "commands" | "bulk" = "commands",
): Promise<Built> {
  const databasePath = join(folder, DATABASE_FILE);
  const store = SqliteMetadataStore.open(databasePath);
  try {
    const buildStartMs = performance.now();
    const commandsApplied =
      method === "commands" ? applyHistory(store, options) : applyBulk(store, options);
    const buildMs = performance.now() - buildStartMs;
    const exportStartMs = performance.now();
    const exported = await exportImageInWorker(databasePath, new SnapshotImages(databasePath));
    const { data } = exported;
    const snapshotExportMs = performance.now() - exportStartMs;
    const writeStartMs = performance.now();
    const raftLog = new RaftLog(store.database);
    try {
      const commit = store.lastApplied();
      store.transaction(() => {
        store.writeMeta("members", JSON.stringify([{ id: NODE_ID, address }]));
        raftLog.save({
          hardState: { term: RAFT_TERM, vote: null, commit },
          entries: [],
          snapshot: { index: commit, term: RAFT_TERM, data },
        });
      });
    } finally {
      raftLog.close();
    }
    const snapshotWriteMs = performance.now() - writeStartMs;
    const snapshotBytes = exported.bytes;
    return { commandsApplied, buildMs, snapshotExportMs, snapshotBytes, snapshotWriteMs };
  } finally {
    store.close();
  }
}

/** The database file and its WAL, as they sit on disk. */
async function databaseBytes(folder: string): Promise<number> {
  let total = 0;
  for (const suffix of ["", "-wal"]) {
    total += await stat(join(folder, DATABASE_FILE + suffix)).then(
      (info) => info.size,
      () => 0,
    );
  }
  return total;
}

export async function runScale(options: ScaleOptions, workDir: string): Promise<ScaleFigures> {
  const folder = join(workDir, "scale-d1");
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  try {
    log(`scale: building ${options.files} files for ${options.users} users in ${folder}`);
    await Bun.write(join(folder, ".keep"), "");
    const built = await buildDatabase(folder, address, options);
    const benchPeakRssBytes = await peakRssBytes(process.pid);
    const databaseBytesBuilt = await databaseBytes(folder);
    const snapshotMiB = (built.snapshotBytes / KIB / KIB).toFixed(1);
    log(
      `scale: built ${built.commandsApplied} entries in ${formatMs(built.buildMs)}; ` +
        `snapshot ${snapshotMiB} MiB in ${formatMs(built.snapshotExportMs)}`,
    );
    const served = await serve(folder, address, options);
    return {
      options,
      ...built,
      benchPeakRssBytes,
      databaseBytesBuilt,
      ...served,
      databaseBytesAfter: await databaseBytes(folder),
    };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

type Served = Pick<
  ScaleFigures,
  | "startToPrimaryMs"
  | "listBig"
  | "listMid"
  | "commitPair"
  | "commitOnly"
  | "directoryRssBytes"
  | "directoryPeakRssBytes"
>;

/** One real directory process on the built folder, measured over RPC, then stopped. */
async function serve(folder: string, address: string, options: ScaleOptions): Promise<Served> {
  const node = new NodeProcess({
    id: NODE_ID,
    role: "directory",
    group: null,
    address,
    dataDir: folder,
    logPath: join(folder, `${NODE_ID}.log`),
    env: {},
    argv: [
      DIRECTORY_MAIN,
      "--node",
      NODE_ID,
      "--listen",
      address,
      "--data",
      folder,
      "--expect",
      "1",
      "--insecure",
    ],
  });
  const startMs = performance.now();
  node.start();
  let connection: PrimaryConnection | null = null;
  try {
    connection = await pollUntil("the node to lead", () => leading(address), START_DEADLINE_MS);
    const startToPrimaryMs = performance.now() - startMs;
    const { listRepeats } = options;
    log(`scale: primary after ${formatMs(startToPrimaryMs)}; ${listRepeats} listings each`);
    const listBig = await timeListings(connection, BIG_USER, options.bigUserFiles, listRepeats);
    const listMid = await timeListings(connection, MID_USER, options.midUserFiles, listRepeats);
    log(`scale: ${options.commits} sequential commits`);
    const pairs: number[] = [];
    const commits: number[] = [];
    for (let n = 0; n < options.commits; n += 1) {
      const timing = await commitEmptyFile(connection, BIG_USER, `scale-commit-${n}`);
      pairs.push(timing.pairMs);
      commits.push(timing.commitMs);
    }
    const pid = node.pid ?? 0;
    return {
      startToPrimaryMs,
      listBig,
      listMid,
      commitPair: summarize(pairs),
      commitOnly: summarize(commits),
      directoryRssBytes: await currentRssBytes(pid),
      directoryPeakRssBytes: await peakRssBytes(pid),
    };
  } finally {
    connection?.close();
    await node.stop();
  }
}

/** A connection once the node answers as primary (a leader of one, after its own no-op). */
async function leading(address: string): Promise<PrimaryConnection | undefined> {
  const connection = await PrimaryConnection.open(address, CONNECT_TIMEOUT_MS).catch(() => null);
  if (connection === null) return undefined;
  try {
    await connection.call("listFiles", { uid: MID_USER }, CALL_TIMEOUT_MS);
    return connection;
  } catch {
    connection.close();
    return undefined;
  }
}

async function timeListings(
  connection: PrimaryConnection,
  uid: string,
  files: number,
  repeats: number,
): Promise<LatencySummary> {
  const samples: number[] = [];
  for (let n = 0; n < repeats; n += 1) {
    const startMs = performance.now();
    const answer = await connection.call("listFiles", { uid }, CALL_TIMEOUT_MS);
    samples.push(performance.now() - startMs);
    if (answer.body.files.length < files) {
      throw new Error(`listing of ${uid}: ${answer.body.files.length} files, expected ${files}`);
    }
  }
  return summarize(samples);
}
