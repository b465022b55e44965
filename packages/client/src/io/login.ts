/**
 * The client's side of users: a SCRAM login (the secret stays here; only a proof goes out, and
 * the server proves itself back before its token is believed), and the verifier a new user is
 * given (made here from a fresh random secret, so the directory never sees the secret either).
 */

import {
  clientProof,
  deriveClientKeys,
  FtfsError,
  fromBase64Url,
  makeVerifier,
  SCRAM_ITERATIONS_DEFAULT,
  SCRAM_NONCE_BYTES,
  SCRAM_SALT_BYTES,
  SCRAM_SECRET_BYTES,
  toBase64Url,
  unsealSessionKey,
  verifyServerSignature,
  type LoginTranscript,
  type ResponseBody,
  type ScramVerifier,
} from "@ftfs/protocol/core";
import { NODE_HASHES, secureRandomBytes } from "@ftfs/protocol/io";

const hashes = NODE_HASHES;

/** A login's first answer and the client nonce it was asked with. */
export interface LoginChallenge {
  readonly uid: string;
  readonly clientNonce: string;
  readonly start: ResponseBody<"loginStart">;
}

/** What a login yields: the token to present and the key the channel is MACed with. */
export interface LoginSession {
  readonly uid: string;
  readonly token: string;
  readonly sessionKey: Uint8Array;
  readonly expiresAtMs: number;
  readonly admin: boolean;
}

export function newClientNonce(): string {
  return toBase64Url(secureRandomBytes(SCRAM_NONCE_BYTES));
}

/** The proof for a challenge, and what checking the answer needs. */
export function proveLogin(
  challenge: LoginChallenge,
  secret: string,
): {
  readonly proof: string;
  readonly finish: (answer: ResponseBody<"loginFinish">) => LoginSession;
} {
  const { uid, clientNonce, start } = challenge;
  const salt = fromBase64Url(start.salt);
  if (salt === null)
    throw new FtfsError("BAD_FRAME", "the directory sent a salt that is not base64url");
  const keys = deriveClientKeys(hashes, secret, salt, start.iterations);
  const transcript: LoginTranscript = {
    uid,
    clientNonce,
    serverNonce: start.serverNonce,
    salt: start.salt,
    iterations: start.iterations,
  };
  const finish = (answer: ResponseBody<"loginFinish">): LoginSession => {
    if (!verifyServerSignature(hashes, keys, transcript, answer.serverSignature)) {
      throw new FtfsError(
        "AUTH_FAILED",
        "the directory could not prove it holds this user's verifier: not the cluster it claims",
      );
    }
    const sessionKey = unsealSessionKey(
      hashes,
      keys.clientKey,
      transcript,
      answer.sealedSessionKey,
    );
    if (sessionKey === null)
      throw new FtfsError("BAD_FRAME", "the directory sent a malformed session key");
    return {
      uid,
      token: answer.token,
      sessionKey,
      expiresAtMs: answer.expiresAtMs,
      admin: answer.admin,
    };
  };
  return { proof: clientProof(hashes, keys, transcript), finish };
}

/** A new user's secret (shown once) and the verifier the directory keeps instead of it. */
export function newUserCredentials(iterations = SCRAM_ITERATIONS_DEFAULT): {
  readonly secret: string;
  readonly verifier: ScramVerifier;
} {
  const secret = toBase64Url(secureRandomBytes(SCRAM_SECRET_BYTES));
  const verifier = makeVerifier(hashes, secret, secureRandomBytes(SCRAM_SALT_BYTES), iterations);
  return { secret, verifier };
}
