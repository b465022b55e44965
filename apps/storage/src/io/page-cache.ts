/**
 * Dropping a written chunk's pages from the OS page cache, as OpenStack Swift's object server
 * does (`drop_buffer_cache`). A chunk is written once and read rarely, so keeping its pages
 * cached after the fsync only grows the cache by every byte stored: each new chunk write then
 * lands in pages the kernel must find and zero (on a VM, memory the host may have to fault in),
 * which profiles as most of a storage node's write CPU. Dropped after fsync, the pages are clean
 * and are freed at once, and the next chunk reuses them.
 *
 * Advice only: it never changes what is on disk, and where it is unavailable (not Linux, no
 * libc, FFI refused) it does nothing. It must only be called on a file already fsynced: the
 * kernel does not drop dirty pages, so earlier advice would be wasted.
 */

import { dlopen, FFIType } from "bun:ffi";

/** posix_fadvise(2) advice: the application will not read these pages again soon. */
const POSIX_FADV_DONTNEED = 4;
/** posix_fadvise length 0 means "to the end of the file". */
const WHOLE_FILE_BYTES = 0;

type Fadvise = (fd: number, offset: number, length: number, advice: number) => number;

let fadvise: Fadvise | null | undefined;

function loadFadvise(): Fadvise | null {
  if (process.platform !== "linux") return null;
  try {
    const libc = dlopen("libc.so.6", {
      posix_fadvise: {
        args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32],
        returns: FFIType.i32,
      },
    });
    return (fd, offset, length, advice) => libc.symbols.posix_fadvise(fd, offset, length, advice);
  } catch {
    return null; // no glibc (musl, a sandbox): the cache simply keeps the pages
  }
}

/**
 * Advise the kernel to drop the cached pages of an fsynced file open as `fd`: the whole file, or
 * `length` bytes from `offset` (a segment's records, written once among others still read).
 */
export function dropCachedPages(fd: number, offset = 0, length = WHOLE_FILE_BYTES): void {
  if (fadvise === undefined) fadvise = loadFadvise();
  fadvise?.(fd, offset, length, POSIX_FADV_DONTNEED);
}
