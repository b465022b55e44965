/**
 * Byte helpers the authentication cores share, and the hash primitives they are given. A core
 * may not import a hash library (it stays pure and runs under the simulator), so the io layer
 * passes one `Hashes` in (io/auth/node-hashes.ts); everything else here is plain arithmetic.
 */

/** SHA-256 and HMAC-SHA256 output length. */
export const DIGEST_BYTES = 32;

/** The hash primitives of RFC 5802/7677's SCRAM-SHA-256, supplied by the io layer. */
export interface Hashes {
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** PBKDF2-HMAC-SHA256 of `secret` with `salt`, DIGEST_BYTES long. */
  pbkdf2Sha256(secret: Uint8Array, salt: Uint8Array, iterations: number): Uint8Array;
}

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** `left` XOR `right`; both must have the same length (a caller's bug otherwise). */
export function xorBytes(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== right.length) throw new RangeError("xorBytes needs equal lengths");
  const out = new Uint8Array(left.length);
  for (let at = 0; at < left.length; at += 1) out[at] = (left[at] ?? 0) ^ (right[at] ?? 0);
  return out;
}

/**
 * Equal bytes, in time that depends only on the lengths: a comparison that stops at the first
 * difference tells an attacker how many leading bytes of a guessed MAC were right.
 */
export function constantTimeEqual(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let at = 0; at < left.length; at += 1) difference |= (left[at] ?? 0) ^ (right[at] ?? 0);
  return difference === 0;
}

/** base64url without padding (RFC 4648 §5): safe in JSON, file names and command lines. */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;

/** The bytes of base64url text (padding optional), or null when it is not base64url. */
export function fromBase64Url(text: string): Uint8Array | null {
  const bare = text.replace(/=+$/, "");
  if (!BASE64URL_PATTERN.test(bare) || bare.length % 4 === 1) return null;
  const binary = atob(bare.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(binary.length);
  for (let at = 0; at < binary.length; at += 1) out[at] = binary.charCodeAt(at);
  return out;
}
