/**
 * Per-user quotas: how much a user's live files may take (bytes, and files), judged on the
 * newest live version of each name, the way the listing shows them. Pure: the state machine
 * decides on commit (deterministically, from the command and the replicated state); the
 * placeUpload handler asks the same question early so a refused upload stores nothing.
 * Only a change that grows usage is refused: deleting or shrinking is always allowed, even
 * over a quota lowered since.
 */

import { fail, ok, type Result } from "@ftfs/protocol/core";
import type { UserRecord, UserUsage, VersionRecord } from "./model.ts";

/**
 * Defaults for users without their own quota. Generous for one person's files on a small
 * cluster, small enough that one user cannot fill a storage group of a few disks by accident.
 */
export const QUOTA_BYTES_DEFAULT = 100 * 1024 ** 3;
/** Files per user: a listing of this many is still one answer (LIST_FILES_MAX bounds them). */
export const QUOTA_FILES_DEFAULT = 100_000;

/** The directory's defaults as a commit carries them; absent: no default limit. */
export interface QuotaDefaults {
  readonly quotaBytesDefault?: number;
  readonly quotaFilesDefault?: number;
}

export interface QuotaLimits {
  /** null: no limit */
  readonly bytes: number | null;
  readonly files: number | null;
}

export function limitsOf(user: UserRecord, defaults: QuotaDefaults): QuotaLimits {
  return {
    bytes: user.quotaBytes ?? defaults.quotaBytesDefault ?? null,
    files: user.quotaFiles ?? defaults.quotaFilesDefault ?? null,
  };
}

/** Usage once `bytes` become the newest version of a name whose newest record is `latest`. */
export function usageAfterPut(
  usage: UserUsage,
  latest: VersionRecord | undefined,
  bytes: number,
): UserUsage {
  if (latest?.kind === "live") return { bytes: usage.bytes - latest.bytes + bytes, files: usage.files };
  return { bytes: usage.bytes + bytes, files: usage.files + 1 };
}

/** Usage once the live newest version `latest` is deleted. */
export function usageAfterDelete(usage: UserUsage, latestBytes: number): UserUsage {
  return { bytes: usage.bytes - latestBytes, files: usage.files - 1 };
}

/** QUOTA_EXCEEDED naming the limit, when `after` grows usage past one. */
export function checkQuota(
  uid: string,
  name: string,
  before: UserUsage,
  after: UserUsage,
  limits: QuotaLimits,
): Result<void> {
  if (limits.bytes !== null && after.bytes > limits.bytes && after.bytes > before.bytes) {
    return fail(
      "QUOTA_EXCEEDED",
      `'${name}' would take user ${uid} past the quota of ${formatQuotaBytes(limits.bytes)} ` +
        `(${formatQuotaBytes(before.bytes)} used, ${formatQuotaBytes(after.bytes)} after)`,
    );
  }
  if (limits.files !== null && after.files > limits.files && after.files > before.files) {
    return fail(
      "QUOTA_EXCEEDED",
      `'${name}' would take user ${uid} past the quota of ${limits.files} files ` +
        `(${before.files} stored)`,
    );
  }
  return ok(undefined);
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** `10 MiB`, `1.5 GiB`: one decimal above a KiB, exact bytes below. */
export function formatQuotaBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text} ${UNITS[unit] ?? "B"}`;
}
