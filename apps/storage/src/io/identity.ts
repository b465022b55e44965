/**
 * The data folder's identity on disk (`identity.json` in `--data`): read at every start, made
 * at the folder's first start (or when an older build's folder is adopted), never changed
 * afterwards. Written to a temporary file, fsync'd, renamed into place, and the folder fsync'd:
 * a crash leaves no identity or the whole one, never half a file. What to do with what is found
 * is core/identity-rules.ts's decision; this file reads, writes, draws the random id and logs.
 */

import { access, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { assertNever, FOLDER_ID_BYTES, tryDecode } from "@ftfs/protocol/core";
import type { Logger } from "@ftfs/protocol/io";
import {
  ASSIGNMENT_FILE,
  CHUNKS_DIR,
  SEGMENTS_DIR,
  decideIdentity,
  folderIdentitySchema,
  IDENTITY_FILE,
  IDENTITY_TEMP_FILE,
  REFS_DB_FILE,
  type FolderIdentity,
} from "../core/index.ts";
import { type Fsync, UNTIMED_FSYNC } from "./fsync.ts";
import { isMissing } from "./fs-errors.ts";

/** The identity file exists but is not one we wrote (unreadable, not JSON, malformed). */
export class IdentityFileError extends Error {
  override readonly name = "IdentityFileError";
  readonly path: string;

  constructor(path: string, message: string, cause?: unknown) {
    super(`${path}: ${message}`, { cause });
    this.path = path;
  }
}

/** The data folder belongs to another storage node: this one must not start on it. */
export class ForeignFolderError extends Error {
  override readonly name = "ForeignFolderError";
  readonly dataDir: string;
  readonly owner: FolderIdentity;

  constructor(dataDir: string, node: string, owner: FolderIdentity) {
    super(
      `data folder ${dataDir} belongs to storage node ${owner.node} (folder ${owner.folderId}), ` +
        `not ${node}: start it with --node ${owner.node}, or give ${node} a folder of its own`,
    );
    this.dataDir = dataDir;
    this.owner = owner;
  }
}

export interface IdentityOptions {
  readonly dataDir: string;
  readonly node: string;
  readonly logger: Logger;
  /** Wall clock for `createdAtMs`. */
  readonly nowMs: () => number;
  /** Random bytes for the folder id; default crypto.getRandomValues. */
  readonly randomBytes?: (count: number) => Uint8Array;
  /** How the new identity is made durable (timed for /metrics); default untimed. */
  readonly fsync?: Fsync;
}

/**
 * This folder's identity for `node`: the one it holds, or a new one (first start, or an older
 * build's folder adopted). Throws ForeignFolderError for another node's folder, and
 * IdentityFileError for an identity file that is not ours.
 */
export async function openIdentity(options: IdentityOptions): Promise<FolderIdentity> {
  const { dataDir, node, logger } = options;
  await mkdir(dataDir, { recursive: true });
  const found = await readIdentity(dataDir);
  const decision = decideIdentity(found, node, await holdsData(dataDir));
  switch (decision.kind) {
    case "keep":
      return decision.identity;
    case "foreign":
      throw new ForeignFolderError(dataDir, node, decision.identity);
    case "create": {
      const identity = await writeIdentity(options, newIdentity(options));
      logger.info("new data folder: identity made", { data: dataDir, folderId: identity.folderId });
      return identity;
    }
    case "adopt": {
      const identity = await writeIdentity(options, newIdentity(options));
      logger.warn("data folder written by an older build (no identity): adopted", {
        data: dataDir,
        folderId: identity.folderId,
      });
      return identity;
    }
    default:
      return assertNever(decision, "identity decision");
  }
}

/** The identity in the folder, or null if it has none. */
export async function readIdentity(dataDir: string): Promise<FolderIdentity | null> {
  const path = join(dataDir, IDENTITY_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (isMissing(error)) return null;
    throw new IdentityFileError(path, "cannot be read", error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new IdentityFileError(path, "is not JSON", error);
  }
  const decoded = tryDecode(folderIdentitySchema, parsed);
  if (!decoded.ok) {
    throw new IdentityFileError(path, `is not a folder identity (${decoded.message})`);
  }
  return decoded.value;
}

function newIdentity(options: IdentityOptions): FolderIdentity {
  const draw = options.randomBytes ?? ((count) => crypto.getRandomValues(new Uint8Array(count)));
  const bytes = draw(FOLDER_ID_BYTES);
  return {
    node: options.node,
    folderId: Buffer.from(bytes).toString("hex"),
    createdAtMs: options.nowMs(),
  };
}

/** Record the identity durably; resolves once it survives a crash. */
async function writeIdentity(
  options: IdentityOptions,
  identity: FolderIdentity,
): Promise<FolderIdentity> {
  const fsync = options.fsync ?? UNTIMED_FSYNC;
  const text = `${JSON.stringify(identity)}\n`;
  await fsync.replaceFile(options.dataDir, IDENTITY_TEMP_FILE, IDENTITY_FILE, text);
  return identity;
}

/** The folder holds what an older build left: chunks, segments, owner references, an assignment. */
async function holdsData(dataDir: string): Promise<boolean> {
  for (const dir of [CHUNKS_DIR, SEGMENTS_DIR]) {
    const entries = await readdir(join(dataDir, dir)).catch((error: unknown) => {
      if (isMissing(error)) return [];
      throw error;
    });
    if (entries.length > 0) return true;
  }
  for (const file of [REFS_DB_FILE, ASSIGNMENT_FILE]) {
    if (await exists(join(dataDir, file))) return true;
  }
  return false;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}
