/** A full directory disk's answers: to a fresh leader, retry while one may be elected, then DISK_FULL. */
import { expect, test } from "bun:test";
import {
  DISK_FULL_TAKEOVER_GRACE_MS,
  diskFullRefusal,
  HEARD_LEADER_FRESH_MS,
  hearWhileFull,
  type DiskFullState,
} from "./disk-full-rules.ts";

const FULL: DiskFullState = { sinceMs: 1_000, term: 4, heard: null };
const CONTEXT = {
  node: "d2",
  dataFolder: "/data/d2",
  alone: false,
  nowMs: 1_500,
  addressOf: (node: string) => (node === "d1" ? "127.0.0.1:7101" : undefined),
};

test("only a leader's messages of this term or later are heard; older leaders are not", () => {
  expect(hearWhileFull(FULL, { type: "vote", from: "d1", term: 5 }, 1_100)).toBe(FULL);
  expect(hearWhileFull(FULL, { type: "append", from: "d1", term: 3 }, 1_100)).toBe(FULL);
  const heard = hearWhileFull(FULL, { type: "heartbeat", from: "d1", term: 5 }, 1_100);
  expect(heard.heard).toEqual({ id: "d1", term: 5, atMs: 1_100 });
  expect(hearWhileFull(heard, { type: "append", from: "d3", term: 4 }, 1_200)).toBe(heard);
});

test("a leader heard lately gets the callers; then retry, then DISK_FULL after the grace", () => {
  const heard = hearWhileFull(FULL, { type: "append", from: "d1", term: 5 }, 1_400);
  const sent = diskFullRefusal(heard, CONTEXT);
  expect([sent.error.code, sent.error.hint?.primary]).toEqual(["NOT_PRIMARY", "127.0.0.1:7101"]);
  const stale = { ...CONTEXT, nowMs: 1_400 + HEARD_LEADER_FRESH_MS + 1 };
  expect(diskFullRefusal(heard, stale).error.code).toBe("UNAVAILABLE");
  const late = { ...CONTEXT, nowMs: FULL.sinceMs + DISK_FULL_TAKEOVER_GRACE_MS };
  expect(diskFullRefusal(FULL, late).error.code).toBe("DISK_FULL");
  expect(diskFullRefusal(FULL, { ...CONTEXT, alone: true }).error.code).toBe("DISK_FULL");
});
