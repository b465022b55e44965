/**
 * Turning a failure into the line a person can act on: what they tried, what went wrong in
 * their terms (never an internal operation's name), and what to do next: log in as whom, with
 * which command; where the cluster address came from when it is unreachable or wrong. Pure:
 * the caller says what the command was, who acted and where the addresses came from.
 */

import { assertNever, type ErrorCode } from "@ftfs/protocol/core";

/** Where a command's cluster addresses came from, most specific first. */
export type ClusterSource =
  | { readonly kind: "flag" }
  | { readonly kind: "env" }
  /** The saved session's: `uid` made it (`ftfs uid c`), kept in `file`. */
  | { readonly kind: "session"; readonly uid: string; readonly file: string }
  | { readonly kind: "default" };

/** Who a command acted as, as far as the CLI chose it. */
export type ActingAs =
  | { readonly kind: "user"; readonly uid: string; readonly loggedIn: boolean }
  | { readonly kind: "admin"; readonly keyGiven: boolean; readonly sessionUid: string | null }
  | { readonly kind: "anonymous" };

export interface FailureContext {
  /** The command in the user's words, e.g. `status`, `admin user add`, `alice d`. */
  readonly command: string;
  readonly acting: ActingAs;
  readonly source: ClusterSource;
  /** How the user runs the CLI (`ftfs`, `bunx ftfs`): the commands suggested start with it. */
  readonly invokedAs: string;
}

/** What the CLI knows of an error: its code, its line, and why a connection failed. */
export interface FailureFacts {
  readonly code: ErrorCode;
  readonly message: string;
  /** Set when no node could be reached: a name that does not resolve, a refused port, … */
  readonly connectFailure: string | null;
  /** A node that said what it is (a storage node where a directory was expected). */
  readonly role: string | null;
}

export function explainFailure(facts: FailureFacts, context: FailureContext | null): string {
  const oneLine = facts.message.replace(/\s*\n\s*/g, " ");
  if (context === null) return oneLine;
  switch (facts.code) {
    case "FORBIDDEN":
      return forbidden(oneLine, context);
    case "SESSION_EXPIRED":
      return expired(context);
    case "NO_SUCH_USER":
      // The servers may already say how; do not say it twice.
      return oneLine.includes(" c`") || oneLine.includes("admin user add")
        ? oneLine
        : `${oneLine} (connect first: ${context.invokedAs} <uid> c)`;
    case "UNKNOWN_OP":
      return facts.role === null ? oneLine : `${oneLine} (${sourcePhrase(context.source)})`;
    default:
      return facts.connectFailure === null ? oneLine : unreachable(oneLine, facts, context);
  }
}

function forbidden(message: string, context: FailureContext): string {
  const { acting, invokedAs } = context;
  const keyHint = "give the cluster key (--cluster-key-file PATH or FTFS_CLUSTER_KEY_FILE)";
  switch (acting.kind) {
    case "user":
      if (acting.loggedIn) return message;
      return (
        `${acting.uid} is not logged in to this cluster: log in with ` +
        `\`${invokedAs} ${acting.uid} c\` (its secret from FTFS_SECRET, --secret-file or a prompt)`
      );
    case "admin": {
      const who =
        acting.sessionUid === null
          ? "no administrator is logged in"
          : `the session's user ${acting.sessionUid} is not an administrator`;
      const login = `log in as an administrator (\`${invokedAs} <admin uid> c\`)`;
      if (acting.keyGiven) return `\`${context.command}\`: ${message}`;
      return `\`${invokedAs} ${context.command}\` needs an administrator, and ${who}: ${login} or ${keyHint}`;
    }
    case "anonymous":
      return `${message} (log in first: ${invokedAs} <uid> c)`;
    default:
      return assertNever(acting);
  }
}

function expired(context: FailureContext): string {
  const { acting, invokedAs } = context;
  const uid =
    acting.kind === "user" ? acting.uid : acting.kind === "admin" ? acting.sessionUid : null;
  if (uid === null) return `the session has expired: log in again (${invokedAs} <uid> c)`;
  return `${uid}'s session has expired or was ended: log in again with \`${invokedAs} ${uid} c\``;
}

/** No node answered: the reason, where the addresses came from, and what to do. */
function unreachable(message: string, facts: FailureFacts, context: FailureContext): string {
  const { source, invokedAs } = context;
  const where = sourcePhrase(source);
  const elsewhere = "point at another with --cluster or FTFS_CLUSTER";
  if (facts.connectFailure === "foreign" && message.includes("TLS")) {
    return `${message} (--tls-ca FILE or FTFS_TLS_CA; ${where})`;
  }
  switch (source.kind) {
    case "default":
      if (facts.connectFailure === "dns" || facts.connectFailure === "foreign") {
        return `${message} (${where})`;
      }
      return `${message} (${where}: start it with \`bun run dev\`, or ${elsewhere})`;
    case "session":
      return `${message} (${where}; ${elsewhere}, or forget the session: ${invokedAs} logout)`;
    case "flag":
    case "env":
      return `${message} (${where})`;
    default:
      return assertNever(source);
  }
}

/** Where the addresses came from, in words. */
export function sourcePhrase(source: ClusterSource): string {
  switch (source.kind) {
    case "flag":
      return "the address came from --cluster";
    case "env":
      return "the address came from FTFS_CLUSTER";
    case "session":
      return `the address is the saved session's, from \`${source.uid} c\`, kept in ${source.file}`;
    case "default":
      return "the address is the local dev cluster's, the default";
    default:
      return assertNever(source);
  }
}

/** The JSON form of an error (with --json): what scripts match on, beside the exit status. */
export function errorJson(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}
