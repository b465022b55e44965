/** Property: a chunk lives under a two-level fan-out of its own id, and only such files count. */
import { expect, test } from "bun:test";
import {
  chunkDirs,
  chunkIdAt,
  chunkPath,
  isFanoutName,
  quarantinedChunkId,
  quarantinePath,
  tempPath,
} from "./layout.ts";

const ID = `abcd${"e".repeat(60)}`;

test("chunk path is chunks/ab/cd/<id>", () => {
  expect(chunkPath(ID)).toBe(`chunks/ab/cd/${ID}`);
  expect(chunkDirs(ID)).toEqual(["chunks", "chunks/ab", "chunks/ab/cd"]);
});

test("temporary and quarantine names are unique per serial and outside chunks/", () => {
  expect(tempPath(ID, 1)).toBe(`tmp/${ID}.1.tmp`);
  expect(tempPath(ID, 2)).not.toBe(tempPath(ID, 1));
  expect(quarantinePath(ID, 3)).toBe(`quarantine/${ID}.3`);
});

test("a quarantine file name gives back its chunk id; anything else is not ours", () => {
  expect(quarantinedChunkId(`${ID}.3`)).toBe(ID);
  expect(quarantinedChunkId(ID)).toBeNull();
  expect(quarantinedChunkId(`${ID}.x`)).toBeNull();
  expect(quarantinedChunkId(`${ID}.3.tmp`)).toBeNull();
  expect(quarantinedChunkId("notes.txt")).toBeNull();
});

test("only a sha256 filed under its own fan-out is a chunk", () => {
  expect(chunkIdAt("ab", "cd", ID)).toBe(ID);
  expect(chunkIdAt("ab", "ce", ID)).toBeNull();
  expect(chunkIdAt("ab", "cd", `${ID}.tmp`)).toBeNull();
  expect(chunkIdAt("ab", "cd", ID.toUpperCase())).toBeNull();
  expect(isFanoutName("0f")).toBe(true);
  expect(isFanoutName("0F")).toBe(false);
  expect(isFanoutName("abc")).toBe(false);
});
