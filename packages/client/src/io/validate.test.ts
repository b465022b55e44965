/**
 * Property: a remote name is a file name, or file names joined by "/" stored as a key of the
 * home bucket; nothing that could climb out of a folder or hide a part gets through.
 */
import { expect, test } from "bun:test";
import { FtfsError } from "@ftfs/protocol/core";
import { checkedRemoteName } from "./validate.ts";

function refusal(name: string): string {
  try {
    checkedRemoteName(name);
  } catch (error) {
    if (error instanceof FtfsError && error.code === "INVALID_NAME") return error.message;
    throw error;
  }
  throw new Error(`'${name}' was accepted`);
}

test("file names stay themselves; paths of file names are home-bucket keys", () => {
  expect(checkedRemoteName("notes.txt")).toBe("notes.txt");
  expect(checkedRemoteName("photos/2024/a b.jpg")).toBe("/ftfs/photos/2024/a b.jpg");
});

test("climbing, empty parts, backslashes and control characters are refused", () => {
  expect(refusal("../x")).toBe("name '../x': file name '..' is not allowed");
  expect(refusal("a/../../b")).toBe("name 'a/../../b': file name '..' is not allowed");
  expect(refusal("/etc/passwd")).toBe(
    "name '/etc/passwd' has an empty part (a leading, trailing or doubled '/')",
  );
  expect(refusal("a//b")).toContain("empty part");
  expect(refusal("a/")).toContain("empty part");
  expect(refusal("a/./b")).toBe("name 'a/./b': file name '.' is not allowed");
  expect(refusal("a/b\\c")).toContain("path separator");
  expect(refusal("a/b\u0007")).toContain("control character");
  expect(refusal(`${"x/".repeat(600)}y`)).toContain("longer than 1024 bytes");
  expect(refusal("..")).toBe("file name '..' is not allowed");
});
