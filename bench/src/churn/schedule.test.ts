/** The churn bench's fault schedules: lines with comments or JSON, sorted by time, bad actions refused. */
import { expect, test } from "bun:test";
import { parseSchedule } from "./schedule.ts";

test("schedules parse from lines with comments and from JSON, sorted by time", () => {
  const lines = parseSchedule(
    "# fault\n12 restart storage-primary:s1\n5 kill storage-primary:s1\n",
  );
  expect(lines.map((event) => event.atS)).toEqual([5, 12]);
  const json = parseSchedule('[{"atS": 3, "action": "pause", "target": "s1b"}]');
  expect(json).toEqual([{ atS: 3, action: "pause", target: "s1b" }]);
  expect(() => parseSchedule("1 explode d1")).toThrow();
});
