/**
 * Dropping cached pages is advice only: the file's bytes are unchanged after it, and calling it
 * on any open file (even where the advice is unavailable) never throws.
 */
import { expect, test } from "bun:test";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropCachedPages } from "./page-cache.ts";

test("an fsynced file reads back the same after its pages are dropped", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ftfs-page-cache-"));
  try {
    const path = join(dir, "chunk");
    const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31) % 256);
    const handle = await open(path, "wx");
    await handle.writeFile(bytes);
    await handle.sync();
    dropCachedPages(handle.fd);
    dropCachedPages(handle.fd);
    await handle.close();
    expect(new Uint8Array(await readFile(path))).toEqual(bytes);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
