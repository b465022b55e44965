/**
 * Property: every file under a folder gets the name folder/sub/file (or --as/sub/file), in
 * name order; anything that cannot be stored is named with why: a link to a folder or to
 * nothing, a socket, a part that is no file name, a key past its length.
 */
import { expect, test } from "bun:test";
import { describeProblems, planTree, type TreeEntry } from "./tree-plan.ts";

const file = (parts: string[], bytes = 1): TreeEntry => ({ parts, kind: "file", bytes });

test("files become folder/sub/file, sorted, with their total", () => {
  const plan = planTree("photos", [file(["b.jpg"], 5), file(["2024", "a.jpg"], 7)]);
  expect(plan).toEqual({
    files: [
      { parts: ["2024", "a.jpg"], name: "photos/2024/a.jpg", bytes: 7 },
      { parts: ["b.jpg"], name: "photos/b.jpg", bytes: 5 },
    ],
    problems: [],
    bytes: 12,
  });
});

test("what cannot be stored is named, with why", () => {
  const plan = planTree("p", [
    file(["ok.txt"]),
    { parts: ["loop"], kind: "folder-link", bytes: 0 },
    { parts: ["gone"], kind: "broken-link", bytes: 0 },
    { parts: ["sock"], kind: "other", bytes: 0 },
    file(["a\\b"]),
    file([" lead"]),
    file(["deep", ...[..."xyzwv"].map((char) => char.repeat(250))]),
  ]);
  expect(plan.files.map((planned) => planned.name)).toEqual(["p/ok.txt"]);
  expect(plan.problems.map((problem) => [problem.name.slice(0, 12), problem.why])).toEqual([
    ["p/ lead", "file name starts or ends with white space"],
    ["p/a\\b", "file name 'a\\b' contains a path separator; names are one component"],
    ["p/deep/xxxxx", "object key is longer than 1024 bytes"],
    ["p/gone", "a symbolic link to nothing"],
    ["p/loop", "a symbolic link to a folder (links to folders are not followed)"],
    ["p/sock", "not a regular file (a socket, device or pipe)"],
  ]);
  expect(describeProblems("p", plan.problems.slice(3), 2)).toBe(
    "cannot store 3 entries under p: p/gone: a symbolic link to nothing; p/loop: a symbolic " +
      "link to a folder (links to folders are not followed); and 1 more; nothing was uploaded " +
      "(move or rename them, then run again)",
  );
});
