/**
 * Access keys' secrets sealed under the cluster key: they open only under a key of the ring,
 * only for their own access key id, and only unchanged; a rotation's new ring still opens what
 * the old key sealed until that key is dropped; new ids and secrets have the wire's shape.
 */
import { describe, expect, test } from "bun:test";
import {
  accessKeyIdField,
  accessKeySecretField,
  sealedSecretSchema,
  tryDecode,
} from "../../core/index.ts";
import { newAccessKey, openAccessKeySecret, sealAccessKeySecret } from "./access-key-seal.ts";
import { Keyring } from "./keyring.ts";

const OLD = Keyring.of([new Uint8Array(32).fill(1)]);
const NEW_FIRST = Keyring.of([new Uint8Array(32).fill(2), new Uint8Array(32).fill(1)]);
const NEW_ONLY = Keyring.of([new Uint8Array(32).fill(2)]);

describe("access key secrets, sealed", () => {
  test("new keys have the wire's shape and never repeat", () => {
    const keys = Array.from({ length: 50 }, () => newAccessKey());
    for (const { accessKeyId, secret } of keys) {
      expect(tryDecode(accessKeyIdField, accessKeyId).ok).toBe(true);
      expect(tryDecode(accessKeySecretField, secret).ok).toBe(true);
    }
    expect(new Set(keys.map((key) => key.accessKeyId)).size).toBe(50);
  });

  test("a sealed secret opens for its own id under its key, and for nothing else", () => {
    const { accessKeyId, secret } = newAccessKey();
    const sealed = sealAccessKeySecret(OLD, accessKeyId, secret);
    if (sealed === null) throw new Error("a keyed ring seals");
    expect(tryDecode(sealedSecretSchema, sealed).ok).toBe(true);
    expect(JSON.stringify(sealed)).not.toContain(secret);
    expect(openAccessKeySecret(OLD, accessKeyId, sealed)).toBe(secret);
    expect(openAccessKeySecret(OLD, newAccessKey().accessKeyId, sealed)).toBeNull();
    const flipped = sealed.ciphertext.startsWith("A") ? "B" : "A";
    const tampered = { ...sealed, ciphertext: flipped + sealed.ciphertext.slice(1) };
    expect(openAccessKeySecret(OLD, accessKeyId, tampered)).toBeNull();
    expect(openAccessKeySecret(OLD, accessKeyId, { ...sealed, nonce: "!" })).toBeNull();
  });

  test("a rotation: the new ring opens the old seal and seals anew; the old key's loss ends it", () => {
    const { accessKeyId, secret } = newAccessKey();
    const oldSeal = sealAccessKeySecret(OLD, accessKeyId, secret);
    if (oldSeal === null) throw new Error("a keyed ring seals");
    expect(openAccessKeySecret(NEW_FIRST, accessKeyId, oldSeal)).toBe(secret);
    const newSeal = sealAccessKeySecret(NEW_FIRST, accessKeyId, secret);
    expect(newSeal?.keyId).not.toBe(oldSeal.keyId);
    if (newSeal === null) throw new Error("a keyed ring seals");
    expect(openAccessKeySecret(NEW_ONLY, accessKeyId, newSeal)).toBe(secret);
    expect(openAccessKeySecret(NEW_ONLY, accessKeyId, oldSeal)).toBeNull();
  });

  test("an open (keyless) ring seals nothing", () => {
    expect(sealAccessKeySecret(Keyring.open(), "FTFSAAAAAAAAAAAAAAAA", "x")).toBeNull();
  });
});
