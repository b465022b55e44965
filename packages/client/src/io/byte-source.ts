/**
 * What an upload reads from: a local file, read slice by slice so memory never holds more
 * than the chunks in flight, or bytes already in memory (tests, the bench). A file source
 * notices when the file changes under it (size or mtime moved, or a slice came back short),
 * so a half-old, half-new file is never committed.
 */

import { open, stat, type FileHandle } from "node:fs/promises";
import { resolve } from "node:path";
import { FILE_BYTES_MAX, FtfsError } from "@ftfs/protocol/core";
import type { SourceIdentity } from "../core/upload-journal.ts";

export interface ByteSource {
  /** Shown in messages: the local path, or the remote name for in-memory bytes. */
  readonly label: string;
  /**
   * The size; null for a stream whose length is known only at its end (stdin): its reads come
   * in order, and a read returns fewer bytes than asked only at the end (none: it ended).
   */
  readonly bytes: number | null;
  /** Which local file this is, for an upload journal; absent for bytes that are not a file. */
  readonly identity?: SourceIdentity;
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

const MICROSECONDS_PER_MS = 1000;

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
  const identity: SourceIdentity = {
    path: resolve(path),
    bytes: opened.bytes,
    mtimeUs: Math.round(opened.mtimeMs * MICROSECONDS_PER_MS),
    inode: opened.inode,
  };
  return {
    label: path,
    bytes: opened.bytes,
    identity,
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

/**
 * A local file's SHA-256, read in slices (bounded memory): `put -r` compares it with what the
 * cluster holds under the file's name to leave an unchanged file unsent.
 */
export async function localFileSha256(path: string): Promise<string> {
  const hash = new Bun.CryptoHasher("sha256");
  try {
    for await (const slice of Bun.file(path).stream()) hash.update(slice);
  } catch (error) {
    throw localFileError(path, error);
  }
  return hash.digest("hex");
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

/**
 * A stream of unknown length (stdin), read once, in order, chunk by chunk: memory holds the
 * chunks in flight and one piece of the stream, never the whole. A read at any other offset
 * (an upload that had to start over) fails: the bytes are gone, the user must send them again.
 */
export function unsizedSource(label: string, stream: AsyncIterable<Uint8Array>): ByteSource {
  const iterator = stream[Symbol.asyncIterator]();
  let position = 0;
  let pending: Uint8Array = new Uint8Array(0);
  let ended = false;
  return {
    label,
    bytes: null,
    read: async (offset, length, into) => {
      if (offset !== position) {
        throw new FtfsError(
          "UNAVAILABLE",
          `${label} had to start over, and a stream is read only once; send it again`,
        );
      }
      const view = into.subarray(0, length);
      let filled = 0;
      while (filled < length) {
        if (pending.length === 0) {
          if (ended) break;
          const next = await iterator.next();
          if (next.done === true) {
            ended = true;
            break;
          }
          pending = next.value;
          continue;
        }
        const part = pending.subarray(0, length - filled);
        view.set(part, filled);
        filled += part.length;
        pending = pending.subarray(part.length);
      }
      position += filled;
      return view.subarray(0, filled);
    },
    checkUnchanged: async () => undefined,
    close: async () => {
      await iterator.return?.();
    },
  };
}

/** What a streamed source's bytes hash to, once all were read. */
export interface StreamDigests {
  readonly md5Hex: string;
  readonly sha256Hex: string;
}

/**
 * Bytes arriving on a stream of a declared length (an S3 PUT's body), read once, in order: a
 * read at any other offset (an upload that had to start over) fails with UNAVAILABLE, for the
 * sender to send again. MD5 and SHA-256 are taken on the way; before the commit, the stream
 * must have ended at exactly the declared length, and `verify` (a Content-MD5, a signed
 * payload hash) must accept the digests, or nothing is committed.
 */
export function streamSource(
  label: string,
  bytes: number,
  stream: ReadableStream<Uint8Array>,
  verify: (digests: StreamDigests) => void,
): ByteSource & { readonly digests: () => StreamDigests } {
  const reader = stream.getReader();
  const md5 = new Bun.CryptoHasher("md5");
  const sha256 = new Bun.CryptoHasher("sha256");
  let position = 0;
  let pending: Uint8Array = new Uint8Array(0);
  let digests: StreamDigests | null = null;
  const short = () =>
    new FtfsError("BAD_REQUEST", `${label}: the body ended before its declared ${bytes} bytes`);
  const take = async (length: number, into: Uint8Array): Promise<Uint8Array> => {
    const view = into.length >= length ? into.subarray(0, length) : new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (pending.length === 0) {
        const next = await reader.read();
        if (next.done) throw short();
        pending = next.value;
        continue;
      }
      const part = pending.subarray(0, length - filled);
      view.set(part, filled);
      filled += part.length;
      pending = pending.subarray(part.length);
    }
    md5.update(view);
    sha256.update(view);
    return view;
  };
  const finish = async (): Promise<StreamDigests> => {
    if (digests !== null) return digests;
    if (position !== bytes) throw short();
    while (pending.length === 0) {
      const next = await reader.read();
      if (next.done) break;
      pending = next.value;
    }
    if (pending.length > 0) {
      throw new FtfsError(
        "BAD_REQUEST",
        `${label}: the body is longer than its declared ${bytes} bytes`,
      );
    }
    digests = { md5Hex: md5.digest("hex"), sha256Hex: sha256.digest("hex") };
    return digests;
  };
  return {
    label,
    bytes,
    read: async (offset, length, into) => {
      if (offset !== position) {
        throw new FtfsError(
          "UNAVAILABLE",
          `${label}: the upload had to start over, and a streamed body is read only once; send it again`,
        );
      }
      const view = await take(length, into);
      position += length;
      return view;
    },
    checkUnchanged: async () => verify(await finish()),
    digests: () => {
      if (digests === null) throw new Error("the stream's digests are known only once it is read");
      return digests;
    },
    close: async () => {
      // Cancelling a stream that already ended or failed has nothing left to say.
      await reader.cancel().catch(() => undefined);
    },
  };
}
