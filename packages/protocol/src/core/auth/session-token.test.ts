/**
 * Tokens and login nonces: what this cluster signs verifies (also after the signing key moved
 * down the keyring), and anything altered, foreign, expired or replayed into another login is
 * refused with the right code.
 */
import { describe, expect, test } from "bun:test";
import { NODE_HASHES, secureRandomBytes } from "../../io/security/node-hashes.ts";
import { fromBase64Url, toBase64Url } from "./bytes.ts";
import {
  checkLoginNonce,
  issueLoginNonce,
  issueToken,
  LOGIN_NONCE_TTL_MS,
  verifyToken,
  type SessionSubKey,
} from "./session-token.ts";

const hashes = NODE_HASHES;
const NOW_MS = 1_800_000_000_000;
const keyA: SessionSubKey = { keyId: "aaaaaaaa", key: secureRandomBytes(32) };
const keyB: SessionSubKey = { keyId: "bbbbbbbb", key: secureRandomBytes(32) };
const lookupOf =
  (...keys: SessionSubKey[]) =>
  (keyId: string) =>
    keys.find((key) => key.keyId === keyId)?.key;
const claims = {
  uid: "alice",
  sessionId: "s1",
  admin: false,
  expiresAtMs: NOW_MS + 1000,
  generation: 3,
};

describe("session tokens", () => {
  test("a token verifies with its claims and the same session key the issuer derived", () => {
    const issued = issueToken(hashes, keyA, claims);
    const verified = verifyToken(hashes, issued.token, lookupOf(keyA), NOW_MS);
    expect(verified.ok && verified.value.claims).toEqual(claims);
    expect(verified.ok && verified.value.sessionKey).toEqual(issued.sessionKey);
  });

  test("after a rotation, a token signed by the older key still verifies while it is kept", () => {
    const issued = issueToken(hashes, keyA, claims);
    expect(verifyToken(hashes, issued.token, lookupOf(keyB, keyA), NOW_MS).ok).toBe(true);
    const dropped = verifyToken(hashes, issued.token, lookupOf(keyB), NOW_MS);
    expect(!dropped.ok && dropped.error.code).toBe("AUTH_FAILED");
  });

  test("an altered claim, a foreign key or garbage is AUTH_FAILED", () => {
    const { token } = issueToken(hashes, keyA, claims);
    const [payload, mac] = token.split(".");
    const json = JSON.parse(
      new TextDecoder().decode(fromBase64Url(payload ?? "") ?? new Uint8Array()),
    );
    const admin = toBase64Url(new TextEncoder().encode(JSON.stringify({ ...json, admin: true })));
    const foreign = issueToken(
      hashes,
      { keyId: "aaaaaaaa", key: secureRandomBytes(32) },
      claims,
    ).token;
    for (const bad of [`${admin}.${mac}`, foreign, "", "a.b", `${token}.x`, "x".repeat(5000)]) {
      const verified = verifyToken(hashes, bad, lookupOf(keyA), NOW_MS);
      expect(!verified.ok && verified.error.code).toBe("AUTH_FAILED");
    }
  });

  test("an expired token is SESSION_EXPIRED and says how to log in again", () => {
    const { token } = issueToken(hashes, keyA, claims);
    const verified = verifyToken(hashes, token, lookupOf(keyA), claims.expiresAtMs);
    expect(!verified.ok && verified.error.code).toBe("SESSION_EXPIRED");
    expect(!verified.ok && verified.error.message).toBe("session expired: run `ftfs alice c`");
  });
});

describe("login nonces", () => {
  const login = { uid: "alice", clientNonce: "cn" };

  test("a nonce checks for its own login start until it expires", () => {
    const nonce = issueLoginNonce(hashes, keyA, login, secureRandomBytes(16), NOW_MS);
    expect(checkLoginNonce(hashes, nonce, login, lookupOf(keyA), NOW_MS + 1)).toBe(true);
    expect(checkLoginNonce(hashes, nonce, login, lookupOf(keyA), NOW_MS + LOGIN_NONCE_TTL_MS)).toBe(
      false,
    );
  });

  test("a nonce is refused for another user, another client nonce, or altered", () => {
    const nonce = issueLoginNonce(hashes, keyA, login, secureRandomBytes(16), NOW_MS);
    const lookup = lookupOf(keyA);
    expect(checkLoginNonce(hashes, nonce, { ...login, uid: "bob" }, lookup, NOW_MS)).toBe(false);
    expect(checkLoginNonce(hashes, nonce, { ...login, clientNonce: "x" }, lookup, NOW_MS)).toBe(
      false,
    );
    const [keyId, random, expiry, mac] = nonce.split(".");
    const later = `${keyId}.${random}.${Number(expiry) + 3_600_000}.${mac}`;
    expect(checkLoginNonce(hashes, later, login, lookup, NOW_MS)).toBe(false);
    expect(checkLoginNonce(hashes, "a.b.c.d", login, lookup, NOW_MS)).toBe(false);
  });
});
