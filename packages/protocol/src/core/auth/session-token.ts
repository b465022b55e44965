/**
 * Session tokens and login nonces: stateless, so any directory node can finish a login another
 * began, and storage nodes (which keep no users) can check a token by themselves. Both are MACed
 * with the cluster key's "session" sub-key and name the sub-key's id, so a token signed before
 * a key rotation still verifies while the old key is in the keyring. The session key a token
 * carries rights to is HMAC(session sub-key, token): every node derives it, nobody stores it.
 * What this file cannot know: whether the user still exists and at which generation. The
 * directory checks that (revocation); storage learns of it only at the token's expiry.
 */

import { fail, ok, type Result } from "../errors.ts";
import { bool, int, obj, str, tryDecode } from "../schema.ts";
import { UID_BYTES_MAX } from "../limits.ts";
import {
  concatBytes,
  constantTimeEqual,
  DIGEST_BYTES,
  fromBase64Url,
  toBase64Url,
  utf8,
  type Hashes,
} from "./bytes.ts";

/**
 * How long a session lasts. It bounds how long a removed user keeps access to storage nodes
 * (the directory refuses at once): a working day, so `ftfs <uid> c` is typed about daily.
 */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** How long a login may take between loginStart and loginFinish (a slow PBKDF2 included). */
export const LOGIN_NONCE_TTL_MS = 60_000;
/** A token is a few hundred bytes; anything much longer is not one. */
export const SESSION_TOKEN_BYTES_MAX = 1024;
/** A login nonce: key id, random part, expiry and MAC, base64url. */
export const LOGIN_NONCE_BYTES_MAX = 256;
/** Session ids: 128 random bits. */
export const SESSION_ID_BYTES = 16;

const TOKEN_MAC_LABEL = utf8("ftfs/token-mac/v1|");
const SESSION_KEY_LABEL = utf8("ftfs/session-key/v1|");
const NONCE_MAC_LABEL = "ftfs/login-nonce/v1";
const KEY_ID_PATTERN = /^[0-9a-f]{8}$/;

/** One key of the session sub-keyring: the id names it in tokens, the bytes sign. */
export interface SessionSubKey {
  readonly keyId: string;
  readonly key: Uint8Array;
}

/** The sub-key a token or nonce names, if this node still holds it. */
export type SessionKeyLookup = (keyId: string) => Uint8Array | undefined;

export interface SessionClaims {
  readonly uid: string;
  readonly sessionId: string;
  readonly admin: boolean;
  readonly expiresAtMs: number;
  /** The user's generation when the token was issued: a re-created user's old tokens fail. */
  readonly generation: number;
}

export interface VerifiedToken {
  readonly claims: SessionClaims;
  readonly keyId: string;
  readonly sessionKey: Uint8Array;
}

const claimsSchema = obj({
  uid: str({ bytesMin: 1, bytesMax: UID_BYTES_MAX }),
  sessionId: str({ bytesMin: 1, bytesMax: 64 }),
  admin: bool,
  expiresAtMs: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  generation: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  keyId: str({ bytesMin: 8, bytesMax: 8, pattern: KEY_ID_PATTERN }),
});

/** Token text: base64url(JSON claims with keyId) "." base64url(MAC). */
export function issueToken(
  hashes: Hashes,
  signing: SessionSubKey,
  claims: SessionClaims,
): { readonly token: string; readonly sessionKey: Uint8Array } {
  const payload = toBase64Url(utf8(JSON.stringify({ ...claims, keyId: signing.keyId })));
  const mac = hashes.hmacSha256(signing.key, concatBytes(TOKEN_MAC_LABEL, utf8(payload)));
  const token = `${payload}.${toBase64Url(mac)}`;
  return { token, sessionKey: sessionKeyOf(hashes, signing.key, token) };
}

function sessionKeyOf(hashes: Hashes, key: Uint8Array, token: string): Uint8Array {
  return hashes.hmacSha256(key, concatBytes(SESSION_KEY_LABEL, utf8(token)));
}

const badToken = (): ReturnType<typeof fail> =>
  fail("AUTH_FAILED", "the session token is not valid for this cluster; run `ftfs <uid> c`");

/**
 * The claims of a token this cluster signed and that has not expired, and its session key.
 * A forged, altered or foreign token is AUTH_FAILED; an expired one SESSION_EXPIRED.
 */
export function verifyToken(
  hashes: Hashes,
  token: string,
  lookup: SessionKeyLookup,
  nowMs: number,
): Result<VerifiedToken> {
  if (token.length > SESSION_TOKEN_BYTES_MAX) return badToken();
  const [payload, macText, extra] = token.split(".");
  if (payload === undefined || macText === undefined || extra !== undefined) return badToken();
  const mac = fromBase64Url(macText);
  const json = fromBase64Url(payload);
  if (mac === null || json === null || mac.length !== DIGEST_BYTES) return badToken();
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(json));
  } catch {
    return badToken();
  }
  const decoded = tryDecode(claimsSchema, parsed);
  if (!decoded.ok) return badToken();
  const { keyId, ...claims } = decoded.value;
  const key = lookup(keyId);
  if (key === undefined) return badToken();
  const expected = hashes.hmacSha256(key, concatBytes(TOKEN_MAC_LABEL, utf8(payload)));
  if (!constantTimeEqual(expected, mac)) return badToken();
  if (nowMs >= claims.expiresAtMs) {
    return fail("SESSION_EXPIRED", `session expired: run \`ftfs ${claims.uid} c\``);
  }
  return ok({ claims, keyId, sessionKey: sessionKeyOf(hashes, key, token) });
}

/**
 * A login's server nonce, which the server need not remember: keyId.random.expiry.MAC over
 * (uid, clientNonce, random, expiry). Only this cluster makes them, each is bound to one login
 * start, and it dies after LOGIN_NONCE_TTL_MS.
 */
export function issueLoginNonce(
  hashes: Hashes,
  signing: SessionSubKey,
  login: { readonly uid: string; readonly clientNonce: string },
  random: Uint8Array,
  nowMs: number,
): string {
  const randomText = toBase64Url(random);
  const expiresAtMs = nowMs + LOGIN_NONCE_TTL_MS;
  const mac = nonceMac(hashes, signing.key, login, randomText, expiresAtMs);
  return `${signing.keyId}.${randomText}.${expiresAtMs}.${toBase64Url(mac)}`;
}

function nonceMac(
  hashes: Hashes,
  key: Uint8Array,
  login: { readonly uid: string; readonly clientNonce: string },
  randomText: string,
  expiresAtMs: number,
): Uint8Array {
  const fields = [NONCE_MAC_LABEL, login.uid, login.clientNonce, randomText, expiresAtMs];
  return hashes.hmacSha256(key, utf8(JSON.stringify(fields)));
}

/** Whether this cluster issued `nonce` for this login start, and it is still fresh. */
export function checkLoginNonce(
  hashes: Hashes,
  nonce: string,
  login: { readonly uid: string; readonly clientNonce: string },
  lookup: SessionKeyLookup,
  nowMs: number,
): boolean {
  if (nonce.length > LOGIN_NONCE_BYTES_MAX) return false;
  const [keyId, randomText, expiryText, macText, extra] = nonce.split(".");
  if (keyId === undefined || randomText === undefined || expiryText === undefined) return false;
  if (macText === undefined || extra !== undefined || !/^\d{1,16}$/.test(expiryText)) return false;
  const key = lookup(keyId);
  const mac = fromBase64Url(macText);
  if (key === undefined || mac === null) return false;
  const expiresAtMs = Number(expiryText);
  const expected = nonceMac(hashes, key, login, randomText, expiresAtMs);
  return constantTimeEqual(expected, mac) && nowMs < expiresAtMs;
}
