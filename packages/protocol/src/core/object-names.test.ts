/**
 * The one namespace: a bucket and key map to one stored name and back, the two forms never
 * meet, S3's bucket rules and key bounds hold, and no non-canonical name is accepted (so two
 * names can never mean one object).
 */
import { describe, expect, test } from "bun:test";
import {
  HOME_BUCKET,
  objectOfStoredName,
  storedNameOf,
  validateBucketName,
  validateObjectKey,
  validateStoredName,
} from "./object-names.ts";
import { OBJECT_KEY_BYTES_MAX } from "./limits.ts";

describe("stored names", () => {
  test("home keys that are file names are stored as the file name; every other key with '/'", () => {
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      [HOME_BUCKET, "notes.txt", "notes.txt"],
      [HOME_BUCKET, "photos/cat.jpg", "/ftfs/photos/cat.jpg"],
      [HOME_BUCKET, "..", "/ftfs/.."],
      [HOME_BUCKET, " padded ", "/ftfs/ padded "],
      ["backups", "notes.txt", "/backups/notes.txt"],
      ["backups", "a//b/", "/backups/a//b/"],
      ["backups", "ü 🎉", "/backups/ü 🎉"],
    ];
    for (const [bucket, key, stored] of cases) {
      expect(storedNameOf({ bucket, key })).toBe(stored);
      expect(objectOfStoredName(stored)).toEqual({ bucket, key });
      expect(validateStoredName(stored).ok).toBe(true);
    }
  });

  test("a non-canonical or malformed stored name is refused", () => {
    for (const name of ["/ftfs/notes.txt", "/backups", "/Bad/key", "/backups/", "/ab/key"]) {
      expect({ name, ok: validateStoredName(name).ok }).toEqual({ name, ok: false });
    }
    expect(validateStoredName("a/b").ok).toBe(false);
    expect(validateStoredName(`/backups/${"k".repeat(OBJECT_KEY_BYTES_MAX)}`).ok).toBe(true);
    expect(validateStoredName(`/backups/${"k".repeat(OBJECT_KEY_BYTES_MAX + 1)}`).ok).toBe(false);
  });
});

describe("S3's rules", () => {
  test("bucket names", () => {
    for (const good of ["abc", "my-bucket.2026", "a".repeat(63), "0ab"]) {
      expect(validateBucketName(good).ok).toBe(true);
    }
    for (const bad of [
      "ab",
      "a".repeat(64),
      "Caps",
      "under_score",
      "-start",
      "end-",
      "a..b",
      "192.168.1.1",
      "xn--abc",
      "sp ace",
    ]) {
      expect({ bad, ok: validateBucketName(bad).ok }).toEqual({ bad, ok: false });
    }
  });

  test("keys: 1 to 1,024 bytes of well-formed UTF-8 without control characters", () => {
    expect(validateObjectKey("a/b/c.txt").ok).toBe(true);
    expect(validateObjectKey("€".repeat(341)).ok).toBe(true); // 1,023 bytes
    expect(validateObjectKey("€".repeat(342)).ok).toBe(false); // 1,026 bytes
    for (const bad of ["", "a\u0000b", "tab\there", "\ud800", "del\u007f"]) {
      expect(validateObjectKey(bad).ok).toBe(false);
    }
  });
});
