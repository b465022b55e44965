/** People-facing formatting: short hashes, aligned tables, safe text. */
import { describe, expect, test } from "bun:test";
import type { MemberView } from "@ftfs/protocol/core";
import {
  formatFileTable,
  formatTable,
  formatUnchanged,
  formatUploaded,
  shortHash,
} from "./format.ts";
import { formatStatus } from "./status-table.ts";

const SHA = "abcd1234".padEnd(64, "0");

test("an upload prints one line: name, version, size, short hash", () => {
  expect(shortHash(SHA)).toBe("sha256:abcd1234…");
  expect(formatUploaded({ name: "notes.txt", version: 2, bytes: 12_595, sha256: SHA })).toBe(
    "uploaded notes.txt  v2  12.3 KiB  sha256:abcd1234…",
  );
  expect(formatUnchanged({ name: "a/b.txt", version: 1, bytes: 3, sha256: SHA })).toBe(
    "unchanged a/b.txt  v1  3 B  sha256:abcd1234…  (already stored, not sent)",
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
    /^node\s+role\s+group\s+address\s+state\s+incarnation\s+primary\/backup\s+epoch\s+used\s+free$/,
  );
  expect(lines[3]).toMatch(
    /^d1\s+directory\s+-\s+127\.0\.0\.1:2\s+alive\s+\d+\s+primary\s+1\s+-\s+-$/,
  );
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

describe("an honest status", () => {
  const GIB = 1024 ** 3;
  const member = (
    node: string,
    fields: Partial<MemberView> & Pick<MemberView, "role">,
  ): MemberView => ({
    node,
    group: null,
    address: `127.0.0.1:${7100 + node.length}`,
    state: "alive",
    incarnation: 1,
    primary: false,
    epoch: 1,
    usedBytes: 0,
    capacityBytes: 0,
    ...fields,
  });
  const status = {
    node: "d1",
    members: [
      member("d1", { role: "directory", primary: true, epoch: 3 }),
      // Killed while primary at term 2: gossip still carries its last claim.
      member("d3", { role: "directory", primary: true, epoch: 2, state: "dead" }),
      member("d2", { role: "directory", primary: true, epoch: 2 }), // stale, alive
      member("s1a", {
        role: "storage",
        group: "s1",
        primary: true,
        usedBytes: 4 * GIB,
        capacityBytes: 10 * GIB,
      }),
      member("s1b", { role: "storage", group: "s1", usedBytes: 4 * GIB, capacityBytes: 8 * GIB }),
      member("s1c", { role: "storage", group: "s1", usedBytes: 1 * GIB, capacityBytes: 10 * GIB }),
    ],
    groups: [
      {
        group: "s1",
        epoch: 7,
        primary: "127.0.0.1:7103",
        primaryNode: "s1a",
        replicas: [
          { node: "s1a", address: "127.0.0.1:7103" },
          { node: "s1b", address: "127.0.0.1:7103" },
        ],
        learners: [{ node: "s1c", address: "127.0.0.1:7103" }],
        replicationFactor: 3,
      },
    ],
    unreachable: [],
  };

  test("a dead node is never primary; the highest live term leads; storage roles by group", () => {
    const row = (node: string) =>
      formatStatus(status)
        .split("\n")
        .find((line) => line.startsWith(`${node} `));
    expect(row("d1")).toMatch(/\sprimary\s/);
    expect(row("d3")).toMatch(/\sdead\s+\d+\s+-\s/);
    expect(row("d2")).toMatch(/\sbackup\s/);
    expect(row("s1a")).toMatch(/\sprimary\s+1\s+4\.0 GiB\s+6\.0 GiB$/);
    expect(row("s1b")).toMatch(/\sbackup\s+1\s+4\.0 GiB\s+4\.0 GiB$/);
    expect(row("s1c")).toMatch(/\slearner\s/);
  });

  test("the verdict and group say how far a catch-up is, and with a rate its time left", () => {
    const catchUps = [
      {
        group: "s1",
        node: "s1c",
        heldBytes: GIB,
        targetBytes: 4 * GIB,
        bytesPerS: GIB / 4,
        etaS: 12,
      },
    ];
    const text = formatStatus(status, catchUps);
    expect(text.split("\n")[0]).toBe(
      "degraded: s1 has 2 of 3 in-sync replicas; s1 is catching up s1c (25%, about 12 s left); " +
        "d3 is dead (answered by d1)",
    );
    // The group can take what its fullest in-sync replica has free.
    expect(text).toMatch(
      /^s1\s+7\s+s1a 127\.0\.0\.1:7103\s+s1a,s1b\s+s1c 25% ETA 12 s\s+4\.0 GiB\s+4\.0 GiB$/m,
    );
  });
});
