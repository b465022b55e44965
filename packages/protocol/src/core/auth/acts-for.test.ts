/** A user acts only for itself, a node for anyone, an anonymous caller for nobody; insecure mode believes the uid. */
import { describe, expect, test } from "bun:test";
import { checkActsFor } from "./acts-for.ts";

const alice = { kind: "user", uid: "alice", admin: false, sessionId: "s" } as const;

describe("checkActsFor", () => {
  test("a user for itself yes, for another no, with a message naming both", () => {
    expect(checkActsFor(alice, true, "alice").ok).toBe(true);
    const refused = checkActsFor(alice, true, "bob");
    expect(!refused.ok && refused.error.code).toBe("FORBIDDEN");
    expect(!refused.ok && refused.error.message).toBe("user alice may not act for bob");
  });

  test("an admin user is still only itself for file ops", () => {
    expect(checkActsFor({ ...alice, admin: true }, true, "bob").ok).toBe(false);
  });

  test("a node acts for anyone; an anonymous caller for nobody", () => {
    expect(checkActsFor({ kind: "node", node: "d1" }, true, "bob").ok).toBe(true);
    expect(checkActsFor({ kind: "anonymous" }, true, "bob").ok).toBe(false);
  });

  test("insecure mode: the uid named is believed", () => {
    expect(checkActsFor({ kind: "anonymous" }, false, "bob").ok).toBe(true);
  });
});
