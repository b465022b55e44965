/**
 * Property: a node never adopts an older epoch or another group's view; a spare with no group
 * takes the first view that lists it as its assignment, and no other; the lease runs from the
 * heartbeat's send time.
 */
import { expect, test } from "bun:test";
import type { GroupView } from "@ftfs/protocol/core";
import { PRIMARY_LEASE_MS } from "./limits.ts";
import { decideView, leaseExpiry } from "./view-rules.ts";

const VIEW: GroupView = {
  group: "s1",
  epoch: 3,
  primary: "h:1",
  primaryNode: "s1a",
  replicas: [{ node: "s1a", address: "h:1" }],
};

test("first view is adopted; the same view again is adopted unchanged", () => {
  expect(decideView(null, "s1", VIEW, "s1a")).toEqual({ kind: "adopt", view: VIEW, changed: true });
  expect(decideView(VIEW, "s1", { ...VIEW }, "s1a")).toEqual({
    kind: "adopt",
    view: VIEW,
    changed: false,
  });
});

test("a newer epoch is adopted, an older one is not", () => {
  const newer = { ...VIEW, epoch: 4, primary: null, primaryNode: null };
  expect(decideView(VIEW, "s1", newer, "s1a")).toEqual({
    kind: "adopt",
    view: newer,
    changed: true,
  });
  expect(decideView(newer, "s1", VIEW, "s1a")).toEqual({ kind: "older", view: newer });
});

test("another group's view is refused", () => {
  expect(decideView(null, "s2", VIEW, "s1a")).toEqual({ kind: "wrongGroup", view: null });
});

test("a spare takes the first view that lists it, as a learner or in sync", () => {
  const learning = { ...VIEW, learners: [{ node: "x1", address: "h:9" }] };
  expect(decideView(null, null, learning, "x1")).toEqual({ kind: "assign", view: learning });
  expect(decideView(null, null, VIEW, "s1a")).toEqual({ kind: "assign", view: VIEW });
});

test("a spare is not assigned by a view that does not list it", () => {
  expect(decideView(null, null, VIEW, "x1")).toEqual({ kind: "notListed", view: null });
});

test("an assigned spare its group released, and that the view no longer lists, goes back", () => {
  expect(decideView(VIEW, "s1", VIEW, "x1", true, true)).toEqual({ kind: "release", group: "s1" });
});

test("a release is not heeded by a listed node, a node started for its group, or unsaid", () => {
  const listing = { ...VIEW, epoch: VIEW.epoch + 1, learners: [{ node: "x1", address: "h:9" }] };
  expect(decideView(VIEW, "s1", listing, "x1", true, true).kind).toBe("adopt");
  expect(decideView(VIEW, "s1", VIEW, "x1", false, true).kind).toBe("adopt");
  expect(decideView(VIEW, "s1", VIEW, "x1", true, false).kind).toBe("adopt");
  expect(decideView(VIEW, "s2", VIEW, "x1", true, true).kind).toBe("wrongGroup");
});

test("the lease runs from the heartbeat's send time", () => {
  expect(leaseExpiry(10_000)).toBe(10_000 + PRIMARY_LEASE_MS);
});
