/**
 * `bun run bench --quick` survives its churn (a storage primary and the directory primary each
 * killed with SIGKILL and restarted under 20 clients) without losing or corrupting one
 * acknowledged write, exits 0, and writes metrics.json (one entry per second, and for each
 * storage node that came back the time until its group was whole again), report.html and
 * metrics.png (a real PNG of the report's size, rendered without a browser).
 */

import { expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pngDimensions } from "../../bench/src/common/svg-png.ts";

const BENCH_MAIN = resolve(import.meta.dir, "../../bench/src/churn/main.ts");
/** The quick run is ~20 s of load plus start-up and read-back; this bounds a hang. */
const RUN_TIMEOUT_MS = 55_000;
const TEST_TIMEOUT_MS = 59_000;
const QUICK_SECONDS = 20;
/** The report is 1300 px of charts plus margins wide, and five charts and a summary tall. */
const PNG_WIDTH_PX = 1324;
const PNG_HEIGHT_PX_MIN = 1000;
const PNG_HEIGHT_PX_MAX = 4000;

/** The load may run a little past its planned end: the last operations finish first. */
const RUN_OVERSHOOT_S = 2;
const UNDO_ACTIONS = new Set(["restart", "resume", "join"]);

interface QuickMetrics {
  readonly summary: {
    readonly lost: number;
    readonly corrupted: number;
    readonly acknowledgedWrites: number;
    readonly readBackExact: number;
    readonly recoveries: ReadonlyArray<{
      readonly group: string;
      readonly node: string;
      readonly atS: number;
      readonly wholeAfterS: number | null;
    }>;
  };
  readonly churn: ReadonlyArray<{
    readonly action: string;
    readonly node: string | null;
    readonly group: string | null;
  }>;
  readonly seconds: readonly unknown[];
}

test(
  "bench --quick: no lost or corrupted write through kills of a storage and the directory primary",
  async () => {
    const outDir = await mkdtemp(join(tmpdir(), "ftfs-churn-test-"));
    try {
      // The limits probe asserts nothing here and costs seconds on a loaded machine.
      const child = Bun.spawn(
        [process.execPath, BENCH_MAIN, "--quick", "--skip-limits", "--out", outDir],
        {
          stdout: "pipe",
          stderr: "pipe",
        },
      );
      const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
      const [stdout, stderr, code] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
        child.exited,
      ]);
      clearTimeout(timer);
      if (code !== 0) console.error(stdout, stderr);
      expect(code).toBe(0);
      const metrics = (await Bun.file(join(outDir, "metrics.json")).json()) as QuickMetrics;
      expect(metrics.summary.lost).toBe(0);
      expect(metrics.summary.corrupted).toBe(0);
      expect(metrics.summary.acknowledgedWrites).toBeGreaterThan(0);
      expect(metrics.summary.readBackExact).toBe(metrics.summary.acknowledgedWrites);
      expect(metrics.seconds.length).toBe(QUICK_SECONDS);
      // Every storage node that came back has a time to whole, or is said not whole by the end.
      const returns = metrics.churn.filter(
        (record) =>
          record.node !== null && record.group !== null && UNDO_ACTIONS.has(record.action),
      );
      expect(returns.length).toBeGreaterThanOrEqual(1);
      expect(metrics.summary.recoveries.map((recovery) => recovery.node)).toEqual(
        returns.map((record) => record.node ?? ""),
      );
      for (const recovery of metrics.summary.recoveries) {
        if (recovery.wholeAfterS === null) {
          expect(stdout).toContain("not whole by end of run");
          continue;
        }
        expect(recovery.wholeAfterS).toBeGreaterThanOrEqual(0);
        expect(recovery.atS + recovery.wholeAfterS).toBeLessThan(QUICK_SECONDS + RUN_OVERSHOOT_S);
        expect(stdout).toContain(`whole after ${recovery.wholeAfterS.toFixed(1)} s`);
      }
      expect(await Bun.file(join(outDir, "report.html")).exists()).toBe(true);
      const png = new Uint8Array(await Bun.file(join(outDir, "metrics.png")).arrayBuffer());
      const size = pngDimensions(png);
      expect(size?.widthPx).toBe(PNG_WIDTH_PX);
      expect(size?.heightPx).toBeGreaterThan(PNG_HEIGHT_PX_MIN);
      expect(size?.heightPx).toBeLessThan(PNG_HEIGHT_PX_MAX);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  },
  TEST_TIMEOUT_MS,
);
