/**
 * The autopilot removes the longest-silent voter past the threshold, never itself, never a
 * learner, never below the minimum number of voters.
 */
import { expect, test } from "bun:test";
import { raft } from "@ftfs/protocol/core";
import { deadVoterToRemove } from "./autopilot-rules.ts";

const DEAD_AFTER_MS = 10_000;
const SETTINGS = { deadAfterMs: DEAD_AFTER_MS, minVoters: 3 };

function group(voters: readonly string[], learners: readonly string[] = []): raft.Membership {
  const member = (id: string, voter: boolean) => ({
    id: raft.raftId(id),
    address: `h:${id}`,
    voter,
  });
  return {
    members: [...voters.map((id) => member(id, true)), ...learners.map((id) => member(id, false))],
  };
}

test("the longest-silent voter past the threshold goes; one silent a moment less stays", () => {
  const five = group(["d1", "d2", "d3", "d4", "d5"]);
  const silent = new Map([
    ["d2", 0],
    ["d3", DEAD_AFTER_MS - 1],
    ["d4", DEAD_AFTER_MS + 5_000],
    ["d5", DEAD_AFTER_MS],
  ]);
  expect(deadVoterToRemove(five, "d1", silent, SETTINGS)).toBe("d4");
  silent.set("d4", 0);
  expect(deadVoterToRemove(five, "d1", silent, SETTINGS)).toBe("d5");
  silent.set("d5", 0);
  expect(deadVoterToRemove(five, "d1", silent, SETTINGS)).toBeNull();
});

test("never below the minimum of voters; learners are not its business; never itself", () => {
  const silent = new Map([
    ["d1", DEAD_AFTER_MS * 2],
    ["d3", DEAD_AFTER_MS * 2],
    ["d9", DEAD_AFTER_MS * 2],
  ]);
  expect(deadVoterToRemove(group(["d1", "d2", "d3"]), "d1", silent, SETTINGS)).toBeNull();
  expect(deadVoterToRemove(group(["d1", "d2", "d3", "d4"], ["d9"]), "d1", silent, SETTINGS)).toBe(
    "d3",
  );
  expect(
    deadVoterToRemove(group(["d1", "d2", "d3", "d4"]), "d1", silent, { ...SETTINGS, minVoters: 4 }),
  ).toBeNull();
});
