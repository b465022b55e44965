import { expect, test } from "bun:test";
import { issueToken, SESSION_TTL_MS } from "@ftfs/protocol/core";
import { Keyring, NODE_HASHES } from "@ftfs/protocol/io";
import type { MetadataView, UserRecord } from "../core/index.ts";
import { directoryUserAuthenticator } from "./users.ts";

const NOW_MS = 1_700_000_000_000;
/** The log index of alice's userAdd: her tokens carry it as their generation. */
const ALICE_GENERATION = 40;
const VERIFIER = { salt: "c2FsdA", iterations: 4096, storedKey: "c3RvcmVk", serverKey: "c2VydmVy" };

const keyring = Keyring.of([new Uint8Array(32).fill(7)]);

function tokenFor(generation: number): string {
  const signing = keyring.subKeys("session").signing;
  if (signing === null) throw new Error("the test keyring has a key");
  const claims = {
    uid: "alice",
    sessionId: "s1",
    admin: false,
    expiresAtMs: NOW_MS + SESSION_TTL_MS,
    generation,
  };
  return issueToken(NODE_HASHES, signing, claims).token;
}

/** Just what the authenticator reads: one user (or none) and how far the log was applied. */
function viewOf(user: UserRecord | undefined, lastApplied: number): MetadataView {
  const view: Pick<MetadataView, "getUser" | "lastApplied"> = {
    getUser: (uid) => (uid === user?.uid ? user : undefined),
    lastApplied: () => lastApplied,
  };
  return view as MetadataView;
}

const alice: UserRecord = {
  uid: "alice",
  createdAtMs: NOW_MS,
  verifier: VERIFIER,
  generation: ALICE_GENERATION,
};

test("a node that has applied the user's userAdd accepts the session", () => {
  const check = directoryUserAuthenticator(
    keyring,
    viewOf(alice, ALICE_GENERATION + 5),
    () => NOW_MS,
  );
  const result = check(tokenFor(ALICE_GENERATION));
  expect(result.ok).toBe(true);
});

test("a node behind the user's userAdd answers a retryable UNAVAILABLE, not SESSION_EXPIRED", () => {
  const check = directoryUserAuthenticator(
    keyring,
    viewOf(undefined, ALICE_GENERATION - 1),
    () => NOW_MS,
  );
  const result = check(tokenFor(ALICE_GENERATION));
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.error.code).toBe("UNAVAILABLE");
});

test("a node past the userAdd that no longer has the user says the session expired (removed)", () => {
  const check = directoryUserAuthenticator(
    keyring,
    viewOf(undefined, ALICE_GENERATION + 3),
    () => NOW_MS,
  );
  const result = check(tokenFor(ALICE_GENERATION));
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.error.code).toBe("SESSION_EXPIRED");
});

test("a token of an older generation (user removed and added again) has expired", () => {
  const readded: UserRecord = { ...alice, generation: ALICE_GENERATION + 10 };
  const check = directoryUserAuthenticator(
    keyring,
    viewOf(readded, ALICE_GENERATION + 10),
    () => NOW_MS,
  );
  const result = check(tokenFor(ALICE_GENERATION));
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.error.code).toBe("SESSION_EXPIRED");
});
