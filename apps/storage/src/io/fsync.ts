/**
 * Every fsync a storage node makes goes through here, timed: a file's bytes (chunks, the
 * identity and assignment files), a folder (a rename or creation in it), and a commit of the
 * owner references. SQLite fsyncs inside its own commit, out of our reach, so for references
 * the whole commit is timed; its fsync is most of it. The times go to an observer (the node's
 * /metrics), so a slow disk shows as slow fsyncs rather than as slow requests of unknown cause.
 *
 * fsyncs of one folder, or of one log, asked for while one runs share the next one, which
 * starts when it ends (SharedSyncs): each caller still hears only of an fsync that started after
 * its call, and concurrent writers into one folder (or rounds of one log) cost the disk one
 * fsync at a time instead of one each.
 *
 * Also the one way a small state file is replaced durably: a temporary file, fsync'd, renamed
 * into place, the folder fsync'd, so a crash leaves the old file or the new, never half of one.
 * This file decides nothing about what is written where.
 */

import { fdatasync, fdatasyncSync } from "node:fs";
import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";

/** What an fsync made durable; a label of the fsync histogram, so a short fixed list. */
export const FSYNC_TARGETS = ["file", "folder", "references"] as const;
export type FsyncTarget = (typeof FSYNC_TARGETS)[number];

/** Told how long each fsync (or reference commit) took. */
export type FsyncObserver = (target: FsyncTarget, seconds: number) => void;

/**
 * Runs at most one sync per key at a time; callers that come while one runs share the next,
 * which starts when it ends (never earlier: what they wrote may have missed the running one).
 */
export class SharedSyncs {
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, Promise<void>>();

  sync(key: string, start: () => Promise<void>): Promise<void> {
    const running = this.running.get(key);
    if (running === undefined) return this.begin(key, start);
    const queued = this.queued.get(key);
    if (queued !== undefined) return queued;
    const next = running.then(settledQuietly, settledQuietly).then(() => {
      this.queued.delete(key);
      return this.begin(key, start);
    });
    this.queued.set(key, next);
    return next;
  }

  private begin(key: string, start: () => Promise<void>): Promise<void> {
    const run = start().finally(() => {
      if (this.running.get(key) === run) this.running.delete(key);
    });
    this.running.set(key, run);
    return run;
  }
}

export class Fsync {
  private readonly observe: FsyncObserver | null;
  private readonly monotonicMs: () => number;
  private readonly shared = new SharedSyncs();

  /** Without an observer nothing is timed (tests, tools). */
  constructor(observe: FsyncObserver | null = null, monotonicMs = () => performance.now()) {
    this.observe = observe;
    this.monotonicMs = monotonicMs;
  }

  /** fsync an open file: once this resolves, its bytes are on disk. */
  async file(handle: FileHandle): Promise<void> {
    const startedMs = this.monotonicMs();
    await handle.sync();
    this.timed("file", startedMs);
  }

  /**
   * fsync a folder, so a rename or creation inside it survives a power cut (shared with the
   * callers that come while one of the same folder runs).
   */
  folder(path: string): Promise<void> {
    return this.shared.sync(`folder:${path}`, () => this.folderNow(path));
  }

  private async folderNow(path: string): Promise<void> {
    const handle = await open(path, "r");
    try {
      const startedMs = this.monotonicMs();
      await handle.sync();
      this.timed("folder", startedMs);
    } finally {
      await handle.close();
    }
  }

  /**
   * Run a synchronous SQLite commit, then fsync its write-ahead log (`logFd`; null: an
   * in-memory database, nothing to sync) before this returns; timed as one reference commit.
   */
  commit<T>(work: () => T, logFd: number | null): T {
    const startedMs = this.monotonicMs();
    const result = work();
    if (logFd !== null) fdatasyncSync(logFd);
    this.timed("references", startedMs);
    return result;
  }

  /**
   * fsync a SQLite write-ahead log off the event loop: once this resolves, every commit made
   * before the call is on disk. Timed as a reference commit (it is the commit's fsync). Calls
   * that come while one runs share the next.
   */
  log(logFd: number): Promise<void> {
    return this.shared.sync(`log:${logFd}`, () => this.logNow(logFd));
  }

  private async logNow(logFd: number): Promise<void> {
    const startedMs = this.monotonicMs();
    await datasync(logFd);
    this.timed("references", startedMs);
  }

  /**
   * fdatasync a segment file open as `fd` (its records and its length): once this resolves,
   * every record written before the call is on disk. Timed as a file fsync. Calls that come
   * while one runs share the next, so concurrent small chunk writes cost one fsync together.
   */
  segment(fd: number): Promise<void> {
    return this.shared.sync(`segment:${fd}`, async () => {
      const startedMs = this.monotonicMs();
      await datasync(fd);
      this.timed("file", startedMs);
    });
  }

  /** Replace `folder/name` with `text`, durably, through `folder/tempName`. */
  async replaceFile(folder: string, tempName: string, name: string, text: string): Promise<void> {
    const temp = join(folder, tempName);
    await rm(temp, { force: true }); // a crash leftover
    const handle = await open(temp, "wx");
    try {
      await handle.writeFile(text);
      await this.file(handle);
    } finally {
      await handle.close();
    }
    await rename(temp, join(folder, name));
    await this.folder(folder);
  }

  private timed(target: FsyncTarget, startedMs: number): void {
    this.observe?.(target, (this.monotonicMs() - startedMs) / 1000);
  }
}

function settledQuietly(): void {}

function datasync(fd: number): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    fdatasync(fd, (error) => (error === null ? resolve() : reject(error))),
  );
}

/** For callers that time nothing (tests, tools): fsyncs all the same. */
export const UNTIMED_FSYNC = new Fsync();
