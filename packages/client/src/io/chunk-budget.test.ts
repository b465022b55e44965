import { expect, test } from "bun:test";
import { ChunkBudget } from "./chunk-budget.ts";

test("never more than its capacity held; waiters served in arrival order", async () => {
  const budget = new ChunkBudget(2);
  await budget.acquire();
  await budget.acquire();
  const order: number[] = [];
  const third = budget.acquire().then(() => order.push(3));
  const fourth = budget.acquire().then(() => order.push(4));
  await Bun.sleep(1);
  expect(order).toEqual([]);
  expect(budget.inUse).toBe(2);
  budget.release();
  await third;
  expect(order).toEqual([3]);
  expect(budget.inUse).toBe(2);
  budget.release();
  await fourth;
  expect(order).toEqual([3, 4]);
  budget.release();
  budget.release();
  expect(budget.inUse).toBe(0);
  expect(() => budget.release()).toThrow();
});

test("tryAcquire takes room only when there is some and nobody waits", async () => {
  const budget = new ChunkBudget(1);
  expect(budget.tryAcquire()).toBe(true);
  expect(budget.tryAcquire()).toBe(false);
  const waiter = budget.acquire();
  budget.release();
  await waiter;
  expect(budget.inUse).toBe(1);
  expect(budget.tryAcquire()).toBe(false);
});
