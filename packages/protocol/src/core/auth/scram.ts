/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as FTFS uses it: the math of a user's verifier and of one
 * login, with no I/O. The server keeps only salt, iterations, StoredKey = SHA256(ClientKey) and
 * ServerKey; the secret never crosses the wire and is never stored. A login proves knowledge of
 * ClientKey (proof = ClientKey XOR HMAC(StoredKey, AuthMessage)); the server proves knowledge of
 * ServerKey back (serverSignature), so a client also knows it reached the real cluster. Unlike
 * RFC 5802 the messages are JSON fields, not GS2 text: AuthMessage binds the same values.
 */

import {
  concatBytes,
  constantTimeEqual,
  DIGEST_BYTES,
  fromBase64Url,
  toBase64Url,
  utf8,
  xorBytes,
  type Hashes,
} from "./bytes.ts";

/**
 * PBKDF2 rounds for new verifiers: OWASP's 2023 figure for PBKDF2-HMAC-SHA256. Only the client
 * pays it (at `user add` and at each login, ~70 ms on the dev machine); servers never run it.
 */
export const SCRAM_ITERATIONS_DEFAULT = 600_000;
/** RFC 7677's floor: a verifier with fewer rounds is refused. */
export const SCRAM_ITERATIONS_MIN = 4096;
/** A hostile verifier must not make a login cost the client minutes. */
export const SCRAM_ITERATIONS_MAX = 10_000_000;
/** Salt length: 128 bits, as RFC 8018 recommends at least 64. */
export const SCRAM_SALT_BYTES = 16;
/** A generated secret: 256 random bits, beyond any guessing whatever the stretch. */
export const SCRAM_SECRET_BYTES = 32;
/** Nonces of each side: 128 random bits (RFC 5802 asks only for "unpredictable"). */
export const SCRAM_NONCE_BYTES = 16;

const CLIENT_KEY_LABEL = utf8("Client Key");
const SERVER_KEY_LABEL = utf8("Server Key");
const SEAL_LABEL = "ftfs/session-seal/v1";

/** What the directory stores for a user: nothing that logs in without the secret. */
export interface ScramVerifier {
  /** base64url */
  readonly salt: string;
  readonly iterations: number;
  /** base64url SHA256(ClientKey) */
  readonly storedKey: string;
  /** base64url HMAC(SaltedSecret, "Server Key") */
  readonly serverKey: string;
}

/** The client's side of a verifier, derived from the secret at each login. */
export interface ScramClientKeys {
  readonly clientKey: Uint8Array;
  readonly storedKey: Uint8Array;
  readonly serverKey: Uint8Array;
}

export function deriveClientKeys(
  hashes: Hashes,
  secret: string,
  salt: Uint8Array,
  iterations: number,
): ScramClientKeys {
  const salted = hashes.pbkdf2Sha256(utf8(secret), salt, iterations);
  const clientKey = hashes.hmacSha256(salted, CLIENT_KEY_LABEL);
  return {
    clientKey,
    storedKey: hashes.sha256(clientKey),
    serverKey: hashes.hmacSha256(salted, SERVER_KEY_LABEL),
  };
}

/** A new user's verifier, from its secret and a fresh random salt (both the caller's). */
export function makeVerifier(
  hashes: Hashes,
  secret: string,
  salt: Uint8Array,
  iterations = SCRAM_ITERATIONS_DEFAULT,
): ScramVerifier {
  const keys = deriveClientKeys(hashes, secret, salt, iterations);
  return {
    salt: toBase64Url(salt),
    iterations,
    storedKey: toBase64Url(keys.storedKey),
    serverKey: toBase64Url(keys.serverKey),
  };
}

/** The values one login binds together; both sides compute AuthMessage from them. */
export interface LoginTranscript {
  readonly uid: string;
  readonly clientNonce: string;
  readonly serverNonce: string;
  readonly salt: string;
  readonly iterations: number;
}

/**
 * RFC 5802's AuthMessage: every value of the exchange, so a proof made for one login is
 * worth nothing in another (another nonce, another user, a salt an impostor chose).
 */
export function authMessage(transcript: LoginTranscript): Uint8Array {
  const { uid, clientNonce, serverNonce, salt, iterations } = transcript;
  return utf8(JSON.stringify(["ftfs-scram/v1", uid, clientNonce, serverNonce, salt, iterations]));
}

/** The client's proof: ClientKey XOR HMAC(StoredKey, AuthMessage), base64url. */
export function clientProof(
  hashes: Hashes,
  keys: ScramClientKeys,
  transcript: LoginTranscript,
): string {
  const signature = hashes.hmacSha256(keys.storedKey, authMessage(transcript));
  return toBase64Url(xorBytes(keys.clientKey, signature));
}

/**
 * The ClientKey a proof reveals, if the proof is right for this verifier; null otherwise. The
 * comparison takes the same time whatever the proof, so its timing says nothing.
 */
export function verifyProof(
  hashes: Hashes,
  verifier: ScramVerifier,
  transcript: LoginTranscript,
  proof: string,
): Uint8Array | null {
  const storedKey = fromBase64Url(verifier.storedKey);
  const proofBytes = fromBase64Url(proof);
  if (storedKey === null || proofBytes === null || proofBytes.length !== DIGEST_BYTES) {
    return null;
  }
  const signature = hashes.hmacSha256(storedKey, authMessage(transcript));
  const clientKey = xorBytes(proofBytes, signature);
  return constantTimeEqual(hashes.sha256(clientKey), storedKey) ? clientKey : null;
}

/** HMAC(ServerKey, AuthMessage): the server's proof that it holds the verifier. */
export function serverSignature(
  hashes: Hashes,
  serverKey: Uint8Array,
  transcript: LoginTranscript,
): string {
  return toBase64Url(hashes.hmacSha256(serverKey, authMessage(transcript)));
}

/** The client checks the server's signature (constant time): an impostor cannot make one. */
export function verifyServerSignature(
  hashes: Hashes,
  keys: ScramClientKeys,
  transcript: LoginTranscript,
  signature: string,
): boolean {
  const given = fromBase64Url(signature);
  if (given === null) return false;
  return constantTimeEqual(hashes.hmacSha256(keys.serverKey, authMessage(transcript)), given);
}

/**
 * The session key travels sealed: XOR with a pad only the ClientKey's holder can compute,
 * so someone who watched the login learns nothing of it.
 */
export function sealPad(
  hashes: Hashes,
  clientKey: Uint8Array,
  transcript: LoginTranscript,
): Uint8Array {
  return hashes.hmacSha256(clientKey, concatBytes(utf8(SEAL_LABEL), authMessage(transcript)));
}

export function sealSessionKey(
  hashes: Hashes,
  clientKey: Uint8Array,
  transcript: LoginTranscript,
  sessionKey: Uint8Array,
): string {
  return toBase64Url(xorBytes(sessionKey, sealPad(hashes, clientKey, transcript)));
}

/** The session key from its sealed form; null when the text is not a sealed key. */
export function unsealSessionKey(
  hashes: Hashes,
  clientKey: Uint8Array,
  transcript: LoginTranscript,
  sealed: string,
): Uint8Array | null {
  const bytes = fromBase64Url(sealed);
  if (bytes === null || bytes.length !== DIGEST_BYTES) return null;
  return xorBytes(bytes, sealPad(hashes, clientKey, transcript));
}
