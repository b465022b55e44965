/**
 * Which FTFS this is: the version and the commit it was built from. The one binary carries
 * both, set by `bun run build` (build.ts); run from a checkout, the version is the package's
 * and the commit is asked of git (or "unknown" where there is no git).
 */

import { resolve } from "node:path";
import { FTFS_VERSION } from "../core/version.ts";

/** Set by build.ts with `define`; undefined from a checkout. */
declare const FTFS_BUILD_VERSION: string | undefined;
declare const FTFS_BUILD_COMMIT: string | undefined;

const REPO_ROOT = resolve(import.meta.dir, "../../../..");

export interface BuildInfo {
  readonly version: string;
  readonly commit: string;
  /** True in the compiled binary; false when run from a checkout. */
  readonly compiled: boolean;
}

export function buildInfo(): BuildInfo {
  if (typeof FTFS_BUILD_VERSION === "string" && typeof FTFS_BUILD_COMMIT === "string") {
    return { version: FTFS_BUILD_VERSION, commit: FTFS_BUILD_COMMIT, compiled: true };
  }
  return { version: FTFS_VERSION, commit: checkoutCommit(), compiled: false };
}

/** The checkout's commit, `-dirty` when it has changes not committed; "unknown" without git. */
export function checkoutCommit(): string {
  try {
    const described = Bun.spawnSync(["git", "describe", "--always", "--dirty", "--abbrev=12"], {
      cwd: REPO_ROOT,
      stdout: "pipe",
      stderr: "ignore",
    });
    const commit = described.stdout.toString().trim();
    return described.exitCode === 0 && commit !== "" ? commit : "unknown";
  } catch {
    return "unknown"; // no git on this machine
  }
}

/** What `ftfs --version` prints: the program, the commit, and the wire protocol's number. */
export function versionLine(protocolVersion: number, info: BuildInfo = buildInfo()): string {
  const from = info.compiled ? "" : ", run from a checkout";
  return `ftfs ${info.version} (commit ${info.commit}${from}; protocol ${protocolVersion})`;
}
