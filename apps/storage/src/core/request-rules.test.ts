/**
 * Property: a write is accepted only by the group's primary (with a live lease and a current
 * view) or, when forwarded by a primary, by any replica; a stamp older than our epoch is
 * refused STALE_EPOCH, and refusals carry a hint naming where to go.
 */
import { describe, expect, test } from "bun:test";
import type { GroupView } from "@ftfs/protocol/core";
import { admitWrite, viewIsBehind, type NodeState, type WriteRequest } from "./request-rules.ts";

const VIEW: GroupView = {
  group: "s1",
  epoch: 5,
  primary: "127.0.0.1:7111",
  primaryNode: "s1a",
  replicas: [
    { node: "s1a", address: "127.0.0.1:7111" },
    { node: "s1b", address: "127.0.0.1:7112" },
    { node: "s1c", address: "127.0.0.1:7113" },
  ],
};
const NOW_MS = 1_000;
const LEASED = NOW_MS + 1;

interface Row {
  readonly name: string;
  readonly state: NodeState;
  readonly request: WriteRequest;
  readonly expect: { code: string; hint?: object } | { forwardTo: string[] };
}

const state = (
  node: string,
  view: GroupView | null = VIEW,
  leaseExpiresAtMs = LEASED,
): NodeState => ({
  node,
  view,
  leaseExpiresAtMs,
});

const TABLE: readonly Row[] = [
  {
    name: "primary accepts, forwards to the others",
    state: state("s1a"),
    request: { forwarded: false, epoch: 5 },
    expect: { forwardTo: ["s1b", "s1c"] },
  },
  {
    name: "primary accepts an unstamped write",
    state: state("s1a"),
    request: { forwarded: false, epoch: 0 },
    expect: { forwardTo: ["s1b", "s1c"] },
  },
  {
    name: "backup refuses a client write with a hint",
    state: state("s1b"),
    request: { forwarded: false, epoch: 5 },
    expect: { code: "NOT_PRIMARY", hint: { primary: "127.0.0.1:7111", epoch: 5 } },
  },
  {
    name: "backup accepts a forwarded write",
    state: state("s1b"),
    request: { forwarded: true, epoch: 5 },
    expect: { forwardTo: [] },
  },
  {
    name: "backup accepts a forward from a newer epoch",
    state: state("s1c"),
    request: { forwarded: true, epoch: 7 },
    expect: { forwardTo: [] },
  },
  {
    name: "stale client stamp refused",
    state: state("s1a"),
    request: { forwarded: false, epoch: 4 },
    expect: { code: "STALE_EPOCH", hint: { primary: "127.0.0.1:7111", epoch: 5 } },
  },
  {
    name: "stale forward refused (an old primary)",
    state: state("s1b"),
    request: { forwarded: true, epoch: 4 },
    expect: { code: "STALE_EPOCH", hint: { primary: "127.0.0.1:7111", epoch: 5 } },
  },
  {
    name: "no view yet",
    state: state("s1a", null),
    request: { forwarded: false, epoch: 0 },
    expect: { code: "UNAVAILABLE" },
  },
  {
    name: "no view yet, even forwarded",
    state: state("s1b", null),
    request: { forwarded: true, epoch: 5 },
    expect: { code: "UNAVAILABLE" },
  },
  {
    name: "our view is behind the client's",
    state: state("s1a"),
    request: { forwarded: false, epoch: 6 },
    expect: { code: "UNAVAILABLE" },
  },
  {
    name: "primary with an expired lease",
    state: state("s1a", VIEW, NOW_MS),
    request: { forwarded: false, epoch: 5 },
    expect: { code: "UNAVAILABLE" },
  },
  {
    name: "group without a primary",
    state: state("s1b", { ...VIEW, primary: null, primaryNode: null }),
    request: { forwarded: false, epoch: 5 },
    expect: { code: "NOT_PRIMARY", hint: { epoch: 5 } },
  },
];

describe("admitWrite", () => {
  for (const row of TABLE) {
    test(row.name, () => {
      const result = admitWrite(row.state, row.request, NOW_MS);
      if ("forwardTo" in row.expect) {
        if (!result.ok) throw result.error;
        expect(result.value.epoch).toBe(VIEW.epoch);
        expect(result.value.forwardTo.map((replica) => replica.node)).toEqual(row.expect.forwardTo);
        return;
      }
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error.code).toBe(row.expect.code as typeof result.error.code);
      if (row.expect.hint !== undefined) expect(result.error.hint).toEqual(row.expect.hint);
    });
  }
});

test("viewIsBehind: no view, or a stamp newer than ours", () => {
  expect(viewIsBehind(null, 0)).toBe(true);
  expect(viewIsBehind(VIEW, 6)).toBe(true);
  expect(viewIsBehind(VIEW, 5)).toBe(false);
  expect(viewIsBehind(VIEW, 0)).toBe(false);
});
