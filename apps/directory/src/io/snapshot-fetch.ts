/**
 * A directory node's side of receiving a snapshot image (core/raft/snapshot-image.ts). The
 * primary's Raft core sends an installSnapshot naming an image (its size and SHA-256); this
 * node steps it into its own core only once the image is on its disk, whole, checked and ready
 * to swap in. Until then each such message (Raft repeats it every heartbeat) is dropped, and
 * the image is pulled from the sender one part at a time: each part checked against its hash,
 * written and fsync'd before the next is asked for, so memory holds one part and a dropped link
 * or a restart resumes from the parts on disk. Once whole, a worker hashes the file and readies
 * it (snapshot-worker.ts); the message is then stepped in and the replicator swaps it in.
 *
 * Owns the transfer's I/O and its retries; the Raft rules are the core's, the file layout is
 * snapshot-images.ts's. One transfer at a time.
 */

import { type FileHandle, open } from "node:fs/promises";
import { FtfsError, raft } from "@ftfs/protocol/core";
import { type Logger, sha256Hex } from "@ftfs/protocol/io";
import type { SnapshotStats } from "./replicator.ts";
import { prepareImageInWorker, SnapshotImageMismatchError } from "./snapshot-export.ts";
import type { SnapshotImages } from "./snapshot-images.ts";

/** Parts refused (torn or forged) in one transfer before it is given up as hostile. */
export const SNAPSHOT_PART_REFUSALS_MAX = 8;

/** How long one part may take to come back before the link counts as lost. */
export const SNAPSHOT_PART_TIMEOUT_MS = 30_000;

/** One part as the sender answered it. */
export interface FetchedPart {
  readonly offset: number;
  readonly sha256: string;
  readonly payload: Uint8Array;
}

export interface SnapshotFetchOptions {
  readonly images: SnapshotImages;
  readonly logger: Logger;
  /** Where a member is reached (the sender of the snapshot). */
  readonly addressOf: (id: string) => string | undefined;
  /** Asks `address` for one part of an image (the raftSnapshotPart op). */
  readonly fetchPart: (
    address: string,
    request: { readonly image: string; readonly offset: number; readonly bytes: number },
  ) => Promise<FetchedPart>;
  /** Whether an image may be swapped in now (no export is copying the database). */
  readonly mayInstall: () => boolean;
  /** Steps a message into Raft (the replicator). */
  readonly step: (message: raft.InstallSnapshot) => void;
  /** The node's snapshot counts: bytes received and transfers resumed go there. */
  readonly snapshots: SnapshotStats;
  /** Bytes per part asked for; default SNAPSHOT_IMAGE_PART_BYTES (tests use smaller parts). */
  readonly partBytes?: number;
}

interface Transfer {
  readonly image: raft.SnapshotImage;
  /** The newest message naming this image: the one stepped in once it is ready. */
  message: raft.InstallSnapshot;
}

export class SnapshotFetcher {
  private readonly options: SnapshotFetchOptions;
  private running: Transfer | null = null;
  /** A readied image's message, waiting for a moment it may be swapped in. */
  private waiting: raft.InstallSnapshot | null = null;
  private stopped = false;

  constructor(options: SnapshotFetchOptions) {
    this.options = options;
    options.images.dropTemporary();
  }

  /**
   * True: step `message` into Raft now (its snapshot is inline data, or its image is ready).
   * False: it was dropped while its image is fetched; a later one will be let through.
   */
  admit(message: raft.InstallSnapshot): boolean {
    const image = raft.decodeSnapshotImage(message.snapshot.data);
    if (image === null) return true;
    if (this.options.images.hasReady(image.sha256)) {
      if (this.options.mayInstall()) {
        this.waiting = null;
        return true;
      }
      this.waiting = message;
      return false;
    }
    const running = this.running;
    if (running !== null) {
      // A newer image from the primary waits for this transfer: its image is still served.
      if (running.image.sha256 === image.sha256) running.message = message;
      return false;
    }
    if (!this.stopped) this.start({ image, message });
    return false;
  }

  /** Steps a readied image's message in, if it waits and an install may run now. */
  retryInstall(): void {
    const message = this.waiting;
    if (message === null || !this.options.mayInstall()) return;
    this.waiting = null;
    // Only an image still ready on disk: the swap must find it (a newer transfer drops it).
    const image = raft.decodeSnapshotImage(message.snapshot.data);
    if (image !== null && this.options.images.hasReady(image.sha256)) this.options.step(message);
  }

  stop(): void {
    this.stopped = true;
  }

  private start(transfer: Transfer): void {
    this.running = transfer;
    // The transfer drops every other image's files: one waiting to be swapped in goes too.
    this.waiting = null;
    const { logger } = this.options;
    void this.fetch(transfer)
      .then(() => {
        this.waiting = transfer.message;
        logger.info("snapshot image received and checked", {
          bytes: transfer.image.bytes,
          index: transfer.message.snapshot.index,
        });
        this.retryInstall();
      })
      .catch((error: unknown) => {
        const code = error instanceof FtfsError ? error.code : "INTERNAL";
        logger.info("snapshot image transfer stopped; it resumes with the primary's next try", {
          code,
          error: error instanceof Error ? error.message : String(error),
          from: transfer.message.from,
        });
        if (error instanceof SnapshotImageMismatchError) {
          logger.error("a received snapshot image did not match its hash; fetching it again", {});
        }
      })
      .finally(() => {
        this.running = null;
      });
  }

  private async fetch(transfer: Transfer): Promise<void> {
    const { images, logger } = this.options;
    const { image } = transfer;
    images.dropIncomingExcept(image.sha256);
    const path = images.partPath(image.sha256);
    const onDisk = images.partBytes(image.sha256);
    const partBytes = this.options.partBytes ?? raft.SNAPSHOT_IMAGE_PART_BYTES;
    const pull = new raft.ImagePull(image, onDisk, partBytes);
    if (pull.resumeOffset > 0) this.options.snapshots.resumed += 1;
    logger.info(
      pull.resumeOffset > 0 ? "snapshot image transfer resumed" : "snapshot image transfer started",
      {
        from: transfer.message.from,
        offset: pull.resumeOffset,
        bytes: image.bytes,
      },
    );
    const startedMs = performance.now();
    const resumedFrom = pull.resumeOffset;
    const handle = await open(path, onDisk > 0 ? "r+" : "w+");
    try {
      await handle.truncate(pull.resumeOffset);
      while (!pull.complete) await this.fetchPart(transfer, pull, handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const fetchedMs = performance.now();
    await prepareImageInWorker(images, image, transfer.message.snapshot.index);
    // Where a catch-up's time goes: the parts over the link, then the whole-file checks.
    logger.info("snapshot image transfer done", {
      fetchMs: Math.round(fetchedMs - startedMs),
      checkMs: Math.round(performance.now() - fetchedMs),
      fetchedBytes: image.bytes - resumedFrom,
    });
  }

  /** One part: asked, checked, written and fsync'd. */
  private async fetchPart(transfer: Transfer, pull: raft.ImagePull, handle: FileHandle) {
    if (this.stopped) throw new Error("directory node is stopping");
    const request = pull.nextRequest();
    if (request === null) throw new Error("snapshot transfer has no part to ask for");
    const from = transfer.message.from;
    const address = this.options.addressOf(from);
    if (address === undefined) throw new Error(`no address known for ${from}`);
    let part: FetchedPart;
    try {
      part = await this.options.fetchPart(address, { image: transfer.image.sha256, ...request });
    } catch (error) {
      pull.linkLost();
      throw error;
    }
    const hashMatches = sha256Hex(part.payload) === part.sha256;
    const verdict = pull.received(part.offset, part.payload.length, hashMatches);
    if (verdict.kind !== "write") {
      this.options.logger.info("snapshot image part refused; asking again", {
        offset: request.offset,
      });
      pull.linkLost();
      if (pull.refused >= SNAPSHOT_PART_REFUSALS_MAX) {
        throw new Error(`${pull.refused} parts of the snapshot image did not match their hash`);
      }
      return;
    }
    try {
      await handle.write(part.payload, 0, part.payload.length, verdict.offset);
      await handle.datasync();
    } catch (error) {
      pull.writeFailed(verdict.offset);
      throw error;
    }
    pull.durable(verdict.offset);
    this.options.snapshots.receivedBytes += part.payload.length;
  }
}
