/**
 * The CLI's only durable state: who the user connected as, and where the cluster is. Written
 * by `ftfs <uid> c`, read by every later command. Lives in $FTFS_CONFIG_DIR, else
 * $XDG_CONFIG_HOME/ftfs, else ~/.config/ftfs, as session.json with mode 0600 (it names the
 * user and the cluster; other local users have no business reading it). Written to a temporary
 * file and renamed, so a crash never leaves half a session.
 */

import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { FtfsError, parseAddress, validateUid } from "@ftfs/protocol/core";

export const SESSION_FILE_NAME = "session.json";
const SESSION_FILE_MODE = 0o600;
const CONFIG_DIR_MODE = 0o700;

export interface Session {
  readonly uid: string;
  readonly cluster: readonly string[];
  /** The directory primary when the session was made; tried first next time. */
  readonly primary: string | null;
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
  if (typeof uid !== "string" || !validateUid(uid).ok) return null;
  if (!Array.isArray(cluster) || cluster.length === 0) return null;
  const addresses = cluster.filter(
    (item): item is string => typeof item === "string" && parseAddress(item).ok,
  );
  if (addresses.length !== cluster.length) return null;
  const primaryAddress = typeof primary === "string" && parseAddress(primary).ok ? primary : null;
  return { uid, cluster: addresses, primary: primaryAddress };
}

export async function saveSession(env: Env, session: Session): Promise<void> {
  const folder = configDir(env);
  const path = sessionPath(env);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(folder, { recursive: true, mode: CONFIG_DIR_MODE });
    await writeFile(temporary, `${JSON.stringify(session, null, 2)}\n`, {
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
