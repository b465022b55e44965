/**
 * Property: a folder's identity is kept by its own node, refused by any other, and made only
 * where there is none: for an empty folder (a first start) or an older build's folder (adopted).
 */
import { expect, test } from "bun:test";
import { tryDecode } from "@ftfs/protocol/core";
import { decideIdentity, folderIdentitySchema, type FolderIdentity } from "./identity-rules.ts";

const MINE: FolderIdentity = {
  node: "s1a",
  folderId: "0123456789abcdef0123456789abcdef",
  createdAtMs: 1,
};

test("the node's own identity is kept, whatever the folder holds", () => {
  for (const holdsData of [false, true]) {
    expect(decideIdentity(MINE, "s1a", holdsData)).toEqual({ kind: "keep", identity: MINE });
  }
});

test("another node's identity is a foreign folder, whatever the folder holds", () => {
  for (const holdsData of [false, true]) {
    expect(decideIdentity(MINE, "s1b", holdsData)).toEqual({ kind: "foreign", identity: MINE });
  }
});

test("no identity: an empty folder gets one made; an older build's folder is adopted", () => {
  expect(decideIdentity(null, "s1a", false)).toEqual({ kind: "create" });
  expect(decideIdentity(null, "s1a", true)).toEqual({ kind: "adopt" });
});

test("the file's schema takes a well-formed identity and refuses anything else", () => {
  expect(tryDecode(folderIdentitySchema, MINE)).toEqual({ ok: true, value: MINE });
  const bad: readonly unknown[] = [
    { ...MINE, folderId: "not-hex" },
    { ...MINE, folderId: "0123" },
    { ...MINE, node: "" },
    { node: "s1a", folderId: MINE.folderId },
    [],
  ];
  for (const value of bad) expect(tryDecode(folderIdentitySchema, value).ok).toBe(false);
});
