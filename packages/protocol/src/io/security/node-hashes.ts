/**
 * The hash primitives the pure authentication cores are given (core/auth/bytes.ts), on
 * node:crypto, the randomness they are not allowed to draw themselves, and the one SHA-256 hex
 * digest that names chunks and files everywhere.
 */

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { DIGEST_BYTES, type Hashes } from "../../core/auth/bytes.ts";

export const NODE_HASHES: Hashes = {
  sha256: (data) => new Uint8Array(createHash("sha256").update(data).digest()),
  hmacSha256: (key, data) => new Uint8Array(createHmac("sha256", key).update(data).digest()),
  pbkdf2Sha256: (secret, salt, iterations) =>
    new Uint8Array(pbkdf2Sync(secret, salt, iterations, DIGEST_BYTES, "sha256")),
};

/** A chunk's id, a file's digest: SHA-256 in lowercase hex (Bun's native hasher). */
export function sha256Hex(bytes: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/** Cryptographically random bytes (salts, nonces, secrets, session ids). */
export function secureRandomBytes(count: number): Uint8Array {
  return new Uint8Array(randomBytes(count));
}
