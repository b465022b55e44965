/**
 * Property: the committed shares of one upload, over groups, add up to its file; a pending
 * share never adds to a committed upload (chunks hedged into a group the manifest did not
 * choose), and the newest committed version of each name is what `d --from storage` shows.
 */
import { expect, test } from "bun:test";
import type { OwnedFile } from "@ftfs/protocol/core";
import { mergeOwned, newestCommitted } from "./storage-listing.ts";

const MIB = 1024 * 1024;

function share(group: string, version: number | null, chunks: number): OwnedFile {
  return { name: "big.bin", version, uploadId: "u1", bytes: chunks * 4 * MIB, chunks, group };
}

test("a 300 MiB file uploaded across a failover lists as 300 MiB, 75 chunks", () => {
  const merged = mergeOwned([
    { group: "s1", node: "s1a", files: [share("s1", 1, 40)] },
    { group: "s2", node: "s2b", files: [share("s2", 1, 35)] },
    // A group whose only rows of the upload are a hedged chunk's, kept pending.
    { group: "s3", node: "s3a", files: [share("s3", null, 1)] },
  ]);
  expect(newestCommitted(merged)).toMatchObject([
    {
      name: "big.bin",
      version: 1,
      uploadId: "u1",
      bytes: 300 * MIB,
      chunks: 75,
      groups: ["s1", "s2"],
      nodes: ["s1a", "s2b"],
    },
  ]);
  expect(merged.filter((file) => file.version === null)).toMatchObject([{ groups: ["s3"] }]);
});
