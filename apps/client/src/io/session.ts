/**
 * The CLI's only durable state: who the user connected as, where the cluster is, and on a
 * secure cluster each logged-in user's session (token and session key, never the secret).
 * Written by `ftfs <uid> c`, read by every later command. Lives in $FTFS_CONFIG_DIR, else
 * $XDG_CONFIG_HOME/ftfs, else ~/.config/ftfs, as session.json with mode 0600: a session key
 * acts as its user until it expires, so other local users must not read it. Written to a
 * temporary file and renamed, so a crash never leaves half a session.
 */

import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  FtfsError,
  fromBase64Url,
  parseAddress,
  toBase64Url,
  validateUid,
} from "@ftfs/protocol/core";
import type { LoginSession } from "@ftfs/client";

export const SESSION_FILE_NAME = "session.json";
const SESSION_FILE_MODE = 0o600;
const CONFIG_DIR_MODE = 0o700;

/** A user's login, and the cluster it was made on (its token is good there only). */
export interface SavedLogin extends LoginSession {
  /** Absent in files written before logins named their cluster: the session's then. */
  readonly cluster?: readonly string[];
}

export interface Session {
  /** Who friendly commands act as; null after that user logged out while others stay. */
  readonly uid: string | null;
  readonly cluster: readonly string[];
  /** The directory primary when the session was made; tried first next time. */
  readonly primary: string | null;
  /** Sessions of users logged in to a secure cluster, by uid: one `c` per user. */
  readonly logins?: Readonly<Record<string, SavedLogin>>;
}

export type Env = Readonly<Record<string, string | undefined>>;

export function configDir(env: Env): string {
  const explicit = env.FTFS_CONFIG_DIR;
  if (explicit !== undefined && explicit !== "") return explicit;
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg !== undefined && xdg !== "") return join(xdg, "ftfs");
  return join(env.HOME ?? homedir(), ".config", "ftfs");
}

export function sessionPath(env: Env): string {
  return join(configDir(env), SESSION_FILE_NAME);
}

/** The saved session, or null if there is none. A damaged file counts as none. */
export async function loadSession(env: Env): Promise<Session | null> {
  let text: string;
  try {
    text = await readFile(sessionPath(env), "utf8");
  } catch {
    return null; // no session yet (or unreadable): commands fall back to flags and defaults
  }
  return parseSession(text);
}

export function parseSession(text: string): Session | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { uid, cluster, primary } = value as Record<string, unknown>;
  const current =
    uid === null ? null : typeof uid === "string" && validateUid(uid).ok ? uid : false;
  if (current === false) return null;
  const addresses = addressList(cluster);
  if (addresses === null) return null;
  const primaryAddress = typeof primary === "string" && parseAddress(primary).ok ? primary : null;
  const logins = parseLogins((value as Record<string, unknown>).logins);
  return {
    uid: current,
    cluster: addresses,
    primary: primaryAddress,
    ...(logins === null ? {} : { logins }),
  };
}

/** A non-empty list of host:port addresses, or null. */
function addressList(value: unknown): string[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const addresses = value.filter(
    (item): item is string => typeof item === "string" && parseAddress(item).ok,
  );
  return addresses.length === value.length ? addresses : null;
}

/** Damaged entries are dropped: that user logs in again. */
function parseLogins(value: unknown): Record<string, SavedLogin> | null {
  if (typeof value !== "object" || value === null) return null;
  const logins: Record<string, SavedLogin> = {};
  for (const [uid, entry] of Object.entries(value)) {
    if (typeof entry !== "object" || entry === null || !validateUid(uid).ok) continue;
    const { token, sessionKey, expiresAtMs, admin, cluster } = entry as Record<string, unknown>;
    const key = typeof sessionKey === "string" ? fromBase64Url(sessionKey) : null;
    if (typeof token !== "string" || key === null || typeof expiresAtMs !== "number") continue;
    const addresses = addressList(cluster);
    const login = { uid, token, sessionKey: key, expiresAtMs, admin: admin === true };
    logins[uid] = addresses === null ? login : { ...login, cluster: addresses };
  }
  return logins;
}

function serialize(session: Session): string {
  const logins = Object.fromEntries(
    Object.entries(session.logins ?? {}).map(([uid, login]) => [
      uid,
      {
        token: login.token,
        sessionKey: toBase64Url(login.sessionKey),
        expiresAtMs: login.expiresAtMs,
        admin: login.admin,
        ...(login.cluster === undefined ? {} : { cluster: login.cluster }),
      },
    ]),
  );
  const { uid, cluster, primary } = session;
  return `${JSON.stringify({ uid, cluster, primary, logins }, null, 2)}\n`;
}

export async function saveSession(env: Env, session: Session): Promise<void> {
  const folder = configDir(env);
  const path = sessionPath(env);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(folder, { recursive: true, mode: CONFIG_DIR_MODE });
    await writeFile(temporary, serialize(session), {
      mode: SESSION_FILE_MODE,
    });
    // The umask may have changed the mode, or a stale temporary file kept its old one.
    await chmod(temporary, SESSION_FILE_MODE);
    await rename(temporary, path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new FtfsError("LOCAL_FILE", `cannot save the session in ${folder}: ${reason}`, {
      cause: error,
    });
  }
}

/** Forget the session: the file goes (nothing to do if there is none). */
export async function removeSession(env: Env): Promise<void> {
  try {
    await rm(sessionPath(env), { force: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new FtfsError("LOCAL_FILE", `cannot remove ${sessionPath(env)}: ${reason}`, {
      cause: error,
    });
  }
}
