/**
 * `ftfs whoami` as text: who friendly commands act as, whether and until when that user is
 * logged in, on which cluster, who else is logged in here, and where commands go when
 * --cluster or FTFS_CLUSTER points elsewhere. Pure: the session comes in as plain facts.
 */

import type { ClusterSource } from "./explain.ts";

export interface LoginFacts {
  readonly uid: string;
  readonly admin: boolean;
  readonly expiresAtMs: number;
  readonly cluster: readonly string[];
}

export interface SessionFacts {
  /** Who friendly commands act as; null: nobody until the next `c` or --user. */
  readonly current: string | null;
  /** The session's cluster (an insecure cluster's users have no login, only this). */
  readonly cluster: readonly string[];
  readonly logins: readonly LoginFacts[];
}

export interface WhoamiFacts {
  readonly session: SessionFacts;
  readonly sessionFile: string;
  readonly nowMs: number;
  /** Set when --cluster or FTFS_CLUSTER sends commands elsewhere than the session's cluster. */
  readonly commandsGoTo: {
    readonly addresses: readonly string[];
    readonly source: ClusterSource;
  } | null;
  readonly invokedAs: string;
}

/** The facts of a session as the file keeps them (a login without a cluster: the session's). */
export function describeSession(session: {
  readonly uid: string | null;
  readonly cluster: readonly string[];
  readonly logins?: Readonly<
    Record<
      string,
      {
        readonly admin: boolean;
        readonly expiresAtMs: number;
        readonly cluster?: readonly string[];
      }
    >
  >;
}): SessionFacts {
  const logins = Object.entries(session.logins ?? {})
    .map(([uid, login]) => ({
      uid,
      admin: login.admin,
      expiresAtMs: login.expiresAtMs,
      cluster: login.cluster ?? session.cluster,
    }))
    .sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  return { current: session.uid, cluster: session.cluster, logins };
}

export function formatWhoami(facts: WhoamiFacts, formatTime: (timeMs: number) => string): string {
  const { session, invokedAs } = facts;
  const current = session.logins.find((login) => login.uid === session.current);
  const others = session.logins.filter((login) => login.uid !== session.current);
  const lines: string[] = [];
  if (session.current === null) {
    lines.push(
      `commands act as nobody: log in with \`${invokedAs} <uid> c\`, or pass --user <uid>`,
    );
  } else if (current === undefined) {
    const cluster = session.cluster.join(",");
    lines.push(`${session.current} on ${cluster} (no login: that cluster runs without a key)`);
  } else {
    lines.push(describeLogin(current, facts, formatTime));
  }
  if (others.length > 0) {
    const label = session.current === null ? "logged in here" : "also logged in here";
    const described = others.map(
      (login) => `${login.uid} (${loginState(login, facts, formatTime)})`,
    );
    lines.push(`${label}: ${described.join("; ")}`);
  }
  if (facts.commandsGoTo !== null) {
    const from = facts.commandsGoTo.source.kind === "flag" ? "--cluster" : "FTFS_CLUSTER";
    lines.push(`commands now go to ${facts.commandsGoTo.addresses.join(",")} (from ${from})`);
  }
  lines.push(`session file: ${facts.sessionFile}`);
  return lines.join("\n");
}

function describeLogin(
  login: LoginFacts,
  facts: WhoamiFacts,
  formatTime: (timeMs: number) => string,
): string {
  const role = login.admin ? " (admin)" : "";
  if (login.expiresAtMs <= facts.nowMs) {
    return (
      `${login.uid}${role}, whose login expired at ${formatTime(login.expiresAtMs)}: ` +
      `log in again with \`${facts.invokedAs} ${login.uid} c\``
    );
  }
  return (
    `${login.uid}${role}, logged in until ${formatTime(login.expiresAtMs)} ` +
    `on ${login.cluster.join(",")}`
  );
}

function loginState(
  login: LoginFacts,
  facts: WhoamiFacts,
  formatTime: (timeMs: number) => string,
): string {
  const role = login.admin ? "admin, " : "";
  const until =
    login.expiresAtMs <= facts.nowMs
      ? `expired ${formatTime(login.expiresAtMs)}`
      : `until ${formatTime(login.expiresAtMs)}`;
  return `${role}${until}, on ${login.cluster.join(",")}`;
}
