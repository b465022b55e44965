/**
 * The churn bench's fault schedules: lines with comments or JSON, sorted by time, bad actions
 * refused; the progress line names the next event to be played and how far off it is.
 */
import { expect, test } from "bun:test";
import { QUICK_SCHEDULE, describeNextEvent, parseSchedule } from "./schedule.ts";

test("schedules parse from lines with comments and from JSON, sorted by time", () => {
  const lines = parseSchedule(
    "# fault\n12 restart storage-primary:s1\n5 kill storage-primary:s1\n",
  );
  expect(lines.map((event) => event.atS)).toEqual([5, 12]);
  const json = parseSchedule('[{"atS": 3, "action": "pause", "target": "s1b"}]');
  expect(json).toEqual([{ atS: 3, action: "pause", target: "s1b" }]);
  expect(() => parseSchedule("1 explode d1")).toThrow();
});

test("the next event is the first not yet due within the run, rounded up to whole seconds", () => {
  const endMs = 20_000;
  expect(describeNextEvent(QUICK_SCHEDULE, 0, endMs)).toBe("next: kill storage-primary:s1 in 3 s");
  expect(describeNextEvent(QUICK_SCHEDULE, 3_500, endMs)).toBe(
    "next: restart storage-primary:s1 in 4 s",
  );
  expect(describeNextEvent(QUICK_SCHEDULE, 14_500, endMs)).toBe("churn: done");
  // An event past the run's end is never played, so it is never announced.
  expect(describeNextEvent(QUICK_SCHEDULE, 10_500, 12_000)).toBe("churn: done");
  expect(describeNextEvent([], 0, endMs)).toBe("churn: none");
});
