/**
 * The config formulas give the numbers the comments in config.ts promise (memberlist's LAN
 * figures), and a nonsensical config is refused at once.
 */
import { describe, expect, test } from "bun:test";
import {
  pushPullIntervalMs,
  retransmitLimit,
  silentDetectionBoundMs,
  SWIM_LAN_CONFIG,
  suspicionConfirmationsWanted,
  suspicionTimeoutMaxMs,
  suspicionTimeoutMinMs,
  swimConfig,
} from "./config.ts";

const LAN = SWIM_LAN_CONFIG;

describe("swim config formulas (LAN preset)", () => {
  test.each([
    // members, Smin, Smax, k, R, push-pull
    [1, 4000, 24_000, 0, 4, 30_000],
    [3, 4000, 24_000, 0, 4, 30_000],
    [4, 4000, 24_000, 2, 4, 30_000],
    [10, 4000, 24_000, 2, 8, 30_000],
    [100, 8000, 48_000, 2, 12, 90_000],
    [1000, 12_000, 72_000, 2, 16, 180_000],
  ])("n=%i: Smin %i, Smax %i, k %i, R %i, push-pull %i", (n, min, max, k, r, pushPull) => {
    expect(suspicionTimeoutMinMs(LAN, n)).toBe(min);
    expect(suspicionTimeoutMaxMs(LAN, n)).toBe(max);
    expect(suspicionConfirmationsWanted(LAN, n)).toBe(k);
    expect(retransmitLimit(LAN, n)).toBe(r);
    expect(pushPullIntervalMs(LAN, n)).toBe(pushPull);
  });

  test("the silent-detection bound for 10 members: 2·9 s contact + 1 s + 24 s + 0.5 s", () => {
    expect(silentDetectionBoundMs(LAN, 10)).toBe(43_500);
  });

  test("a 2 s pause cannot kill: a probe period plus Smin leaves room to refute", () => {
    expect(LAN.probeIntervalMs + suspicionTimeoutMinMs(LAN, 2)).toBeGreaterThanOrEqual(2 * 2000);
  });

  test("a host check's verdict comes before its probe period ends", () => {
    expect(LAN.probeTimeoutMs + LAN.hostCheckTimeoutMs).toBeLessThan(LAN.probeIntervalMs);
  });

  test.each([
    [{ probeTimeoutMs: 1000 }],
    [{ probeIntervalMs: 0 }],
    [{ relayNackTimeoutMs: 600 }],
    [{ hostCheckTimeoutMs: 701 }],
    [{ awarenessMax: 0 }],
    [{ gossipIntervalMs: 1.5 }],
    [{ membersMax: 1 }],
  ])("refuses %p", (overrides) => {
    expect(() => swimConfig(overrides)).toThrow();
  });
});
