/**
 * Peak resident memory of a process, from Linux's /proc/<pid>/status (VmHWM is the high-water
 * mark the kernel keeps, so one read at the end sees the peak; sampling is only needed for a
 * process that may exit first).
 */

import { readFile } from "node:fs/promises";

const KIB = 1024;

export async function peakRssBytes(pid: number): Promise<number | null> {
  let text: string;
  try {
    // procfs files report size 0, so read them with a plain read, not Bun.file's sized read.
    text = await readFile(`/proc/${pid}/status`, "utf8");
  } catch {
    return null; // the process has exited
  }
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(text);
  return match === null ? null : Number(match[1]) * KIB;
}

/** Sample a short-lived process's peak RSS until it exits; returns the last peak seen. */
export function trackPeakRss(pid: number, intervalMs: number): { stop(): Promise<number | null> } {
  let peak: number | null = null;
  const sample = async (): Promise<void> => {
    const value = await peakRssBytes(pid);
    if (value !== null) peak = Math.max(peak ?? 0, value);
  };
  const timer = setInterval(() => void sample(), intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await sample();
      return peak;
    },
  };
}
