/**
 * Property: every refusal says what to do in the user's words: who to log in as and with which
 * command (as the user runs the CLI), that a command needs an administrator and how to be one,
 * where an unreachable or wrong address came from; nothing names an internal operation.
 */
import { describe, expect, test } from "bun:test";
import { commandLabel } from "./args.ts";
import { explainFailure, type FailureContext, type FailureFacts } from "./explain.ts";

function facts(code: FailureFacts["code"], message: string, more: Partial<FailureFacts> = {}) {
  return { code, message, connectFailure: null, role: null, ...more };
}

const SESSION = {
  kind: "session",
  uid: "demo",
  file: "/home/u/.config/ftfs/session.json",
} as const;

function context(more: Partial<FailureContext>): FailureContext {
  return {
    command: "ls",
    acting: { kind: "user", uid: "alice", loggedIn: true },
    source: { kind: "default" },
    invokedAs: "bunx ftfs",
    ...more,
  };
}

describe("refusals", () => {
  test("a user not logged in is told to log in as that user, as the CLI was run", () => {
    const acting = { kind: "user", uid: "alice", loggedIn: false } as const;
    const refused = facts(
      "FORBIDDEN",
      "that needs a logged-in user; an anonymous caller may only log in",
    );
    expect(explainFailure(refused, context({ acting }))).toBe(
      "alice is not logged in to this cluster: log in with `bunx ftfs alice c` " +
        "(its secret from FTFS_SECRET, --secret-file or a prompt)",
    );
  });

  test("an admin command says it needs an administrator and how to act as one", () => {
    const refused = facts("FORBIDDEN", "that needs an administrator, which user bob is not");
    const status = context({
      command: "status",
      acting: { kind: "admin", keyGiven: false, sessionUid: "bob" },
      invokedAs: "ftfs",
    });
    expect(explainFailure(refused, status)).toBe(
      "`ftfs status` was refused: that needs an administrator, which user bob is not; " +
        "log in as an administrator (`ftfs <admin uid> c`) or give the cluster key " +
        "(--cluster-key-file PATH or FTFS_CLUSTER_KEY_FILE)",
    );
    // A handler's own refusal is kept, with the same advice.
    const keys = facts("FORBIDDEN", "user bob may not manage the access keys of alice");
    expect(explainFailure(keys, { ...status, command: "admin key ls" })).toStartWith(
      "`ftfs admin key ls` was refused: user bob may not manage the access keys of alice; log in",
    );
  });

  test("an expired session names whose, and the login that renews it", () => {
    expect(explainFailure(facts("SESSION_EXPIRED", "x"), context({}))).toBe(
      "alice's session has expired or was ended: log in again with `bunx ftfs alice c`",
    );
  });
});

describe("addresses", () => {
  test("a stopped cluster: the reason, where the address came from, what to do", () => {
    const refused = facts(
      "CONNECT_FAILED",
      "cannot reach the cluster at 127.0.0.1:17601: nothing listens at 127.0.0.1:17601 " +
        "(connection refused); is it running?",
      { connectFailure: "refused" },
    );
    expect(explainFailure(refused, context({ source: SESSION }))).toBe(
      `${refused.message} (the address is the saved session's, from \`demo c\`, kept in ` +
        `${SESSION.file}; point at another with --cluster or FTFS_CLUSTER, or forget the ` +
        "session: bunx ftfs logout)",
    );
    expect(explainFailure(refused, context({}))).toBe(
      `${refused.message} (the address is the local dev cluster's, the default: start it with ` +
        "`bun run dev`, or point at another with --cluster or FTFS_CLUSTER)",
    );
    expect(explainFailure(refused, context({ source: { kind: "env" } }))).toBe(
      `${refused.message} (the address came from FTFS_CLUSTER)`,
    );
  });

  test("a name that does not resolve is not a stopped cluster", () => {
    const dns = facts(
      "CONNECT_FAILED",
      "cannot reach the cluster at nosuch:7101: no such host 'nosuch' (the name does not resolve)",
      { connectFailure: "dns" },
    );
    expect(explainFailure(dns, context({ source: { kind: "flag" } }))).toBe(
      `${dns.message} (the address came from --cluster)`,
    );
  });

  test("a storage node's address given as the cluster's", () => {
    const wrong = facts(
      "UNKNOWN_OP",
      "127.0.0.1:7111 is a storage node, not a directory node; give a directory node's address",
      { role: "storage" },
    );
    expect(explainFailure(wrong, context({ source: { kind: "flag" } }))).toBe(
      `${wrong.message} (the address came from --cluster)`,
    );
  });
});

test("every command has a label in the user's words", () => {
  expect(commandLabel({ kind: "status", watch: false })).toBe("status");
  expect(
    commandLabel({ kind: "userAdd", uid: "a", admin: false, quotaBytes: null, quotaFiles: null }),
  ).toBe("admin user add");
});
