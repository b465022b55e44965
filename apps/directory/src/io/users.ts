/**
 * Users on the directory: logins (SCRAM, stateless server nonces, session tokens), the admin
 * ops that add, remove and list users, and the check of a session token at a connection's
 * handshake (the token's MAC and expiry, then the user still exists at the token's
 * generation: a removed user's sessions die at once here). Logins exist only with a cluster
 * key: without one (insecure mode) nothing is authenticated and these handlers are not served.
 * Secrets never reach this file; verifiers are never logged.
 */

import {
  checkLoginNonce,
  fail,
  fromBase64Url,
  issueLoginNonce,
  issueToken,
  ok,
  SCRAM_ITERATIONS_DEFAULT,
  SCRAM_NONCE_BYTES,
  SCRAM_SALT_BYTES,
  sealSessionKey,
  serverSignature,
  SESSION_ID_BYTES,
  SESSION_TTL_MS,
  toBase64Url,
  USERS_LIST_MAX,
  utf8,
  validateUid,
  verifyProof,
  type LoginTranscript,
  type Op,
  type RequestBody,
  type Result,
  type ScramVerifier,
  type UserSummary,
} from "@ftfs/protocol/core";
import {
  checkSessionToken,
  NODE_HASHES,
  secureRandomBytes,
  type Keyring,
  type Logger,
  type Reply,
  type UserSession,
} from "@ftfs/protocol/io";
import { noSuchUser, type MetadataView, type UserRecord } from "../core/index.ts";
import type { Proposer } from "./replicator.ts";

const hashes = NODE_HASHES;
const FAKE_SALT_LABEL = "ftfs/unknown-user-salt/v1|";

export interface UsersContext {
  readonly store: MetadataView;
  readonly proposer: Proposer;
  readonly nowMs: () => number;
  readonly logger: Logger;
}

type Answer<O extends Op> = Promise<Result<Reply<O>>>;

/** The handshake's check of a user's token on the directory, revocation included. */
export function directoryUserAuthenticator(
  keyring: Keyring,
  store: MetadataView,
  nowMs: () => number,
): (token: string) => Result<UserSession> {
  return (token) => {
    const checked = checkSessionToken(keyring, token, nowMs());
    if (!checked.ok) return checked;
    const { claims, session } = checked.value;
    const user = store.getUser(claims.uid);
    if (user?.verifier === undefined || (user.generation ?? 0) !== claims.generation) {
      // A token names the log index of its user's userAdd, so a node that has not applied that
      // far (a lagging backup, a primary-elect) cannot judge it: the client retries elsewhere
      // or later. Only a node past that index knows the user was removed or re-created.
      if (store.lastApplied() < claims.generation) {
        return fail("UNAVAILABLE", `this directory node has not yet learned of user ${claims.uid}`);
      }
      return fail("SESSION_EXPIRED", `session expired: run \`ftfs ${claims.uid} c\``);
    }
    // The role as it is now, not as it was at login.
    return ok({ ...session, principal: { ...session.principal, admin: user.admin === true } });
  };
}

/** One message for every failed login: it must not tell who exists. */
function loginFailed(uid: string): ReturnType<typeof fail> {
  return fail("AUTH_FAILED", `login as ${uid} failed: unknown user or wrong secret`);
}

/**
 * A user without credentials gets a salt that looks like one (stable per uid, so asking twice
 * tells nothing) and the default rounds; its login then fails like a wrong secret.
 */
function saltOf(keyring: Keyring, uid: string, user: UserRecord | undefined): ScramVerifier {
  if (user?.verifier !== undefined) return user.verifier;
  const signing = keyring.subKeys("session").signing;
  const fake = hashes.hmacSha256(signing?.key ?? new Uint8Array(), utf8(FAKE_SALT_LABEL + uid));
  const salt = toBase64Url(fake.subarray(0, SCRAM_SALT_BYTES));
  // Keys that match no proof: hashes of the uid, never a ClientKey anyone holds.
  const nothing = toBase64Url(hashes.sha256(utf8(FAKE_SALT_LABEL + uid)));
  return { salt, iterations: SCRAM_ITERATIONS_DEFAULT, storedKey: nothing, serverKey: nothing };
}

export async function onLoginStart(
  context: UsersContext,
  keyring: Keyring,
  body: RequestBody<"loginStart">,
): Answer<"loginStart"> {
  const valid = validateUid(body.uid);
  if (!valid.ok) return valid;
  const signing = keyring.subKeys("session").signing;
  if (signing === null) return fail("INTERNAL", "a secure directory has no session key");
  const { salt, iterations } = saltOf(keyring, body.uid, context.store.getUser(body.uid));
  const random = secureRandomBytes(SCRAM_NONCE_BYTES);
  const login = { uid: body.uid, clientNonce: body.clientNonce };
  const serverNonce = issueLoginNonce(hashes, signing, login, random, context.nowMs());
  return ok({ body: { salt, iterations, serverNonce } });
}

export async function onLoginFinish(
  context: UsersContext,
  keyring: Keyring,
  body: RequestBody<"loginFinish">,
): Answer<"loginFinish"> {
  const { uid, clientNonce, serverNonce, proof } = body;
  const sessionKeys = keyring.subKeys("session");
  const nowMs = context.nowMs();
  const fresh = checkLoginNonce(
    hashes,
    serverNonce,
    { uid, clientNonce },
    sessionKeys.lookup,
    nowMs,
  );
  const user = context.store.getUser(uid);
  const verifier = saltOf(keyring, uid, user);
  const transcript: LoginTranscript = {
    uid,
    clientNonce,
    serverNonce,
    salt: verifier.salt,
    iterations: verifier.iterations,
  };
  // Checked for unknown users too, against keys no proof matches: the same work either way.
  const clientKey = verifyProof(hashes, verifier, transcript, proof);
  const signing = sessionKeys.signing;
  if (!fresh || clientKey === null || user?.verifier === undefined || signing === null) {
    context.logger.info("login refused", { uid });
    return loginFailed(uid);
  }
  const claims = {
    uid,
    sessionId: toBase64Url(secureRandomBytes(SESSION_ID_BYTES)),
    admin: user.admin === true,
    expiresAtMs: nowMs + SESSION_TTL_MS,
    generation: user.generation ?? 0,
  };
  const { token, sessionKey } = issueToken(hashes, signing, claims);
  const serverKey = fromBase64Url(user.verifier.serverKey) ?? new Uint8Array();
  context.logger.info("user logged in", { uid, sessionId: claims.sessionId });
  return ok({
    body: {
      token,
      sealedSessionKey: sealSessionKey(hashes, clientKey, transcript, sessionKey),
      serverSignature: serverSignature(hashes, serverKey, transcript),
      expiresAtMs: claims.expiresAtMs,
      admin: claims.admin,
    },
  });
}

export async function onUserAdd(
  context: UsersContext,
  body: RequestBody<"userAdd">,
): Answer<"userAdd"> {
  const valid = validateUid(body.uid);
  if (!valid.ok) return valid;
  const result = await context.proposer.propose({
    type: "userAdd",
    uid: body.uid,
    verifier: body.verifier,
    admin: body.admin,
    quotaBytes: body.quotaBytes ?? null,
    quotaFiles: body.quotaFiles ?? null,
    atMs: context.nowMs(),
  });
  if (!result.ok) return result;
  context.logger.info("user added", { uid: body.uid, admin: body.admin });
  return ok({ body: { uid: body.uid, generation: result.value.generation } });
}

export async function onUserRemove(
  context: UsersContext,
  body: RequestBody<"userRemove">,
): Answer<"userRemove"> {
  const valid = validateUid(body.uid);
  if (!valid.ok) return valid;
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  if (context.store.getUser(body.uid) === undefined) return noSuchUser(body.uid);
  const result = await context.proposer.propose({
    type: "userRemove",
    uid: body.uid,
    atMs: context.nowMs(),
  });
  if (!result.ok) return result;
  context.logger.info("user removed", { uid: body.uid });
  return ok({ body: { uid: body.uid } });
}

/** Every user, with the directory's default quotas (what a user without its own has). */
export async function onUserList(
  context: UsersContext,
  defaults: { readonly quotaBytesDefault: number; readonly quotaFilesDefault: number },
): Answer<"userList"> {
  const current = await context.proposer.readBarrier();
  if (!current.ok) return current;
  const users = context.store.listUsers(USERS_LIST_MAX).map((user): UserSummary => {
    const usage = context.store.getUsage(user.uid);
    return {
      uid: user.uid,
      admin: user.admin === true,
      credentials: user.verifier !== undefined,
      createdAtMs: user.createdAtMs,
      quotaBytes: user.quotaBytes ?? null,
      quotaFiles: user.quotaFiles ?? null,
      usedBytes: usage.bytes,
      usedFiles: usage.files,
    };
  });
  return ok({ body: { users, ...defaults } });
}
