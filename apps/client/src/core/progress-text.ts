/**
 * The text of a progress line: label, bar, percent, bytes, rate and time left, for a transfer
 * of known size; label, bytes and rate for a stream. Pure: the caller measures the time.
 * The rate is this run's (bytes a resumed upload found already stored are not counted), so
 * the time left is what this run still needs.
 */

import { formatBytes } from "@ftfs/protocol/core";
import { PROGRESS_BAR_COLUMNS, PROGRESS_LABEL_COLUMNS } from "./limits.ts";

const MS_PER_SECOND = 1000;
const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;
const PERCENT = 100;

export interface ProgressFacts {
  readonly doneBytes: number;
  readonly totalBytes: number | null;
  readonly resumedBytes?: number;
}

export function renderProgress(label: string, progress: ProgressFacts, elapsedMs: number): string {
  const shown = fitLabel(label);
  const movedBytes = progress.doneBytes - (progress.resumedBytes ?? 0);
  const bytesPerSecond = elapsedMs > 0 ? (movedBytes * MS_PER_SECOND) / elapsedMs : 0;
  const rate = elapsedMs > 0 ? `${formatBytes(Math.round(bytesPerSecond))}/s` : "";
  if (progress.totalBytes === null) return `${shown}  ${formatBytes(progress.doneBytes)}  ${rate}`;
  const total = progress.totalBytes;
  const fraction = total === 0 ? 1 : Math.min(1, progress.doneBytes / total);
  const filled = Math.round(fraction * PROGRESS_BAR_COLUMNS);
  const bar = `${"#".repeat(filled)}${"-".repeat(PROGRESS_BAR_COLUMNS - filled)}`;
  const percent = `${Math.floor(fraction * PERCENT)}%`.padStart(4);
  const amount = `${formatBytes(progress.doneBytes)}/${formatBytes(total)}`;
  const left = bytesPerSecond > 0 ? (total - progress.doneBytes) / bytesPerSecond : null;
  return `${shown} [${bar}] ${percent} ${amount} ${rate} ETA ${formatEta(left)}`;
}

/** `7 s`, `2 min 05 s`, `1 h 02 min`; `--` while no rate is known yet. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "--";
  const whole = Math.max(0, Math.ceil(seconds));
  if (whole < SECONDS_PER_MINUTE) return `${whole} s`;
  const two = (value: number): string => String(value).padStart(2, "0");
  if (whole < SECONDS_PER_HOUR) {
    return `${Math.floor(whole / SECONDS_PER_MINUTE)} min ${two(whole % SECONDS_PER_MINUTE)} s`;
  }
  const minutes = Math.floor((whole % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE);
  return `${Math.floor(whole / SECONDS_PER_HOUR)} h ${two(minutes)} min`;
}

/** A long name is cut with an ellipsis so the line fits a terminal. */
function fitLabel(label: string): string {
  const chars = [...label];
  if (chars.length <= PROGRESS_LABEL_COLUMNS) return label;
  return `${chars.slice(0, PROGRESS_LABEL_COLUMNS - 1).join("")}…`;
}
