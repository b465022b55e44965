/**
 * A small disk for end-to-end tests: a tmpfs mounted as a node's data folder, which a filler
 * file takes to the last byte and which gets its space back when the filler goes. Needs root
 * (mount -t tmpfs); `smallDiskUnavailableReason` says why it cannot run here, so a test can
 * refuse to pass silently. Every mount made is recorded, and `unmountAll` (idempotent) undoes
 * them, from afterAll even when a test failed.
 */

import { expect, test } from "bun:test";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Filler writes: big ones until the disk refuses, then page-sized ones for the last bytes. */
const FILL_WRITE_BYTES = [1024 * 1024, 4096] as const;
const FILLER_NAME = "disk-filler";
/** The probe mount only has to exist for a moment. */
const PROBE_DISK_BYTES = 64 * 1024;

const mounted: string[] = [];
// A test run cut short (an uncaught error, a timeout) must not leave mounts behind.
process.on("exit", () => unmountAll());

function run(argv: readonly string[]): { ok: boolean; stderr: string } {
  const child = Bun.spawnSync([...argv], { stdout: "ignore", stderr: "pipe" });
  // The first line says why; the rest (mount's "dmesg(1) may have more") is noise.
  const firstLine = child.stderr.toString().trim().split("\n")[0] ?? "";
  return { ok: child.exitCode === 0, stderr: firstLine };
}

/** Why a tmpfs cannot be mounted here (not root, no CAP_SYS_ADMIN), or null when it can. */
export function smallDiskUnavailableReason(): string | null {
  if (process.platform !== "linux") return `tmpfs mounts need Linux, this is ${process.platform}`;
  const probe = mkdtempSync(join(tmpdir(), "ftfs-small-disk-probe-"));
  try {
    const made = run(["mount", "-t", "tmpfs", "-o", `size=${PROBE_DISK_BYTES}`, "tmpfs", probe]);
    if (!made.ok) return `cannot mount a tmpfs (needs root): ${made.stderr}`;
    run(["umount", probe]);
    return null;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/**
 * Call inside a suite's describe: a first test that fails naming the reason where a tmpfs
 * cannot be mounted (the suite needs root, as CI runs). Answers whether the suite can run; its
 * tests then fail on their own rather than being skipped.
 */
export function guardSmallDiskSuite(): boolean {
  const unavailable = smallDiskUnavailableReason();
  test("a tmpfs can be mounted (CI runs as root)", () => {
    expect(unavailable).toBeNull();
  });
  return unavailable === null;
}

/** Mounts a tmpfs of `bytes` at `dir` (created if missing). */
export function mountSmallDisk(dir: string, bytes: number): void {
  mkdirSync(dir, { recursive: true });
  const made = run(["mount", "-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir]);
  if (!made.ok) throw new Error(`cannot mount a tmpfs at ${dir}: ${made.stderr}`);
  mounted.push(dir);
}

/**
 * Fills the disk at `dir` to the last byte with one file; answers its path. The node keeps
 * writing meanwhile, so the file is appended to until the disk refuses rather than allocated
 * at a size measured in advance.
 */
export function fillDisk(dir: string): string {
  const path = join(dir, FILLER_NAME);
  const fd = openSync(path, "a");
  try {
    for (const size of FILL_WRITE_BYTES) {
      const zeros = new Uint8Array(size);
      for (;;) {
        try {
          writeSync(fd, zeros);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Gives the space back. */
export function unfillDisk(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** Unmounts every disk this process mounted (lazily if still busy). Idempotent. */
export function unmountAll(): void {
  for (const dir of mounted.splice(0)) {
    if (!run(["umount", dir]).ok) run(["umount", "-l", dir]);
  }
}
