/** A learner is promoted only after keeping close to the commit index for a while. */
import { expect, test } from "bun:test";
import { raft } from "@ftfs/protocol/core";
import { DIRECTORY_PROMOTE_LAG_ENTRIES_MAX, DIRECTORY_PROMOTE_STABLE_MS } from "./limits.ts";
import { PromotionWatch } from "./promotion-rules.ts";

const membership: raft.Membership = {
  members: [
    { id: raft.raftId("d1"), address: "h:1", voter: true },
    { id: raft.raftId("d4"), address: "h:4", voter: false },
  ],
};

test("close enough for long enough: promoted; a lapse starts the wait again", () => {
  const watch = new PromotionWatch();
  const far = new Map([["d4", 10]]);
  const close = new Map([["d4", 1_000 - DIRECTORY_PROMOTE_LAG_ENTRIES_MAX]]);
  expect(watch.observe(membership, far, 1_000, 0)).toBeNull();
  expect(watch.observe(membership, close, 1_000, 100)).toBeNull();
  expect(watch.observe(membership, close, 1_000, 100 + DIRECTORY_PROMOTE_STABLE_MS - 1)).toBeNull();
  expect(watch.observe(membership, far, 1_000, 100 + DIRECTORY_PROMOTE_STABLE_MS)).toBeNull();
  const restartMs = 200 + DIRECTORY_PROMOTE_STABLE_MS;
  expect(watch.observe(membership, close, 1_000, restartMs)).toBeNull();
  expect(watch.observe(membership, close, 1_000, restartMs + DIRECTORY_PROMOTE_STABLE_MS)).toBe(
    "d4",
  );
});

test("a learner the primary has not heard from (match 0) is never promoted", () => {
  const watch = new PromotionWatch();
  const none = new Map<string, number>();
  expect(watch.observe(membership, none, 0, 0)).toBeNull();
  expect(watch.observe(membership, none, 0, 10 * DIRECTORY_PROMOTE_STABLE_MS)).toBeNull();
});
