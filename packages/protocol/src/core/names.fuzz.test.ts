/**
 * Fuzzing the name and uid validators, the guard against path traversal. Inputs: random
 * unicode, and names assembled from traversal pieces (`..`, `/`, `\`, NUL, control and bidi
 * characters, white space, composed/decomposed accents, look-alike dots and slashes, overlong
 * runs). Properties: an accepted name is returned unchanged, is one path component (no
 * separator, not `.`/`..`, also after NFC/NFD normalization), fits FILE_NAME_BYTES_MAX, and
 * joined to a folder (as `ftfs get -o folder` does) names a direct child of that folder; a
 * name breaking none of the rules is accepted (the rules are exactly these); every refusal is
 * INVALID_NAME (INVALID_UID for uids).
 */

import { expect } from "bun:test";
import { posix } from "node:path";
import fc from "fast-check";
import { fuzzTest } from "../testing/fuzz.ts";
import { FILE_NAME_BYTES_MAX, UID_BYTES_MAX } from "./limits.ts";
import { validateFileName, validateUid } from "./names.ts";

const utf8 = new TextEncoder();
const FOLDER = "/srv/ftfs/data/alice";

const PIECES = [
  ".",
  "..",
  "/",
  "\\",
  "\u0000",
  "a",
  "Z",
  "é",
  "e\u0301",
  " ",
  "\t",
  "\n",
  "\u0085",
  "\u00a0",
  "\u2028",
  "\u202e",
  "\u200b",
  "\ufeff",
  "\u2024",
  "\u2025",
  "\uff0e",
  "\uff0f",
  "\u2215",
  "%2e",
  "%2f",
  "~",
  ":",
  "C:",
  "NUL",
  "\ud800",
  "😀",
  "x".repeat(100),
  "é".repeat(60),
];

const nameArbitrary = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc
    .array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 8 })
    .map((parts) => parts.join("")),
  fc.integer({ min: 250, max: 260 }).map((bytes) => "n".repeat(bytes)),
  fc.integer({ min: 120, max: 130 }).map((chars) => "é".repeat(chars)),
);

/** The rules of names.ts restated independently: what must make a name refused. */
function breaksARule(name: string): boolean {
  return (
    name.length === 0 ||
    !name.isWellFormed() ||
    utf8.encode(name).length > FILE_NAME_BYTES_MAX ||
    name === "." ||
    name === ".." ||
    /[/\\]/.test(name) ||
    // biome-ignore lint: control characters are the point.
    /[\u0000-\u001f\u007f-\u009f]/.test(name) ||
    name.trim() !== name
  );
}

function isOneComponent(name: string): boolean {
  return (
    name !== "." &&
    name !== ".." &&
    !name.includes("/") &&
    !name.includes("\\") &&
    !name.includes("\u0000")
  );
}

fuzzTest("names: accepted file names stay one component inside their folder", 30_000, () =>
  fc.property(nameArbitrary, (name) => {
    const valid = validateFileName(name);
    expect(valid.ok).toBe(!breaksARule(name));
    if (!valid.ok) {
      expect(valid.error.code).toBe("INVALID_NAME");
      return;
    }
    expect(valid.value).toBe(name);
    expect(utf8.encode(name).length).toBeLessThanOrEqual(FILE_NAME_BYTES_MAX);
    for (const form of [name, name.normalize("NFC"), name.normalize("NFD")])
      expect(isOneComponent(form)).toBe(true);
    const path = posix.join(FOLDER, name);
    expect(posix.dirname(path)).toBe(FOLDER);
    expect(posix.basename(path)).toBe(name);
    expect(posix.relative(FOLDER, posix.resolve(FOLDER, name))).toBe(name);
  }),
);

const uidArbitrary = fc.oneof(
  fc.string({ unit: "binary", maxLength: 70 }),
  fc
    .array(fc.constantFrom(...PIECES, "_", "-", "."), { minLength: 1, maxLength: 6 })
    .map((parts) => parts.join("")),
  fc.stringMatching(/^[A-Za-z0-9._-]{0,70}$/),
);

fuzzTest(
  "names: accepted uids are short, plain ASCII and never a path component trick",
  30_000,
  () =>
    fc.property(uidArbitrary, (uid) => {
      const valid = validateUid(uid);
      if (!valid.ok) {
        expect(valid.error.code).toBe("INVALID_UID");
        return;
      }
      expect(valid.value).toBe(uid);
      expect(uid).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/);
      expect(uid.length).toBeLessThanOrEqual(UID_BYTES_MAX);
      expect(isOneComponent(uid)).toBe(true);
      expect(posix.dirname(posix.join(FOLDER, uid))).toBe(FOLDER);
    }),
);
