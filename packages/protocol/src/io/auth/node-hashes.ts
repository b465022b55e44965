/**
 * The hash primitives the pure authentication cores are given (core/auth/bytes.ts), on
 * node:crypto, and the randomness they are not allowed to draw themselves.
 */

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { DIGEST_BYTES, type Hashes } from "../../core/auth/bytes.ts";

export const NODE_HASHES: Hashes = {
  sha256: (data) => new Uint8Array(createHash("sha256").update(data).digest()),
  hmacSha256: (key, data) => new Uint8Array(createHmac("sha256", key).update(data).digest()),
  pbkdf2Sha256: (secret, salt, iterations) =>
    new Uint8Array(pbkdf2Sync(secret, salt, iterations, DIGEST_BYTES, "sha256")),
};

/** Cryptographically random bytes (salts, nonces, secrets, session ids). */
export function secureRandomBytes(count: number): Uint8Array {
  return new Uint8Array(randomBytes(count));
}
