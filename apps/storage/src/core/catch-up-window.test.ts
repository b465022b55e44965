/**
 * Properties of the catch-up's copy window (seeded, replayable with FTFS_SEED): under random
 * pages (chunks repeated within and across pages) and random completion orders, it never has
 * more than its chunks or bytes in flight (one oversized chunk alone aside), starts every chunk
 * the learner lacks exactly once and in listing order, only after its page came, asks for the
 * next page only while less than a window is queued, and ends complete. The next page's chunks
 * start while the page before still has chunks in flight: no barrier at page boundaries.
 */
import { expect, test } from "bun:test";
import { Prng } from "@ftfs/protocol/core";
import { forEachSeed, seedList } from "@ftfs/protocol/testing";
import { CopyWindow, type WindowChunk } from "./catch-up-window.ts";

const SEEDS = 200;
const LIMITS = { chunksMax: 4, bytesMax: 1_000 };

function randomPages(random: Prng): WindowChunk[][] {
  const pageCount = 1 + random.intBelow(6);
  const ids = 1 + random.intBelow(40);
  const sizeOf = (id: number) => 1 + ((id * 7919) % 600) + (id % 11 === 0 ? 1_500 : 0);
  return Array.from({ length: pageCount }, () =>
    Array.from({ length: random.intBelow(12) }, () => {
      const id = random.intBelow(ids);
      return { chunkId: `c${id}`, bytes: sizeOf(id) };
    }),
  );
}

interface Seen {
  crossPage: number;
}

/** Drive a window over random pages and completions; answers the broken properties. */
function run(seed: number, seen: Seen): string[] {
  const random = new Prng(seed);
  const pages = randomPages(random);
  const window = new CopyWindow(LIMITS);
  const problems: string[] = [];
  const held = new Set<string>();
  const listedOrder: string[] = [];
  const started: string[] = [];
  const pageOf = new Map<string, number>();
  const flying: string[] = [];
  let delivered = 0;
  let asked = false;
  for (let step = 0; step < 10_000 && !window.complete; step += 1) {
    if (window.wantsPage() && !asked) {
      if (window.queued >= LIMITS.chunksMax) problems.push("asked for a page with a window queued");
      window.pageRequested();
      asked = true;
    }
    const choice = random.intBelow(3);
    if (choice === 0 && asked) {
      const page = pages[delivered] ?? [];
      // The driver lists only the chunks it does not hold yet, as io/catch-up.ts does.
      const missing = page.filter((chunk) => !held.has(chunk.chunkId));
      for (const chunk of missing) {
        if (!window.isPending(chunk.chunkId) && !listedOrder.includes(chunk.chunkId)) {
          listedOrder.push(chunk.chunkId);
          pageOf.set(chunk.chunkId, delivered);
        }
      }
      delivered += 1;
      window.pageIn(missing, delivered === pages.length);
      asked = false;
    } else if (choice === 1) {
      for (let chunk = window.start(); chunk !== null; chunk = window.start()) {
        const page = pageOf.get(chunk.chunkId) ?? -1;
        if (page >= delivered) problems.push(`${chunk.chunkId} started before its page came`);
        if (flying.some((other) => (pageOf.get(other) ?? 0) < page)) seen.crossPage += 1;
        started.push(chunk.chunkId);
        flying.push(chunk.chunkId);
        if (window.inFlight > LIMITS.chunksMax) problems.push("more chunks in flight than allowed");
        if (window.bytesInFlight > LIMITS.bytesMax && window.inFlight > 1) {
          problems.push("more bytes in flight than allowed, beside another chunk");
        }
      }
    } else if (flying.length > 0) {
      const [done] = flying.splice(random.intBelow(flying.length), 1);
      if (done !== undefined) {
        window.finished(done);
        held.add(done);
      }
    }
  }
  if (!window.complete) problems.push("the window never completed");
  if (started.join() !== listedOrder.join()) {
    problems.push(`started ${started.join()} but listed ${listedOrder.join()}`);
  }
  return problems;
}

test("the window bounds what is in flight, starts each lacking chunk once, in order", () => {
  const seen: Seen = { crossPage: 0 };
  forEachSeed("catch-up copy window", seedList(SEEDS, 1), (seed) => run(seed, seen));
  if (seedList(SEEDS, 1).length === SEEDS) expect(seen.crossPage).toBeGreaterThan(0);
});

test("a page's chunks start while the page before is still in flight", () => {
  const window = new CopyWindow({ chunksMax: 2, bytesMax: 100 });
  window.pageRequested();
  window.pageIn([{ chunkId: "a", bytes: 10 }], false);
  expect(window.start()?.chunkId).toBe("a");
  expect(window.wantsPage()).toBe(true);
  window.pageRequested();
  expect(window.wantsPage()).toBe(false);
  window.pageIn([{ chunkId: "b", bytes: 10 }], true);
  expect(window.start()?.chunkId).toBe("b");
  expect(window.inFlight).toBe(2);
  expect(window.wantsPage()).toBe(false);
  window.finished("b");
  window.finished("a");
  expect(window.complete).toBe(true);
});

test("a chunk larger than the byte bound goes alone; the queue's bytes are counted", () => {
  const window = new CopyWindow({ chunksMax: 4, bytesMax: 100 });
  window.pageRequested();
  const chunks = [
    { chunkId: "small", bytes: 60 },
    { chunkId: "huge", bytes: 500 },
    { chunkId: "tail", bytes: 30 },
  ];
  window.pageIn(chunks, true);
  expect(window.queuedBytes).toBe(590);
  expect(window.start()?.chunkId).toBe("small");
  expect(window.start()).toBeNull();
  window.finished("small");
  expect(window.start()?.chunkId).toBe("huge");
  expect(window.start()).toBeNull();
  window.finished("huge");
  expect(window.start()?.chunkId).toBe("tail");
  expect(window.queuedBytes).toBe(0);
  expect(window.bytesInFlight).toBe(30);
});
