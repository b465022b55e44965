/**
 * Snapshot images off the main thread, with memory bounded by SNAPSHOT_IMAGE_PART_BYTES
 * however large the database: the main thread must keep heartbeating meanwhile.
 *
 * export: `VACUUM INTO` a new file from a read-only connection of its own. That is one read
 * transaction, so under WAL it copies one consistent version of the database while the node goes
 * on writing; the copy's lastApplied is the index it is as of. The file is fsync'd, hashed, and
 * renamed to the name its hash gives (snapshot-images.ts).
 *
 * prepare: a received image is hashed whole (the parts were each checked, but only this proves
 * the file is the one the primary's snapshot names), copied to the images this node can send
 * in turn, checked as a database of our schema at the snapshot's index, emptied of the
 * sender's Raft log, and renamed `.ready`: the main thread only has to swap it in.
 *
 * Message in: WorkerRequest. Message out: WorkerAnswer (both in snapshot-export.ts: importing
 * this file runs it, which would set the importer's own onmessage).
 */

import { Database } from "bun:sqlite";
import { closeSync, copyFileSync, openSync, readSync, renameSync, rmSync } from "node:fs";
import { raft } from "@ftfs/protocol/core";
import { SCHEMA_VERSION } from "./sqlite-schema.ts";
import { SHA256_PLACEHOLDER, type WorkerAnswer, type WorkerRequest } from "./snapshot-export.ts";
import { fsyncPath } from "./snapshot-images.ts";

declare const self: Worker;

/** SHA-256 of a file, read one part at a time. */
function hashFile(path: string): { bytes: number; sha256: string } {
  const hasher = new Bun.CryptoHasher("sha256");
  const buffer = new Uint8Array(raft.SNAPSHOT_IMAGE_PART_BYTES);
  const fd = openSync(path, "r");
  let bytes = 0;
  try {
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, bytes);
      if (read === 0) break;
      hasher.update(buffer.subarray(0, read));
      bytes += read;
    }
  } finally {
    closeSync(fd);
  }
  return { bytes, sha256: hasher.digest("hex") };
}

function metaValue(db: Database, key: string): string | null {
  const row = db
    .query<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?")
    .get(key);
  return row?.value ?? null;
}

function exportImage(request: Extract<WorkerRequest, { op: "export" }>): WorkerAnswer {
  const source = new Database(request.databasePath, { readonly: true });
  try {
    source.prepare("VACUUM INTO ?").run(request.temporaryPath);
  } finally {
    source.close();
  }
  const copy = new Database(request.temporaryPath, { readonly: true });
  let index: number;
  try {
    index = Number(metaValue(copy, "lastApplied") ?? "0");
  } finally {
    copy.close();
  }
  fsyncPath(request.temporaryPath);
  const image = hashFile(request.temporaryPath);
  renameSync(
    request.temporaryPath,
    request.imagePathPattern.replace(SHA256_PLACEHOLDER, image.sha256),
  );
  fsyncPath(request.imagesDir);
  return { op: "export", index, image };
}

function prepareImage(request: Extract<WorkerRequest, { op: "prepare" }>): WorkerAnswer {
  const found = hashFile(request.partPath);
  if (found.sha256 !== request.image.sha256 || found.bytes !== request.image.bytes) {
    // A torn or forged transfer: what we hold is not the image; start it over.
    rmSync(request.partPath, { force: true });
    return { error: "the received image does not match its hash", mismatch: true };
  }
  copyFileSync(request.partPath, request.temporaryPath);
  fsyncPath(request.temporaryPath);
  renameSync(request.temporaryPath, request.imagePath);
  const db = new Database(request.partPath, { readwrite: true });
  try {
    const schema = metaValue(db, "schemaVersion");
    const applied = Number(metaValue(db, "lastApplied") ?? "-1");
    if (schema !== String(SCHEMA_VERSION)) {
      return {
        error: `the image has schema version ${schema}; this build reads ${SCHEMA_VERSION}`,
      };
    }
    if (applied !== request.index) {
      return { error: `the image is as of index ${applied}, its snapshot says ${request.index}` };
    }
    const check = db.query<{ quick_check: string }, []>("PRAGMA quick_check").get();
    if (check?.quick_check !== "ok")
      return { error: `the image is damaged: ${check?.quick_check}` };
    // The sender's log and snapshot row are its own; the swap writes ours.
    db.run("PRAGMA journal_mode = DELETE");
    db.transaction(() => {
      db.run("DELETE FROM raft_log");
      db.run("DELETE FROM raft_snapshot");
    })();
  } finally {
    db.close();
  }
  fsyncPath(request.partPath);
  renameSync(request.partPath, request.readyPath);
  fsyncPath(request.imagesDir);
  return { op: "prepare" };
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  try {
    const request = event.data;
    self.postMessage(request.op === "export" ? exportImage(request) : prepareImage(request));
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
};
