/**
 * What an upload reads from: a local file, read slice by slice so memory never holds more
 * than the chunks in flight, or bytes already in memory (tests, the bench). A file source
 * notices when the file changes under it (size or mtime moved, or a slice came back short),
 * so a half-old, half-new file is never committed.
 */

import { open, stat, type FileHandle } from "node:fs/promises";
import { FILE_BYTES_MAX, FtfsError } from "@ftfs/protocol/core";

export interface ByteSource {
  /** Shown in messages: the local path, or the remote name for in-memory bytes. */
  readonly label: string;
  readonly bytes: number;
  /**
   * Bytes [offset, offset + length). A file source reads into `into` (at least `length`
   * long) so an upload can recycle a few chunk buffers instead of allocating one per chunk;
   * the answer is then a view of `into`.
   */
  read(offset: number, length: number, into: Uint8Array): Promise<Uint8Array>;
  /** Fail with LOCAL_FILE if the source is no longer what it was when opened. */
  checkUnchanged(): Promise<void>;
  close(): Promise<void>;
}

interface FileIdentity {
  readonly bytes: number;
  readonly mtimeMs: number;
  readonly inode: number;
}

export async function openFileSource(path: string): Promise<ByteSource> {
  const opened = await identify(path);
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw localFileError(path, error);
  }
  const changed = (): FtfsError =>
    new FtfsError("LOCAL_FILE", `${path} changed while uploading; nothing was committed`);
  return {
    label: path,
    bytes: opened.bytes,
    read: async (offset, length, into) => {
      const view = into.subarray(0, length);
      let filled = 0;
      while (filled < length) {
        let got: number;
        try {
          ({ bytesRead: got } = await handle.read(view, filled, length - filled, offset + filled));
        } catch (error) {
          throw localFileError(path, error);
        }
        if (got === 0) throw changed(); // the file ended early: it shrank under us
        filled += got;
      }
      return view;
    },
    checkUnchanged: async () => {
      const now = await identify(path).catch(() => null);
      const same =
        now !== null &&
        now.bytes === opened.bytes &&
        now.mtimeMs === opened.mtimeMs &&
        now.inode === opened.inode;
      if (!same) throw changed();
    },
    close: () => handle.close(),
  };
}

export function memorySource(label: string, bytes: Uint8Array): ByteSource {
  return {
    label,
    bytes: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
    checkUnchanged: async () => undefined,
    close: async () => undefined,
  };
}

async function identify(path: string): Promise<FileIdentity> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    throw localFileError(path, error);
  }
  if (info.isDirectory()) throw new FtfsError("LOCAL_FILE", `${path} is a directory, not a file`);
  if (!info.isFile()) throw new FtfsError("LOCAL_FILE", `${path} is not a regular file`);
  if (info.size > FILE_BYTES_MAX)
    throw new FtfsError(
      "LOCAL_FILE",
      `${path} is larger than the ${FILE_BYTES_MAX}-byte file limit`,
    );
  return { bytes: info.size, mtimeMs: info.mtimeMs, inode: info.ino };
}

/** One clear line for the ways a local file can fail to open. */
export function localFileError(path: string, error: unknown): FtfsError {
  return new FtfsError("LOCAL_FILE", `${path}: ${fileErrorReason(error, "no such file")}`, {
    cause: error,
  });
}

/** A file-system error in a few words; `missing` says what ENOENT means where it happened. */
export function fileErrorReason(error: unknown, missing: string): string {
  switch (errorCode(error)) {
    case "ENOENT":
      return missing;
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
      return "a parent is not a directory";
    case "ENOSPC":
      return "no space left on the device";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" ? code : undefined;
}
