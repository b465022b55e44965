/**
 * Progress bars for long transfers, on stderr, only when stderr is a terminal (scripts and
 * pipes never see them) and only for transfers longer than one chunk. Redraws are rate
 * limited; the bar erases itself when the transfer ends so the result line stands alone.
 * What the line says is core/progress-text.ts.
 */

import type { ProgressListener, TransferProgress } from "@ftfs/client";
import { PROGRESS_REDRAW_INTERVAL_MS } from "../core/limits.ts";
import { renderProgress } from "../core/progress-text.ts";

export interface ProgressTerminal {
  readonly isTty: boolean;
  write(text: string): void;
}

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
    const finished = progress.totalBytes !== null && progress.doneBytes >= progress.totalBytes;
    if (finished) {
      if (visible) terminal.write(CLEAR_LINE);
      visible = false;
      return;
    }
    if (progress.chunks <= 1) return;
    const nowMs = Date.now();
    if (nowMs - drawnMs < PROGRESS_REDRAW_INTERVAL_MS) return;
    drawnMs = nowMs;
    visible = true;
    terminal.write(`${CLEAR_LINE}${renderProgress(label, progress, nowMs - startedMs)}`);
  };
}
