/** Single-server changes as values: what each makes of a configuration, and what it refuses. */
import { expect, test } from "bun:test";
import { bootstrapMembership, changedMembership, isVoter, voterIds } from "./membership.ts";
import { RAFT_MEMBERS_MAX, RAFT_VOTERS_MAX, raftId } from "./types.ts";

const [A, B, C] = [raftId("a"), raftId("b"), raftId("c")];

test("add a learner, promote it, remove a voter", () => {
  const start = bootstrapMembership([A, B]);
  const added = changedMembership(start, { kind: "addLearner", id: C, address: "h:1" });
  if (!added.ok) throw new Error(added.reason);
  expect(isVoter(added.membership, C)).toBe(false);
  const promoted = changedMembership(added.membership, { kind: "promote", id: C });
  if (!promoted.ok) throw new Error(promoted.reason);
  expect(voterIds(promoted.membership).map(String)).toEqual(["a", "b", "c"]);
  const removed = changedMembership(promoted.membership, { kind: "remove", id: A });
  if (!removed.ok) throw new Error(removed.reason);
  expect(voterIds(removed.membership).map(String)).toEqual(["b", "c"]);
});

test("refused: the last voter, an unknown id, a voter promoted, past the bounds", () => {
  const one = bootstrapMembership([A]);
  expect(changedMembership(one, { kind: "remove", id: A })).toEqual({
    ok: false,
    reason: "a is the last voter",
  });
  expect(changedMembership(one, { kind: "promote", id: B })).toEqual({
    ok: false,
    reason: "b is not a member",
  });
  expect(changedMembership(one, { kind: "promote", id: A })).toEqual({
    ok: false,
    reason: "a already votes",
  });
  const full = bootstrapMembership(
    Array.from({ length: RAFT_MEMBERS_MAX }, (_, at) => raftId(`n${at}`)),
  );
  const past = changedMembership(full, { kind: "addLearner", id: A, address: "h:1" });
  expect(past).toEqual({ ok: false, reason: `the group already has ${RAFT_MEMBERS_MAX} members` });
  const voters = bootstrapMembership(
    Array.from({ length: RAFT_VOTERS_MAX }, (_, at) => raftId(`v${at}`)),
  );
  const withLearner = changedMembership(voters, { kind: "addLearner", id: A, address: "h:1" });
  if (!withLearner.ok) throw new Error(withLearner.reason);
  expect(changedMembership(withLearner.membership, { kind: "promote", id: A })).toEqual({
    ok: false,
    reason: `the group already has ${RAFT_VOTERS_MAX} voters`,
  });
});
