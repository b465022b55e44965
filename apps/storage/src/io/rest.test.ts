/** Property: a rest ends after its delay, or at once when stopped, and none starts after. */
import { expect, test } from "bun:test";
import { Rest } from "./rest.ts";

test("a stop cuts a long sleep short, and later sleeps return at once", async () => {
  const rest = new Rest();
  const startedMs = performance.now();
  const sleeping = rest.sleep(60_000);
  rest.stop();
  await sleeping;
  await rest.sleep(60_000);
  expect(performance.now() - startedMs).toBeLessThan(1_000);
  expect(rest.stopped).toBe(true);
});

test("a short sleep ends by itself", async () => {
  const rest = new Rest();
  const startedMs = performance.now();
  await rest.sleep(20);
  expect(performance.now() - startedMs).toBeGreaterThanOrEqual(15);
});
