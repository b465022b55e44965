/**
 * S3 listings over the directory's pages of keys: the delimiter's roll-up into common
 * prefixes (each counting toward max-keys, as S3 counts them), where the next page starts,
 * and continuation tokens (opaque to clients: the last key or prefix listed, base64url).
 */

import { fromBase64Url, toBase64Url, utf8 } from "@ftfs/protocol/core";

/** After every key that begins with `prefix`: the largest code point follows it. */
export function afterEveryKeyWith(prefix: string): string {
  return `${prefix}\u{10FFFF}`;
}

/**
 * The common prefix `key` rolls up into under `delimiter` (the key's part after `prefix` up to
 * and including the first delimiter), or null when it lists as itself.
 */
export function commonPrefixOf(key: string, prefix: string, delimiter: string): string | null {
  if (delimiter === "") return null;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? null : key.slice(0, at + delimiter.length);
}

export function continuationToken(lastListed: string): string {
  return toBase64Url(utf8(lastListed));
}

/** The position a token names, or null for one we never issued. */
export function positionOfToken(token: string): string | null {
  const bytes = fromBase64Url(token);
  if (bytes === null) return null;
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return text.isWellFormed() ? text : null;
}

/** S3's encoding-type=url: keys URL-encoded in the answer, '/' kept. */
export function urlEncodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, "/");
}
