/**
 * Where a chunk is read from: every in-sync replica (never a learner), each chunk starting at
 * the replica its id picks, so reads of many chunks spread evenly over the group.
 */
import { expect, test } from "bun:test";
import { chunkReadAddresses, readAddresses, type GroupView } from "./messages.ts";
import { Prng } from "./prng.ts";

const VIEW: GroupView = {
  group: "g1",
  epoch: 3,
  primary: "127.0.0.1:1001",
  primaryNode: "a",
  replicas: [
    { node: "a", address: "127.0.0.1:1001" },
    { node: "b", address: "127.0.0.1:1002" },
    { node: "c", address: "127.0.0.1:1003" },
  ],
  learners: [{ node: "d", address: "127.0.0.1:1004" }],
};
const CHUNKS = 3_000;
const SEED = 17;

function chunkId(random: Prng): string {
  let hex = "";
  for (let word = 0; word < 8; word += 1) hex += random.nextUint32().toString(16).padStart(8, "0");
  return hex;
}

test("each chunk is read from every in-sync replica in some order, never from a learner", () => {
  const random = new Prng(SEED);
  for (let index = 0; index < 100; index += 1) {
    const order = chunkReadAddresses(VIEW, chunkId(random));
    expect([...order].sort()).toEqual(readAddresses(VIEW).sort());
  }
});

test("the same chunk starts at the same replica; many chunks spread evenly", () => {
  const random = new Prng(SEED);
  const firsts = new Map<string, number>();
  for (let index = 0; index < CHUNKS; index += 1) {
    const id = chunkId(random);
    const order = chunkReadAddresses(VIEW, id);
    expect(chunkReadAddresses(VIEW, id)).toEqual(order);
    const first = order[0] ?? "";
    firsts.set(first, (firsts.get(first) ?? 0) + 1);
  }
  expect(firsts.size).toBe(3);
  for (const count of firsts.values()) {
    expect(count).toBeGreaterThan(CHUNKS / 3 - CHUNKS / 10);
    expect(count).toBeLessThan(CHUNKS / 3 + CHUNKS / 10);
  }
});

test("a group of one, or a view without a primary, reads what it has", () => {
  const alone: GroupView = { ...VIEW, replicas: [{ node: "a", address: "127.0.0.1:1001" }] };
  expect(chunkReadAddresses(alone, "ff".repeat(32))).toEqual(["127.0.0.1:1001"]);
  const headless: GroupView = { ...VIEW, primary: null, primaryNode: null };
  expect([...chunkReadAddresses(headless, "00".repeat(32))].sort()).toEqual(
    readAddresses(VIEW).sort(),
  );
});
