/**
 * SCRAM's properties: the right secret logs in and the server proves itself back; a wrong
 * secret, a proof replayed into another login, or an altered field is refused; the session key
 * survives sealing only for the secret's holder; the verifier reveals nothing that logs in.
 */
import { describe, expect, test } from "bun:test";
import { NODE_HASHES, secureRandomBytes } from "../../io/security/node-hashes.ts";
import { fromBase64Url, toBase64Url } from "./bytes.ts";
import {
  clientProof,
  deriveClientKeys,
  makeVerifier,
  SCRAM_ITERATIONS_MIN,
  sealSessionKey,
  serverSignature,
  unsealSessionKey,
  verifyProof,
  verifyServerSignature,
  type LoginTranscript,
  type ScramVerifier,
} from "./scram.ts";

const hashes = NODE_HASHES;
const SECRET = "correct horse battery staple";

function setup(): { verifier: ScramVerifier; transcript: LoginTranscript } {
  const verifier = makeVerifier(hashes, SECRET, secureRandomBytes(16), SCRAM_ITERATIONS_MIN);
  const transcript = {
    uid: "alice",
    clientNonce: toBase64Url(secureRandomBytes(16)),
    serverNonce: "k.r.1.m",
    salt: verifier.salt,
    iterations: verifier.iterations,
  };
  return { verifier, transcript };
}

function clientKeysFor(secret: string, verifier: ScramVerifier) {
  return deriveClientKeys(
    hashes,
    secret,
    fromBase64Url(verifier.salt) ?? new Uint8Array(),
    verifier.iterations,
  );
}

describe("scram", () => {
  test("the right secret's proof verifies and reveals the ClientKey", () => {
    const { verifier, transcript } = setup();
    const keys = clientKeysFor(SECRET, verifier);
    const clientKey = verifyProof(
      hashes,
      verifier,
      transcript,
      clientProof(hashes, keys, transcript),
    );
    expect(clientKey).toEqual(keys.clientKey);
  });

  test("a wrong secret's proof is refused", () => {
    const { verifier, transcript } = setup();
    const keys = clientKeysFor("wrong secret", verifier);
    expect(
      verifyProof(hashes, verifier, transcript, clientProof(hashes, keys, transcript)),
    ).toBeNull();
  });

  test("a proof from one login is refused in another (nonce, uid or salt changed)", () => {
    const { verifier, transcript } = setup();
    const proof = clientProof(hashes, clientKeysFor(SECRET, verifier), transcript);
    for (const changed of [
      { ...transcript, serverNonce: "k.r.2.m" },
      { ...transcript, clientNonce: "other" },
      { ...transcript, uid: "bob" },
      { ...transcript, iterations: transcript.iterations + 1 },
    ]) {
      expect(verifyProof(hashes, verifier, changed, proof)).toBeNull();
    }
  });

  test("garbage proofs are refused, not thrown on", () => {
    const { verifier, transcript } = setup();
    for (const proof of [
      "",
      "!!!",
      toBase64Url(new Uint8Array(31)),
      toBase64Url(new Uint8Array(32)),
    ]) {
      expect(verifyProof(hashes, verifier, transcript, proof)).toBeNull();
    }
  });

  test("the stored keys alone do not make a valid proof", () => {
    const { verifier, transcript } = setup();
    // An attacker with the database has StoredKey and ServerKey but not ClientKey.
    const storedKey = fromBase64Url(verifier.storedKey) ?? new Uint8Array();
    const serverKey = fromBase64Url(verifier.serverKey) ?? new Uint8Array();
    const forged = clientProof(hashes, { clientKey: storedKey, storedKey, serverKey }, transcript);
    expect(verifyProof(hashes, verifier, transcript, forged)).toBeNull();
  });

  test("the server's signature verifies for the client, and not for another verifier", () => {
    const { verifier, transcript } = setup();
    const keys = clientKeysFor(SECRET, verifier);
    const signature = serverSignature(
      hashes,
      fromBase64Url(verifier.serverKey) ?? new Uint8Array(),
      transcript,
    );
    expect(verifyServerSignature(hashes, keys, transcript, signature)).toBe(true);
    const impostor = makeVerifier(hashes, SECRET, secureRandomBytes(16), SCRAM_ITERATIONS_MIN);
    const fake = serverSignature(
      hashes,
      fromBase64Url(impostor.serverKey) ?? new Uint8Array(),
      transcript,
    );
    expect(verifyServerSignature(hashes, keys, transcript, fake)).toBe(false);
  });

  test("a sealed session key opens with the ClientKey only", () => {
    const { verifier, transcript } = setup();
    const keys = clientKeysFor(SECRET, verifier);
    const sessionKey = secureRandomBytes(32);
    const sealed = sealSessionKey(hashes, keys.clientKey, transcript, sessionKey);
    expect(unsealSessionKey(hashes, keys.clientKey, transcript, sealed)).toEqual(sessionKey);
    const wrong = clientKeysFor("wrong", verifier);
    expect(unsealSessionKey(hashes, wrong.clientKey, transcript, sealed)).not.toEqual(sessionKey);
    expect(sealed).not.toBe(toBase64Url(sessionKey));
  });
});
