/**
 * The free and total bytes of the file system that holds the data folder (statfs), as the
 * node's /metrics and its default capacity read them. statfs is asynchronous, and a scrape
 * must not wait on a disk that stalls, so a scrape reads the last sample and asks for a new
 * one (at most one in flight): the value shown is one scrape old. This file decides nothing.
 */

import { statfs } from "node:fs/promises";
import { describeError, type Logger } from "@ftfs/protocol/io";

export interface DiskSample {
  /** Bytes this process may still write (the blocks free to unprivileged users). */
  readonly freeBytes: number;
  readonly sizeBytes: number;
}

/** How the file system is asked; a test gives its own. */
export type StatFs = (path: string) => Promise<DiskSample>;

export class DiskSpace {
  private last: DiskSample;
  private sampling = false;
  /** Samples that failed (the last good one is kept, and the failure logged). */
  failures = 0;

  private constructor(
    private readonly path: string,
    private readonly logger: Logger,
    private readonly read: StatFs,
    first: DiskSample,
  ) {
    this.last = first;
  }

  /** Samples the file system of `path` once before it answers (the first value is current). */
  static async open(path: string, logger: Logger, read: StatFs = statFs): Promise<DiskSpace> {
    return new DiskSpace(path, logger, read, await read(path));
  }

  get sample(): DiskSample {
    return this.last;
  }

  /** Starts a new sample unless one is under way; `sample` shows it once it is taken. */
  refresh(): void {
    if (this.sampling) return;
    this.sampling = true;
    this.read(this.path)
      .then((sample) => {
        this.last = sample;
      })
      .catch((error: unknown) => {
        this.failures += 1;
        this.logger.warn("cannot read the data folder's free space", {
          error: describeError(error),
        });
      })
      .finally(() => {
        this.sampling = false;
      });
  }
}

async function statFs(path: string): Promise<DiskSample> {
  const info = await statfs(path);
  const blockBytes = Number(info.bsize);
  return {
    freeBytes: safeBytes(Number(info.bavail) * blockBytes),
    sizeBytes: safeBytes(Number(info.blocks) * blockBytes),
  };
}

function safeBytes(bytes: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, bytes);
}
