/**
 * S3 access keys: new ids and secrets, and the secret sealed under the cluster key for the
 * directory to keep. SigV4 needs the raw secret on the verifying side, so it cannot be kept as
 * a hash the way a login verifier is; it is kept encrypted (AES-256-GCM) under the keyring's
 * "access-key" sub-key, with the access key id bound in as associated data, so a sealed secret
 * moved to another key id does not open. The sealed form names the cluster key that sealed it:
 * during a rotation any key of the ring opens it, and the directory primary seals it again
 * under the signing key (reseal) before the old key is dropped.
 */

import { createCipheriv, createDecipheriv } from "node:crypto";
import type { SealedSecret } from "../../core/messages.ts";
import { fromBase64Url, toBase64Url } from "../../core/auth/bytes.ts";
import type { Keyring } from "./keyring.ts";
import { secureRandomBytes } from "./node-hashes.ts";

const CIPHER = "aes-256-gcm";
/** GCM's standard nonce: 96 bits, random per seal (a key seals far fewer than 2^32 secrets). */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** The id: "FTFS" and 16 base32 characters (80 random bits), AWS's 20-character shape. */
const ACCESS_KEY_ID_PREFIX = "FTFS";
const ACCESS_KEY_ID_RANDOM_BYTES = 10;
/** The secret: 30 random bytes, 40 base64url characters (AWS's secrets are 40 too). */
const ACCESS_KEY_SECRET_BYTES = 30;
const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export interface NewAccessKey {
  readonly accessKeyId: string;
  readonly secret: string;
}

export function newAccessKey(): NewAccessKey {
  return {
    accessKeyId: ACCESS_KEY_ID_PREFIX + base32(secureRandomBytes(ACCESS_KEY_ID_RANDOM_BYTES)),
    secret: toBase64Url(secureRandomBytes(ACCESS_KEY_SECRET_BYTES)),
  };
}

/** The secret sealed under the ring's signing key; null for an open (keyless) ring. */
export function sealAccessKeySecret(
  keyring: Keyring,
  accessKeyId: string,
  secret: string,
): SealedSecret | null {
  const signing = keyring.subKeys("access-key").signing;
  if (signing === null) return null;
  const nonce = secureRandomBytes(NONCE_BYTES);
  const cipher = createCipheriv(CIPHER, signing.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(new TextEncoder().encode(accessKeyId));
  const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return {
    keyId: signing.keyId,
    nonce: toBase64Url(nonce),
    ciphertext: toBase64Url(new Uint8Array(body)),
  };
}

/**
 * The secret, if a key of the ring sealed it for this access key id and nothing was changed;
 * null otherwise (its cluster key was dropped, or the record was tampered with).
 */
export function openAccessKeySecret(
  keyring: Keyring,
  accessKeyId: string,
  sealed: SealedSecret,
): string | null {
  const key = keyring.subKeys("access-key").lookup(sealed.keyId);
  const nonce = fromBase64Url(sealed.nonce);
  const body = fromBase64Url(sealed.ciphertext);
  if (key === undefined || nonce === null || body === null || body.length < TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(new TextEncoder().encode(accessKeyId));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const plain = Buffer.concat([
      decipher.update(body.subarray(0, body.length - TAG_BYTES)),
      decipher.final(),
    ]);
    return plain.toString("utf8");
  } catch {
    // GCM refused the tag: a changed byte, another id, or another key with the same id prefix.
    return null;
  }
}

/** RFC 4648 base32 without padding (bytes a multiple of 5 give no partial group). */
function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}
