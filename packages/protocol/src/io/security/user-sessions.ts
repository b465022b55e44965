/**
 * Checking a user's session token at a connection's handshake, with the cluster keyring's
 * "session" sub-keys: what every node can tell from the token alone (this cluster signed it,
 * it has not expired). The directory adds what only it knows (the user still exists, at the
 * token's generation: revocation); storage nodes keep no users, so a removed user's session
 * reaches them until it expires (SESSION_TTL_MS).
 */

import { verifyToken, type Result, type SessionClaims } from "../../core/index.ts";
import type { Keyring } from "./keyring.ts";
import type { UserSession } from "../rpc-server.ts";
import { NODE_HASHES } from "./node-hashes.ts";

export interface CheckedSession {
  readonly claims: SessionClaims;
  readonly session: UserSession;
}

export function checkSessionToken(
  keyring: Keyring,
  token: string,
  nowMs: number,
): Result<CheckedSession> {
  const verified = verifyToken(NODE_HASHES, token, keyring.subKeys("session").lookup, nowMs);
  if (!verified.ok) return verified;
  const { claims, sessionKey } = verified.value;
  const principal = {
    kind: "user",
    uid: claims.uid,
    admin: claims.admin,
    sessionId: claims.sessionId,
  } as const;
  return { ok: true, value: { claims, session: { principal, sessionKey } } };
}

/** Storage nodes' check: the token alone. */
export function statelessUserAuthenticator(
  keyring: Keyring,
  nowMs: () => number,
): (token: string) => Result<UserSession> {
  return (token) => {
    const checked = checkSessionToken(keyring, token, nowMs());
    return checked.ok ? { ok: true, value: checked.value.session } : checked;
  };
}
