/**
 * One node's wall clock, moved while it runs: Debian's libfaketime preloaded into the node's
 * process, reading its offset from a file the nemesis rewrites. Owns the library's location,
 * the environment that preloads it, a probe that it works under Bun, and the offset files.
 *
 * Only the real-time clock is faked (FAKETIME_DONT_FAKE_MONOTONIC=1): Date.now() jumps, while
 * performance.now(), timers, Raft and gossip deadlines and the storage lease (all monotonic)
 * do not. The file is read again at most once a second (FAKETIME_CACHE_DURATION=1): re-reading
 * it on every clock call (FAKETIME_NO_CACHE=1) costs ~9 µs per Date.now() under Bun, measured,
 * against ~0.3 µs cached. File times stay real (NO_FAKE_STAT=1): a jumped node sees every chunk
 * file, even one written a moment ago, as older than its clock says by the jump (harsher than
 * a real jump, after which new files carry the jumped time).
 */

import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where Debian's `faketime` package (libfaketime) puts the library on x86-64. */
export const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/** A probe's offset: the probe must see Date.now() move by about this much. */
const PROBE_OFFSET_S = 3_600;
const PROBE_TOLERANCE_MS = 60_000;
const MS_PER_S = 1_000;

let probed: string | null | undefined;

/**
 * Why a node's clock cannot be moved here, or null when it can: the library must exist, and a
 * `bun -e` process with it preloaded must see Date.now() move while performance.now() does not
 * (Bun is linked against glibc, so LD_PRELOAD reaches its clock_gettime). Probed once.
 */
export function clockJumpUnavailableReason(): string | null {
  if (probed !== undefined) return probed;
  probed = probe();
  return probed;
}

function probe(): string | null {
  if (!existsSync(LIBFAKETIME)) return `${LIBFAKETIME} is missing (apt-get install faketime)`;
  const folder = mkdtempSync(join(tmpdir(), "ftfs-clock-probe-"));
  try {
    const file = join(folder, "offset");
    setClockOffset(file, PROBE_OFFSET_S);
    const [command, ...assignments] = fakeClockEnv(file);
    const script = "console.log(Date.now())";
    const argv = [command ?? "env", ...assignments, process.execPath, "-e", script];
    const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
    if (result.exitCode !== 0) {
      return `bun with libfaketime preloaded failed: ${result.stderr.toString().trim()}`;
    }
    const movedMs = Number(result.stdout.toString().trim()) - Date.now();
    if (!(Math.abs(movedMs - PROBE_OFFSET_S * MS_PER_S) <= PROBE_TOLERANCE_MS)) {
      return `libfaketime in bun moved Date.now() by ${movedMs} ms, not ${PROBE_OFFSET_S} s`;
    }
    return null;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** The offset file of one node, under the run's data root. */
export function clockFile(dataRoot: string, id: string): string {
  return join(dataRoot, `clock-${id}`);
}

/** Sets a node's clock offset (seconds, may be 0); it takes effect within a second. */
export function setClockOffset(file: string, offsetS: number): void {
  writeFileSync(file, `${offsetS >= 0 ? "+" : ""}${offsetS}\n`);
}

/** `env` arguments that exec the node with libfaketime preloaded, its offset read from `file`. */
export function fakeClockEnv(file: string): string[] {
  return [
    "env",
    `LD_PRELOAD=${LIBFAKETIME}`,
    `FAKETIME_TIMESTAMP_FILE=${file}`,
    "FAKETIME_CACHE_DURATION=1",
    "FAKETIME_DONT_FAKE_MONOTONIC=1",
    "NO_FAKE_STAT=1",
  ];
}
