/**
 * Property: widths are terminal columns: a letter with accents one, an emoji (with modifiers
 * and joiners) or an East Asian wide character two; cutting never splits a character and ends
 * in an ellipsis; tables align rows whatever their names hold.
 */
import { expect, test } from "bun:test";
import { formatFileTable, NAME_COLUMNS_MAX } from "./format.ts";
import { displayWidth, fitWidth, padWidth } from "./text-width.ts";

test("widths in terminal columns", () => {
  expect(displayWidth("notes.txt")).toBe(9);
  expect(displayWidth("e\u0301te\u0301")).toBe(3); // combining accents take no column
  expect(displayWidth("📷")).toBe(2);
  expect(displayWidth("👨‍👩‍👧")).toBe(2); // one family, joined
  expect(displayWidth("写真.jpg")).toBe(8);
  expect(displayWidth("ｆｕｌｌ")).toBe(8);
});

test("cutting keeps whole characters and says it cut", () => {
  expect(fitWidth("short", 10)).toBe("short");
  expect(fitWidth("a".repeat(20), 10)).toBe(`${"a".repeat(9)}…`);
  expect(fitWidth("写真写真写真", 6)).toBe("写真…"); // a wide character does not fit half
  expect(displayWidth(fitWidth("📷".repeat(30), 11))).toBeLessThanOrEqual(11);
  expect(padWidth("📷", 4, "left")).toBe("📷  ");
  expect(padWidth("7", 3, "right")).toBe("  7");
});

test("a listing stays aligned with emoji and 250-character names; --json keeps them whole", () => {
  const file = (name: string) => ({
    name,
    version: 1,
    bytes: 1024,
    sha256: "0".repeat(64),
    createdAtMs: 0,
  });
  const table = formatFileTable(
    [file("plain.txt"), file("📷 holiday.jpg"), file("x".repeat(250))],
    () => "2026-01-01 00:00:00",
  );
  const lines = table.split("\n");
  const sizeEnds = lines.map((line) => displayWidth(line.slice(0, line.indexOf("1.0 KiB") + 7)));
  expect(new Set(sizeEnds.slice(1)).size).toBe(1); // every row's size ends in the same column
  for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(80);
  expect(table).toContain(`${"x".repeat(NAME_COLUMNS_MAX - 1)}…`);
});
