/** File names are one safe path component; uids a small alphabet; addresses host:port. */
import { describe, expect, test } from "bun:test";
import { parseAddress, validateFileName, validateUid } from "./names.ts";

describe("validateFileName", () => {
  test.each(["notes.txt", "a", "résumé.pdf", "with space.txt", ".hidden", "x".repeat(255)])(
    "accepts %j",
    (name) => {
      expect(validateFileName(name).ok).toBe(true);
    },
  );

  test.each([
    ["", "empty"],
    ["..", "not allowed"],
    [".", "not allowed"],
    ["../x", "path separator"],
    ["/etc/passwd", "path separator"],
    ["a/../../b", "path separator"],
    ["a\\b", "path separator"],
    ["a\u0000b", "NUL"],
    ["x".repeat(256), "longer than 255 bytes"],
    ["é".repeat(128), "longer than 255 bytes"],
    ["bell\u0007", "control character"],
    [" lead", "white space"],
    // Found by names.fuzz.test.ts: a lone surrogate has no UTF-8 form, so the name stored and
    // written to disk (U+FFFD) would not be the name sent, and distinct names would collide.
    ["\ud800.", "lone surrogate"],
    ["a\udc00", "lone surrogate"],
  ])("refuses %j (%s) with INVALID_NAME", (name, reason) => {
    const result = validateFileName(name);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe("INVALID_NAME");
      expect(result.error.message).toContain(reason);
    }
  });
});

describe("validateUid", () => {
  test.each(["alice", "u1", "a.b-c_d"])("accepts %j", (uid) =>
    expect(validateUid(uid).ok).toBe(true),
  );
  test.each(["", ".x", "a/b", "a b", "x".repeat(65), "ü"])("refuses %j", (uid) => {
    const result = validateUid(uid);
    expect(result.ok ? null : result.error.code).toBe("INVALID_UID");
  });
});

describe("parseAddress", () => {
  test("parses host:port and [v6]:port", () => {
    expect(parseAddress("127.0.0.1:7101")).toEqual({
      ok: true,
      value: { host: "127.0.0.1", port: 7101 },
    });
    expect(parseAddress("[::1]:80")).toEqual({ ok: true, value: { host: "::1", port: 80 } });
  });
  test.each(["127.0.0.1", "host:99999", ":80", "a b:1"])("refuses %j", (address) => {
    expect(parseAddress(address).ok).toBe(false);
  });
});
