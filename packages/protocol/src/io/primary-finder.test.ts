/**
 * Finding the directory primary: hints are followed (not one naming the refuser), dead nodes
 * dropped, busy ones kept a few tries; a sweep asks each address once, follows a bounded
 * number of hints, stops at a refusal, and remembers who answered.
 */
import { describe, expect, test } from "bun:test";
import { FtfsError, ok, type Result } from "../core/index.ts";
import { PrimaryFinder } from "./primary-finder.ts";

const A = "127.0.0.1:1";
const B = "127.0.0.1:2";
const C = "127.0.0.1:3";

function finder(busyRetriesMax = 2): PrimaryFinder {
  return new PrimaryFinder({ addresses: [A, B, C, A], busyRetriesMax });
}

function notPrimary(primary?: string): FtfsError {
  return new FtfsError(
    "NOT_PRIMARY",
    "a backup",
    primary === undefined ? {} : { hint: { primary } },
  );
}

describe("PrimaryFinder", () => {
  test("goes round the addresses until one answers, then stays with it", () => {
    const found = finder();
    expect(found.addresses).toEqual([A, B, C]);
    expect([found.next(), found.next()]).toEqual([A, B]);
    found.answered(B);
    expect([found.next(), found.next(), found.primary]).toEqual([B, B, B]);
  });

  test("follows a hint, but not one naming the node that refused", () => {
    const found = finder();
    expect(found.failed(A, notPrimary(C))).toBe("redirected");
    expect(found.next()).toBe(C);
    expect(found.failed(C, notPrimary(C))).toBe("redirected");
    expect(found.primary).toBeNull();
  });

  test("drops a node whose connection failed; keeps a busy one a few tries, then moves on", () => {
    const found = finder(2);
    found.answered(A);
    const busy = new FtfsError("UNAVAILABLE", "no quorum yet");
    expect([found.failed(A, busy), found.primary]).toEqual(["busy", A]);
    expect([found.failed(A, busy), found.primary]).toEqual(["busy", A]);
    expect([found.failed(A, busy), found.primary]).toEqual(["busy", null]);
    found.answered(B);
    expect(found.failed(B, new FtfsError("TIMEOUT", "silent"))).toBe("down");
    expect(found.primary).toBeNull();
    expect(found.failed(C, new FtfsError("FORBIDDEN", "no"))).toBe("refused");
  });

  test("a sweep asks each address once, follows hints up to the bound, remembers who answered", async () => {
    const found = finder();
    const asked: string[] = [];
    const answers: Record<string, Result<string>> = {
      [A]: { ok: false, error: notPrimary(C) },
      [B]: ok("b"),
      [C]: { ok: false, error: notPrimary(A) },
    };
    const attempt = async (address: string) => {
      asked.push(address);
      return answers[address] ?? { ok: false, error: new FtfsError("TIMEOUT", "?") };
    };
    expect(await found.sweep(attempt, 1)).toEqual(ok("b"));
    // A points at C (followed), C points back at A (the bound is spent, and A was asked): B.
    expect(asked).toEqual([A, C, B]);
    expect(found.primary).toBe(B);
  });

  test("a sweep stops at a refusal, and says the last failure when nobody answered", async () => {
    const refusal = new FtfsError("FORBIDDEN", "not a node");
    const refused = await finder().sweep(async () => ({ ok: false, error: refusal }), 2);
    expect(refused).toEqual({ ok: false, error: refusal });
    const asked: string[] = [];
    const down = await finder().sweep(async (address) => {
      asked.push(address);
      return { ok: false, error: new FtfsError("CONNECT_FAILED", `no ${address}`) };
    }, 2);
    expect(asked).toEqual([A, B, C]);
    expect(down.ok ? null : down.error.message).toBe(`no ${C}`);
  });
});
