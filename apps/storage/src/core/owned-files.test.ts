/**
 * Property: per name, listOwned shows the highest committed version (its bytes and chunk count,
 * of its committed references only), and a pending upload only when no version of the name is
 * committed; names come sorted. A chunk the file holds several times counts that often.
 */
import { expect, test } from "bun:test";
import { aggregateOwned, type RefRow } from "./owned-files.ts";

let seq = 0;
const row = (
  name: string,
  uploadId: string,
  version: number | null,
  chunkBytes: number,
  uses = 1,
): RefRow => {
  seq += 1;
  return { name, uploadId, version, chunkBytes, uses, seq };
};

test("the newest committed version wins over older ones and over pending uploads", () => {
  const rows = [
    row("a.txt", "u1", 1, 100),
    row("a.txt", "u1", 1, 50),
    row("a.txt", "u2", 2, 10),
    row("a.txt", "u3", null, 999), // an upload in flight after v2
  ];
  expect(aggregateOwned(rows, "s1").files).toEqual([
    { name: "a.txt", version: 2, uploadId: "u2", bytes: 10, chunks: 1, group: "s1" },
  ]);
});

test("a pending upload shows only when nothing is committed; the latest one", () => {
  const rows = [row("b", "u1", null, 5), row("b", "u2", null, 7), row("b", "u2", null, 8)];
  expect(aggregateOwned(rows, "s2").files).toEqual([
    { name: "b", version: null, uploadId: "u2", bytes: 15, chunks: 2, group: "s2" },
  ]);
});

test("a pending row beside a committed upload's is a chunk kept elsewhere: not counted", () => {
  // A put hedged to this group across a failover, whose chunk the manifest placed in another:
  // counting it made `d --from storage` show 304 MiB and 76 chunks for a 300 MiB file.
  const rows = [row("c", "u1", 3, 4), row("c", "u1", null, 6)];
  expect(aggregateOwned(rows, "s1").files).toEqual([
    { name: "c", version: 3, uploadId: "u1", bytes: 4, chunks: 1, group: "s1" },
  ]);
});

test("names are sorted and no rows means no files", () => {
  const rows = [row("zeta", "u1", 1, 1), row("Alpha", "u2", 1, 1), row("beta", "u3", 1, 1)];
  expect(aggregateOwned(rows, "s1").files.map((file) => file.name)).toEqual([
    "Alpha",
    "beta",
    "zeta",
  ]);
  expect(aggregateOwned([], "s1")).toEqual({ files: [], truncated: false });
});

test("a chunk a file holds three times counts three times: the listing tells the file's size", () => {
  const rows = [row("r.bin", "u1", 1, 64, 3), row("r.bin", "u1", 1, 64)];
  expect(aggregateOwned(rows, "s1").files).toEqual([
    { name: "r.bin", version: 1, uploadId: "u1", bytes: 256, chunks: 4, group: "s1" },
  ]);
});
