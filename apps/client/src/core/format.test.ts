/** People-facing formatting: short hashes, aligned tables, safe text. */
import { expect, test } from "bun:test";
import { formatFileTable, formatStatus, formatTable, formatUploaded, shortHash } from "./format.ts";

const SHA = "abcd1234".padEnd(64, "0");

test("an upload prints one line: name, version, size, short hash", () => {
  expect(shortHash(SHA)).toBe("sha256:abcd1234…");
  expect(formatUploaded({ name: "notes.txt", version: 2, bytes: 12_595, sha256: SHA })).toBe(
    "uploaded notes.txt  v2  12.3 KiB  sha256:abcd1234…",
  );
});

test("tables align columns, right-align numbers, and neutralise control characters", () => {
  const table = formatTable(
    [
      { title: "name", align: "left" },
      { title: "size", align: "right" },
    ],
    [
      ["a", "1 B"],
      ["long\u001bname", "10.0 KiB"],
    ],
  );
  expect(table.split("\n")).toEqual([
    "name           size",
    "a               1 B",
    "long?name  10.0 KiB",
  ]);
});

test("a file listing is sorted by name and shows the injected time", () => {
  const files = [
    { name: "b", version: 1, bytes: 1, sha256: SHA, createdAtMs: 2 },
    { name: "a", version: 3, bytes: 2048, sha256: SHA, createdAtMs: 1 },
  ];
  const lines = formatFileTable(files, (ms) => `t${ms}`).split("\n");
  expect(lines[1]).toBe("a     2.0 KiB       v3  t1");
  expect(lines[2]).toBe("b         1 B       v1  t2");
  expect(formatFileTable([], String)).toBe("no files");
});

test("status lists every member, directories first, and names directories that did not answer", () => {
  const member = (node: string, role: "directory" | "storage", group: string | null) => ({
    node,
    role,
    group,
    address: `127.0.0.1:${node.length}`,
    state: "alive" as const,
    incarnation: 0,
    primary: node === "d1" || node === "s1a",
    epoch: 1,
    usedBytes: 0,
    capacityBytes: 0,
  });
  const text = formatStatus({
    node: "d1",
    members: [
      member("s1a", "storage", "s1"),
      member("d1", "directory", null),
      member("x1", "storage", null),
    ],
    groups: [],
    unreachable: ["127.0.0.1:7103"],
  });
  const lines = text.split("\n");
  expect(lines[2]).toMatch(
    /^node\s+role\s+group\s+address\s+state\s+incarnation\s+primary\/backup\s+epoch$/,
  );
  expect(lines[3]).toMatch(/^d1\s+directory\s+-\s+127\.0\.0\.1:2\s+alive\s+\d+\s+primary\s+1$/);
  expect(lines[4]).toMatch(/^s1a\s+storage\s+s1\s/);
  // A storage node with no group is a spare waiting for an assignment.
  expect(lines[5]).toMatch(/^x1\s+storage\s+spare\s/);
  expect(text).toContain("no answer from 127.0.0.1:7103");
});

test("status names a group whose every in-sync disk was replaced as data lost, not just idle", () => {
  const group = (name: string, dataLost: boolean) => ({
    group: name,
    epoch: 4,
    primary: null,
    primaryNode: null,
    replicas: [{ node: `${name}a`, address: "127.0.0.1:1" }],
    ...(dataLost ? { dataLost: true } : {}),
  });
  const text = formatStatus({
    node: "d1",
    members: [],
    groups: [group("s1", true), group("s2", false)],
    unreachable: [],
  });
  expect(text).toMatch(/^s1\s+4\s+\(none: data lost, every in-sync disk was replaced\)\s+s1a/m);
  expect(text).toMatch(/^s2\s+4\s+\(none\)\s+s2a/m);
});
