/**
 * Per-user quotas: how much a user's files may take: bytes of every kept version (what is on
 * disk for them: the newest and the older ones the keep policy holds), and files (names whose
 * newest version is live, the way the listing shows them). Pure: the state machine
 * decides on commit (deterministically, from the command and the replicated state); the
 * placeUpload handler asks the same question early so a refused upload stores nothing.
 * Only a change that grows usage is refused: deleting or shrinking is always allowed, even
 * over a quota lowered since.
 */

import {
  fail,
  HOME_BUCKET,
  objectOfStoredName,
  ok,
  partOfStoredName,
  type Result,
} from "@ftfs/protocol/core";
import type { LiveVersion, UserRecord, UserUsage } from "./model.ts";
import type { MetadataView } from "./store.ts";

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

/**
 * A name's kept versions, newest first: live, above its newest tombstone, not pruned. They are
 * what the name takes on disk, so what its owner's usage counts.
 */
export function keptVersions(view: MetadataView, uid: string, name: string): LiveVersion[] {
  const since = view.deletedThrough(uid, name) + 1;
  return view
    .listVersions(uid, name, since)
    .filter((record): record is LiveVersion => record.kind === "live" && record.pruned !== true)
    .reverse();
}

/**
 * The name's bucket has S3 versioning on (either state): its deletes leave delete markers,
 * and its versions go only when deleted by number. The home bucket and parts never have it.
 */
export function versioningOn(view: MetadataView, uid: string, name: string): boolean {
  if (partOfStoredName(name) !== null) return false;
  const { bucket } = objectOfStoredName(name);
  return bucket !== HOME_BUCKET && view.getBucket(uid, bucket)?.versioning !== undefined;
}

/** The keep policy a commit of `name` follows: none (keep all) where versioning is on. */
export function keepPolicy(
  view: MetadataView,
  uid: string,
  name: string,
  keepVersions: number | undefined,
): number | undefined {
  return versioningOn(view, uid, name) ? undefined : keepVersions;
}

/** What committing `bytes` as a name's newest version does to its owner's usage. */
export interface CommitPlan {
  /** Kept versions the keep policy prunes once the new one is in (oldest last). */
  readonly pruned: readonly LiveVersion[];
  readonly usage: UserUsage;
}

/**
 * The commit's effect: the new version is kept, and so are the newest `keepVersions - 1` of the
 * name's kept versions (all of them when the policy is absent: commands logged before it); the
 * rest are pruned, and usage counts what stays. `usage`: the user's before the commit (a
 * multipart completion's, once its parts are gone); default, the stored one.
 */
export function planCommit(
  view: MetadataView,
  uid: string,
  name: string,
  bytes: number,
  keepVersions: number | undefined,
  usage: UserUsage = view.getUsage(uid),
): CommitPlan {
  const kept = keptVersions(view, uid, name);
  const pruned = keepVersions === undefined ? [] : kept.slice(Math.max(0, keepVersions - 1));
  const prunedBytes = pruned.reduce((sum, record) => sum + record.bytes, 0);
  const newName = view.currentVersion(uid, name)?.kind !== "live";
  return {
    pruned,
    usage: { bytes: usage.bytes + bytes - prunedBytes, files: usage.files + (newName ? 1 : 0) },
  };
}

/** Usage once a name is deleted: its kept versions' bytes, and the name, go. */
export function usageAfterDelete(usage: UserUsage, keptBytes: number): UserUsage {
  return { bytes: usage.bytes - keptBytes, files: usage.files - 1 };
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
