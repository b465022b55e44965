/**
 * The liveness rule step by step: keepalives on their interval, a host check after a silence,
 * no verdict when the host or the primary answers, and "down" once when neither does.
 */
import { describe, expect, test } from "bun:test";
import {
  PRIMARY_HOST_CHECK_WAIT_MS,
  PRIMARY_KEEPALIVE_INTERVAL_MS,
  PRIMARY_KEEPALIVE_SILENCE_MS,
  PrimaryLiveness,
} from "./primary-liveness.ts";

const SILENCE = PRIMARY_KEEPALIVE_SILENCE_MS;

describe("PrimaryLiveness", () => {
  test("keepalives go out once per interval", () => {
    const liveness = new PrimaryLiveness(0);
    expect(liveness.tick(0)).toEqual(["keepalive"]);
    expect(liveness.tick(PRIMARY_KEEPALIVE_INTERVAL_MS - 1)).toEqual([]);
    expect(liveness.tick(PRIMARY_KEEPALIVE_INTERVAL_MS)).toEqual(["keepalive"]);
  });

  test("answers keep it from ever checking the host", () => {
    const liveness = new PrimaryLiveness(0);
    for (let nowMs = 0; nowMs < 10 * SILENCE; nowMs += 50) {
      expect(liveness.tick(nowMs)).not.toContain("check-host");
      liveness.answered(nowMs);
    }
  });

  test("silence starts one host check; a host that answers gets no verdict", () => {
    const liveness = new PrimaryLiveness(0);
    liveness.tick(0);
    expect(liveness.tick(SILENCE)).toContain("check-host");
    expect(liveness.tick(SILENCE + 100)).not.toContain("check-host");
    liveness.hostAnswered(SILENCE + 100);
    expect(liveness.tick(2 * SILENCE + 99)).not.toContain("check-host");
    expect(liveness.tick(2 * SILENCE + 100)).toContain("check-host");
    expect(liveness.isDown).toBe(false);
  });

  test("a silent host with no answer since the check began: down, said once", () => {
    const liveness = new PrimaryLiveness(0);
    liveness.tick(SILENCE);
    expect(liveness.hostSilent(SILENCE + 300)).toEqual(["down"]);
    expect(liveness.isDown).toBe(true);
    expect(liveness.hostSilent(SILENCE + 400)).toEqual([]);
    expect(liveness.tick(SILENCE + 1000)).toEqual([]);
  });

  test("a keepalive answered while the host check ran voids its silent verdict", () => {
    const liveness = new PrimaryLiveness(0);
    liveness.tick(SILENCE);
    liveness.answered(SILENCE + 100);
    expect(liveness.hostSilent(SILENCE + 300)).toEqual([]);
    expect(liveness.isDown).toBe(false);
  });

  test("a check that reports nothing is given up, and another follows a silence later", () => {
    const liveness = new PrimaryLiveness(0);
    liveness.tick(SILENCE);
    const giveUpMs = SILENCE + PRIMARY_HOST_CHECK_WAIT_MS;
    expect(liveness.tick(giveUpMs)).not.toContain("check-host");
    expect(liveness.tick(giveUpMs + SILENCE)).toContain("check-host");
  });
});
