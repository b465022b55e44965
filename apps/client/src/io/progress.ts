/**
 * Progress bars for long transfers, on stderr, only when stderr is a terminal (scripts and
 * pipes never see them) and only for transfers longer than one chunk. Redraws are rate
 * limited; the bar erases itself when the transfer ends so the result line stands alone.
 */

import { formatBytes } from "@ftfs/protocol/core";
import { PROGRESS_BAR_COLUMNS, PROGRESS_REDRAW_INTERVAL_MS } from "../core/limits.ts";
import type { ProgressListener, TransferProgress } from "@ftfs/client";

export interface ProgressTerminal {
  readonly isTty: boolean;
  write(text: string): void;
}

const MS_PER_SECOND = 1000;
const CLEAR_LINE = "\r\u001b[2K";

export function progressBar(
  label: string,
  terminal: ProgressTerminal,
): ProgressListener | undefined {
  if (!terminal.isTty) return undefined;
  const startedMs = Date.now();
  let drawnMs = 0;
  let visible = false;
  return (progress: TransferProgress) => {
    if (progress.chunks <= 1) return;
    const nowMs = Date.now();
    const finished = progress.doneBytes >= progress.totalBytes;
    if (finished) {
      if (visible) terminal.write(CLEAR_LINE);
      visible = false;
      return;
    }
    if (nowMs - drawnMs < PROGRESS_REDRAW_INTERVAL_MS) return;
    drawnMs = nowMs;
    visible = true;
    terminal.write(`${CLEAR_LINE}${renderBar(label, progress, nowMs - startedMs)}`);
  };
}

export function renderBar(label: string, progress: TransferProgress, elapsedMs: number): string {
  const fraction = progress.totalBytes === 0 ? 1 : progress.doneBytes / progress.totalBytes;
  const filled = Math.round(fraction * PROGRESS_BAR_COLUMNS);
  const bar = `${"#".repeat(filled)}${"-".repeat(PROGRESS_BAR_COLUMNS - filled)}`;
  const rate =
    elapsedMs > 0
      ? `${formatBytes(Math.round((progress.doneBytes * MS_PER_SECOND) / elapsedMs))}/s`
      : "";
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const amount = `${formatBytes(progress.doneBytes)}/${formatBytes(progress.totalBytes)}`;
  return `${label} [${bar}] ${percent} ${amount} ${rate}`;
}
