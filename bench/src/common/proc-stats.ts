/**
 * A process's resident memory right now and the CPU time it has used, from Linux's procfs.
 * The peak (VmHWM) is process-memory.ts's; a figure "after" a workload wants both: the peak
 * says what it needed, the current value what it keeps. CPU time over a window says whether
 * a throughput figure was bounded by the disk or by the (shared, small) CPU.
 */

import { readFile } from "node:fs/promises";

const KIB = 1024;
/** Linux reports CPU time in USER_HZ ticks, 100 per second on every mainstream architecture. */
const CLOCK_TICKS_PER_SECOND = 100;
/** utime and stime are fields 14 and 15 of /proc/<pid>/stat, counted after the `(comm)` field. */
const UTIME_AFTER_COMM = 11;
const STIME_AFTER_COMM = 12;

async function readProc(path: string): Promise<string | null> {
  try {
    // procfs files report size 0, so read them with a plain read, not Bun.file's sized read.
    return await readFile(path, "utf8");
  } catch {
    return null; // the process has exited
  }
}

export async function currentRssBytes(pid: number): Promise<number | null> {
  const text = await readProc(`/proc/${pid}/status`);
  const match = text === null ? null : /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  return match === null || match === undefined ? null : Number(match[1]) * KIB;
}

/** User + system CPU seconds the process has used so far. */
export async function cpuSeconds(pid: number): Promise<number | null> {
  const text = await readProc(`/proc/${pid}/stat`);
  if (text === null) return null;
  // The command name may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[UTIME_AFTER_COMM]);
  const stime = Number(fields[STIME_AFTER_COMM]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}
