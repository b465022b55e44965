/**
 * The commands about who acts: `ftfs <uid> c` (log in and remember it), `ftfs whoami` (who
 * commands act as, on which cluster, and who else is logged in here) and `ftfs logout` (forget
 * a login here). The session file itself is session.ts.
 */

import { readFile } from "node:fs/promises";
import { FtfsError } from "@ftfs/protocol/core";
import { UsageError } from "@ftfs/protocol/io";
import { fileErrorReason } from "@ftfs/client";
import type { Command, GlobalOptions } from "../core/args.ts";
import { describeSession, formatWhoami, type WhoamiFacts } from "../core/whoami.ts";
import type { CliState } from "./cli-state.ts";
import { formatLocalTime } from "./local-time.ts";
import {
  removeSession,
  saveSession,
  sessionPath,
  type SavedLogin,
  type Session,
} from "./session.ts";

async function print(state: CliState, text: string): Promise<void> {
  await state.io.out(`${text}\n`);
}

/**
 * On a secure cluster: log in (SCRAM; the secret stays here), then connect over a channel the
 * new session authenticates. On an insecure one (no logins served): connect, as the seed did.
 * Other users' logins in the file are kept, each with the cluster it was made on.
 */
export async function connect(
  state: CliState,
  options: GlobalOptions,
  uid: string,
  secretFile: string | null,
): Promise<void> {
  const cluster = state.clusterFor(options, { kind: "user", uid });
  const anonymous = state.client(options, { kind: "anonymous" });
  const challenge = await anonymous.loginStart(uid);
  const { [uid]: previous, ...others } = state.session?.logins ?? {};
  let logins: Record<string, SavedLogin> = others;
  if (challenge !== null) {
    const secret = await readSecret(state, uid, secretFile);
    logins = { ...others, [uid]: { ...(await anonymous.loginFinish(challenge, secret)), cluster } };
  }
  const primary = state.session?.primary ?? null;
  state.session = { uid, cluster, primary, logins };
  const answer = await state.client(options, { kind: "user", uid }).connect(uid);
  state.session = { uid, cluster, primary: answer.primary, logins };
  await saveSession(state.io.env, state.session);
  if (options.json) return print(state, JSON.stringify({ ...answer, cluster }, null, 2));
  const greeting = answer.created ? `connected as ${uid} (new user)` : `connected as ${uid}`;
  return print(
    state,
    `${greeting}; primary directory node ${answer.node} at ${answer.primary} (term ${answer.term})`,
  );
}

/**
 * The secret for a login: $FTFS_SECRET, else --secret-file, else a prompt on a terminal. A
 * trailing newline of a file or a paste is not part of it.
 */
async function readSecret(
  state: CliState,
  uid: string,
  secretFile: string | null,
): Promise<string> {
  const fromEnv = state.io.env.FTFS_SECRET;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv.trim();
  if (secretFile !== null) {
    try {
      return (await readFile(secretFile, "utf8")).trim();
    } catch (error) {
      const reason = fileErrorReason(error, "no such file");
      throw new FtfsError("LOCAL_FILE", `cannot read the secret file ${secretFile}: ${reason}`);
    }
  }
  if (state.io.stdinIsTty && state.io.readSecret !== undefined) {
    return (await state.io.readSecret(`secret for ${uid}: `)).trim();
  }
  throw new UsageError(
    `logging in as ${uid} needs its secret: set FTFS_SECRET, pass --secret-file PATH, ` +
      "or run on a terminal",
  );
}

/** Who commands act as and where; nobody logged in is exit status 1 (NOT_LOGGED_IN). */
export async function whoami(state: CliState, options: GlobalOptions): Promise<void> {
  const session = state.session;
  const invokedAs = state.invokedAs;
  if (
    session === null ||
    (session.uid === null && Object.keys(session.logins ?? {}).length === 0)
  ) {
    throw new FtfsError(
      "NOT_LOGGED_IN",
      `nobody is logged in here: log in with \`${invokedAs} <uid> c\``,
    );
  }
  const target = state.cluster(options);
  const facts: WhoamiFacts = {
    session: describeSession(session),
    sessionFile: sessionPath(state.io.env),
    nowMs: Date.now(),
    commandsGoTo: target.source.kind === "flag" || target.source.kind === "env" ? target : null,
    invokedAs,
  };
  if (options.json) return print(state, JSON.stringify(whoamiJson(facts), null, 2));
  return print(state, formatWhoami(facts, formatLocalTime));
}

function whoamiJson(facts: WhoamiFacts): unknown {
  const { session, sessionFile, commandsGoTo } = facts;
  return {
    uid: session.current,
    logins: session.logins.map(({ uid, admin, expiresAtMs, cluster }) => ({
      uid,
      admin,
      expiresAtMs,
      expired: expiresAtMs <= facts.nowMs,
      cluster,
    })),
    cluster: session.cluster,
    ...(commandsGoTo === null ? {} : { commandsGoTo: commandsGoTo.addresses }),
    sessionFile,
  };
}

type LogoutCommand = Extract<Command, { kind: "logout" }>;

/**
 * Forget logins kept here. The current user's, by default; then commands have no user until
 * the next `c` or --user (acting as someone else unasked is what this must not do). The file
 * goes once nothing is left in it, or with --all.
 */
export async function logout(
  state: CliState,
  options: GlobalOptions,
  command: LogoutCommand,
): Promise<void> {
  const session = state.session;
  const say = async (text: string, json: unknown): Promise<void> =>
    options.json ? print(state, JSON.stringify(json, null, 2)) : print(state, text);
  if (session === null) return say("nobody is logged in here", { loggedOut: [] });
  const everyone = [
    ...new Set([
      ...Object.keys(session.logins ?? {}),
      ...(session.uid === null ? [] : [session.uid]),
    ]),
  ];
  if (command.all) {
    await removeSession(state.io.env);
    state.session = null;
    return say(`forgot the session here (${everyone.join(", ") || "nobody"}) and its cluster`, {
      loggedOut: everyone,
    });
  }
  const uid = command.uid ?? session.uid;
  if (uid === null || !everyone.includes(uid)) {
    throw new FtfsError(
      "NOT_LOGGED_IN",
      `${uid ?? "nobody"} is not logged in here (logged in: ${everyone.join(", ") || "nobody"})`,
    );
  }
  const { [uid]: _, ...logins } = session.logins ?? {};
  const rest: Session = { ...session, uid: session.uid === uid ? null : session.uid, logins };
  const left = Object.keys(logins);
  if (rest.uid === null && left.length === 0) {
    await removeSession(state.io.env);
    state.session = null;
  } else {
    await saveSession(state.io.env, rest);
    state.session = rest;
  }
  const login = `\`${state.invokedAs} <uid> c\``;
  const after =
    rest.uid !== null
      ? `commands still act as ${rest.uid}`
      : left.length > 0
        ? `still logged in here: ${left.join(", ")}; commands act as nobody until ${login} or --user`
        : "nobody is logged in here now";
  return say(`logged out ${uid} (its session is deleted from this machine); ${after}`, {
    loggedOut: [uid],
    current: rest.uid,
    loggedIn: left,
  });
}
