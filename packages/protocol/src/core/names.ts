/**
 * What a file name and a user id may be. Names are one path component: a name that could
 * escape a folder (`..`, `/`, NUL) is refused here, at every boundary, not cleaned up later.
 */

import { FILE_NAME_BYTES_MAX, UID_BYTES_MAX } from "./limits.ts";
import type { Result } from "./errors.ts";
import { fail, ok } from "./errors.ts";

const utf8 = new TextEncoder();

// Control characters (C0, DEL, C1) are refused: they corrupt terminals and listings.
// biome-ignore lint: the control range is the point of this pattern.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

export function validateFileName(name: string): Result<string> {
  if (name.length === 0) return fail("INVALID_NAME", "file name is empty");
  if (name.includes("\u0000")) return fail("INVALID_NAME", "file name contains a NUL byte");
  // A lone surrogate has no UTF-8 form: stores and disks would keep U+FFFD instead, so the
  // name kept would not be the name sent, and distinct names would collide.
  if (!name.isWellFormed())
    return fail("INVALID_NAME", "file name contains a lone surrogate (not Unicode)");
  if (utf8.encode(name).length > FILE_NAME_BYTES_MAX) {
    return fail("INVALID_NAME", `file name is longer than ${FILE_NAME_BYTES_MAX} bytes`);
  }
  if (name === "." || name === "..")
    return fail("INVALID_NAME", `file name '${name}' is not allowed`);
  if (name.includes("/") || name.includes("\\")) {
    return fail(
      "INVALID_NAME",
      `file name '${name}' contains a path separator; names are one component`,
    );
  }
  if (CONTROL_CHARACTERS.test(name))
    return fail("INVALID_NAME", "file name contains a control character");
  if (name.trim() !== name)
    return fail("INVALID_NAME", "file name starts or ends with white space");
  return ok(name);
}

const UID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export function validateUid(uid: string): Result<string> {
  if (uid.length === 0) return fail("INVALID_UID", "user id is empty");
  if (uid.length > UID_BYTES_MAX)
    return fail("INVALID_UID", `user id is longer than ${UID_BYTES_MAX} characters`);
  if (!UID_PATTERN.test(uid)) {
    return fail("INVALID_UID", `user id '${uid}' may use only letters, digits, '.', '_' and '-'`);
  }
  return ok(uid);
}

const SHA256_PATTERN = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: string): boolean {
  return SHA256_PATTERN.test(value);
}

/** `host:port` with a numeric port; IPv6 hosts in brackets. */
export function parseAddress(address: string): Result<{ host: string; port: number }> {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  if (match === null) return fail("BAD_REQUEST", `address '${address}' is not host:port`);
  const port = Number(match[2]);
  if (port < 0 || port > 65_535)
    return fail("BAD_REQUEST", `address '${address}' has a port outside 0..65535`);
  const host = (match[1] ?? "").replace(/^\[|\]$/g, "");
  return ok({ host, port });
}
