/**
 * Property: tab offers the commands where a command begins, the seed's actions after a uid,
 * flags after a dash, and the user's remote names where a name goes (quoted when it must be).
 */
import { expect, test } from "bun:test";
import { completeLine } from "./completion.ts";

const NAMES = ["notes.txt", "photo.jpg", "my notes.txt"];

test("commands, actions and flags", () => {
  expect(completeLine("", NAMES)[0]).toContain("put");
  expect(completeLine("st", NAMES)).toEqual([["status "], "st"]);
  expect(completeLine("alice ", NAMES)).toEqual([["c", "a", "r", "d"], ""]);
  expect(completeLine("ls --st", NAMES)).toEqual([["--stale "], "--st"]);
});

test("a unique word completes with a space; several share only their common start", () => {
  expect(completeLine("ge", NAMES)).toEqual([["get "], "ge"]);
  expect(completeLine("get ", ["a.txt", "a.txt.bak"])).toEqual([["a.txt", "a.txt.bak"], ""]);
  expect(completeLine('get "my', NAMES)).toEqual([['"my notes.txt" '], '"my']);
});

test("remote names where a command takes one", () => {
  expect(completeLine("get no", NAMES)).toEqual([["notes.txt "], "no"]);
  expect(completeLine("alice r p", NAMES)).toEqual([["photo.jpg "], "p"]);
  expect(completeLine("rm ", NAMES)[0]).toEqual(["notes.txt", "photo.jpg", '"my notes.txt"']);
  expect(completeLine("get notes.txt ", NAMES)).toEqual([[], ""]);
  expect(completeLine("put no", NAMES)).toEqual([[], "no"]); // a local path: the terminal's job
});
