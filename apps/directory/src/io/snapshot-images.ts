/**
 * Where a directory node keeps snapshot images on disk, beside its database: the images it can
 * send (`image-<sha256>.sqlite`, each a consistent copy of the database as of a snapshot's
 * index), the one it is receiving (`incoming-<sha256>.part`, whole parts durable), and the one
 * received, checked and ready to swap in (`incoming-<sha256>.ready`). Names carry the image's
 * SHA-256, so a file is never mistaken for another image. Owns the layout and the pruning;
 * knows nothing of Raft or of the transfer.
 */

import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/** Images kept to send: the newest, and the one before it for a transfer still under way. */
export const SNAPSHOT_IMAGES_KEPT = 2;

const IMAGE_PREFIX = "image-";
const IMAGE_SUFFIX = ".sqlite";
const INCOMING_PREFIX = "incoming-";
const PART_SUFFIX = ".part";
const READY_SUFFIX = ".ready";
/** A file a worker is still writing; never served, removed on the next start. */
const TEMPORARY_SUFFIX = ".tmp";

export class SnapshotImages {
  readonly dir: string;

  constructor(databasePath: string) {
    this.dir = join(dirname(databasePath), "snapshots");
    mkdirSync(this.dir, { recursive: true });
  }

  imagePath(sha256: string): string {
    return join(this.dir, `${IMAGE_PREFIX}${sha256}${IMAGE_SUFFIX}`);
  }

  partPath(sha256: string): string {
    return join(this.dir, `${INCOMING_PREFIX}${sha256}${PART_SUFFIX}`);
  }

  readyPath(sha256: string): string {
    return join(this.dir, `${INCOMING_PREFIX}${sha256}${READY_SUFFIX}`);
  }

  /** A fresh name for a file a worker writes before renaming it into place. */
  temporaryPath(what: string): string {
    return join(this.dir, `${what}-${process.pid}-${Date.now()}${TEMPORARY_SUFFIX}`);
  }

  /** Bytes of the partial image on disk (0: none). */
  partBytes(sha256: string): number {
    return fileBytes(this.partPath(sha256));
  }

  hasReady(sha256: string): boolean {
    return fileBytes(this.readyPath(sha256)) > 0;
  }

  hasImage(sha256: string): boolean {
    return fileBytes(this.imagePath(sha256)) > 0;
  }

  /** Drops incoming files of every image but `keepSha256` (one transfer at a time). */
  dropIncomingExcept(keepSha256: string | null): void {
    for (const name of this.names()) {
      if (!name.startsWith(INCOMING_PREFIX)) continue;
      if (keepSha256 !== null && name.includes(keepSha256)) continue;
      rmSync(join(this.dir, name), { force: true });
    }
  }

  /**
   * Keeps the newest SNAPSHOT_IMAGES_KEPT images (by modification time) and `keepSha256`, the
   * one the durable snapshot names, and drops the rest and any leftover temporary file.
   */
  prune(keepSha256: string | null): void {
    const images = this.names()
      .filter((name) => name.startsWith(IMAGE_PREFIX) && name.endsWith(IMAGE_SUFFIX))
      .map((name) => ({ name, modifiedMs: statSync(join(this.dir, name)).mtimeMs }))
      .sort((a, b) => b.modifiedMs - a.modifiedMs);
    for (const [rank, image] of images.entries()) {
      if (rank < SNAPSHOT_IMAGES_KEPT) continue;
      if (keepSha256 !== null && image.name.includes(keepSha256)) continue;
      rmSync(join(this.dir, image.name), { force: true });
    }
  }

  /** Files a crashed worker left behind: they were never renamed into place, so never used. */
  dropTemporary(): void {
    for (const name of this.names()) {
      if (name.endsWith(TEMPORARY_SUFFIX)) rmSync(join(this.dir, name), { force: true });
    }
  }

  private names(): string[] {
    return readdirSync(this.dir);
  }
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
}

/**
 * Makes a file's bytes, or a folder's entries (a rename or creation in it), durable: the one
 * synchronous fsync of the directory node (workers and the swap run it; SQLite fsyncs its own).
 */
export function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
