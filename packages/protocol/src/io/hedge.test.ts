/** Hedged attempts: the order they start in, what wins, and what a total failure says. */
import { expect, test } from "bun:test";
import { AllAttemptsFailed, hedgedFirst } from "./hedge.ts";

const HEDGE_MS = 30;

function after<T>(delayMs: number, value: T, fail = false): () => Promise<T> {
  return () =>
    new Promise<T>((resolve, reject) =>
      setTimeout(() => (fail ? reject(new Error(String(value))) : resolve(value)), delayMs),
    );
}

test("a quick first attempt wins and the second never starts", async () => {
  let secondStarted = false;
  const value = await hedgedFirst(
    [
      after(1, "first"),
      () => {
        secondStarted = true;
        return Promise.resolve("second");
      },
    ],
    HEDGE_MS,
  );
  expect([value, secondStarted]).toEqual(["first", false]);
});

test("a quiet first attempt is hedged: the second starts after hedgeMs and wins", async () => {
  const startedAt = Date.now();
  const value = await hedgedFirst([after(10_000, "stuck"), after(1, "hedge")], HEDGE_MS);
  expect(value).toBe("hedge");
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(HEDGE_MS - 5);
  expect(Date.now() - startedAt).toBeLessThan(1_000);
});

test("a failed attempt starts the next at once, without waiting for the hedge", async () => {
  const startedAt = Date.now();
  const value = await hedgedFirst([after(1, "down", true), after(1, "up")], 5_000);
  expect(value).toBe("up");
  expect(Date.now() - startedAt).toBeLessThan(1_000);
});

test("when every attempt fails, the error carries every failure in order of failing", async () => {
  const outcome = await hedgedFirst([after(5, "a", true), after(1, "b", true)], 1).catch(
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(AllAttemptsFailed);
  const failures = (outcome as AllAttemptsFailed).failures.map((error) => String(error));
  expect(failures.sort()).toEqual(["Error: a", "Error: b"]);
});

test("with an infinite hedge delay the attempts run one at a time", async () => {
  let running = 0;
  let most = 0;
  const attempt = (fails: boolean) => async () => {
    running += 1;
    most = Math.max(most, running);
    await Bun.sleep(5);
    running -= 1;
    if (fails) throw new Error("no");
    return "ok";
  };
  const value = await hedgedFirst([attempt(true), attempt(true), attempt(false)], Infinity);
  expect([value, most]).toEqual(["ok", 1]);
});

test("an attempt whose peer keeps talking is not hedged until the peer falls silent", async () => {
  let secondStarted = false;
  const heardUntilMs = performance.now() + 5 * HEDGE_MS;
  const value = await hedgedFirst(
    [
      after(3 * HEDGE_MS, "busy but working"),
      () => {
        secondStarted = true;
        return Promise.resolve("hedge");
      },
    ],
    HEDGE_MS,
    { heardAgoMs: () => (performance.now() < heardUntilMs ? 0 : Number.POSITIVE_INFINITY) },
  );
  expect([value, secondStarted]).toEqual(["busy but working", false]);
});

test("once the peer falls silent for hedgeMs, the hedge starts", async () => {
  const silentFromMs = performance.now() + 2 * HEDGE_MS;
  const startedAt = performance.now();
  const value = await hedgedFirst([after(10_000, "stuck"), after(1, "hedge")], HEDGE_MS, {
    heardAgoMs: () => Math.max(0, performance.now() - silentFromMs),
  });
  expect(value).toBe("hedge");
  expect(performance.now() - startedAt).toBeGreaterThanOrEqual(3 * HEDGE_MS - 5);
  expect(performance.now() - startedAt).toBeLessThan(1_000);
});
