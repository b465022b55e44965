/**
 * Nodes started by a launcher (tests, the bench, `bun run dev`) get FTFS_PARENT_PID; when that
 * process is gone (a test runner killed by a timeout, a closed terminal), the node stops itself
 * gracefully instead of living on as an orphan that holds its ports and data folder.
 */

export const PARENT_CHECK_INTERVAL_MS = 1_000;
export const PARENT_PID_ENV = "FTFS_PARENT_PID";

/** Whether a process with this pid exists (ours to signal or not). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means it exists but is not ours to signal: still alive.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Start watching when FTFS_PARENT_PID is set; on the parent's exit, SIGTERM ourselves. */
export function exitWithParent(
  onOrphaned: () => void = () => process.kill(process.pid, "SIGTERM"),
): void {
  const raw = process.env[PARENT_PID_ENV];
  if (raw === undefined || raw === "") return;
  const parentPid = Number(raw);
  if (!Number.isSafeInteger(parentPid) || parentPid <= 1) return;
  const timer = setInterval(() => {
    if (processAlive(parentPid)) return;
    clearInterval(timer);
    onOrphaned();
  }, PARENT_CHECK_INTERVAL_MS);
  timer.unref();
}
