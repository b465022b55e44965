import { expect, test } from "bun:test";
import { httpDateMs, utcMs } from "./dates.ts";

const NOV_6_1994 = 784_111_777_000;

test("the three HTTP date forms RFC 9110 names, and ISO 8601 UTC", () => {
  expect(httpDateMs("Sun, 06 Nov 1994 08:49:37 GMT")).toBe(NOV_6_1994);
  expect(httpDateMs("Sunday, 06-Nov-94 08:49:37 GMT")).toBe(NOV_6_1994);
  expect(httpDateMs("Sun Nov  6 08:49:37 1994")).toBe(NOV_6_1994);
  expect(httpDateMs("1994-11-06T08:49:37Z")).toBe(NOV_6_1994);
  expect(httpDateMs("1994-11-06T08:49:37.250Z")).toBe(NOV_6_1994);
});

test("what is not a date is null", () => {
  for (const text of [
    "",
    "yesterday",
    "Sun, 31 Feb 2026 00:00:00 GMT",
    "Sun, 06 Foo 1994 08:49:37 GMT",
  ]) {
    expect(httpDateMs(text)).toBeNull();
  }
  expect(utcMs(2026, 13, 1, 0, 0, 0)).toBeNull();
  expect(utcMs(2000, 2, 29, 23, 59, 59)).toBe(951_868_799_000);
});
