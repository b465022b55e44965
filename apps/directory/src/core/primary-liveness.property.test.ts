/**
 * The directory's liveness rule for a storage primary under random histories (seeded, replayable
 * with FTFS_SEED): the primary answers keepalives after a random delay (a loaded node: up to
 * 1.5 s), loses some answers, is paused (SIGSTOP: no answers, its host still answers connection
 * attempts) for up to 10 s at a time, and the directory itself stalls (its ticks and the
 * answers waiting for it arrive late, in order). Without a cut the primary is never declared
 * down, however long its pauses or slow its answers; once its link is cut (nothing answers,
 * not even its host) it is declared down within primaryDownBoundMs of the cut.
 */
import { test } from "bun:test";
import { Prng } from "@ftfs/protocol/core";
import { checkSeededProperty, seedList } from "@ftfs/protocol/testing";
import { PrimaryLiveness, primaryDownBoundMs } from "./primary-liveness.ts";

const TICK_MS = 50;
/** The driver's host check: parallel connection attempts, silent after this long. */
const HOST_CHECK_MS = 300;
const RUN_MS = 60_000;
const ANSWER_DELAY_MS_MAX = 1_500;
const PAUSE_MS_MAX = 10_000;
const DIRECTORY_STALL_MS_MAX = 2_000;

interface Pending {
  readonly atMs: number;
  readonly kind: "answer" | "host-answered" | "host-silent";
}

interface History {
  readonly cutMs: number;
  readonly pauses: Array<[number, number]>;
  readonly stalls: Array<[number, number]>;
  readonly delayMaxMs: number;
  readonly answerLoss: number;
}

function intervals(prng: Prng, count: number, lengthMaxMs: number): Array<[number, number]> {
  return Array.from({ length: count }, () => {
    const fromMs = prng.intBelow(RUN_MS);
    return [fromMs, fromMs + 1 + prng.intBelow(lengthMaxMs)] as [number, number];
  });
}

function makeHistory(seed: number): History {
  const prng = new Prng(seed);
  return {
    cutMs: prng.chance(0.5) ? 5_000 + prng.intBelow(RUN_MS - 10_000) : Number.POSITIVE_INFINITY,
    pauses: intervals(prng, prng.intBelow(6), PAUSE_MS_MAX),
    stalls: intervals(prng, prng.intBelow(6), DIRECTORY_STALL_MS_MAX),
    delayMaxMs: [20, 200, ANSWER_DELAY_MS_MAX][prng.intBelow(3)] ?? 20,
    answerLoss: prng.nextFloat() * 0.3,
  };
}

const within = (spans: Array<[number, number]>, atMs: number): [number, number] | undefined =>
  spans.find(([fromMs, toMs]) => atMs >= fromMs && atMs < toMs);

/** When a keepalive sent at `sentMs` is answered back to the directory, or null (lost). */
function answerAt(history: History, prng: Prng, sentMs: number): number | null {
  if (sentMs >= history.cutMs || prng.chance(history.answerLoss)) return null;
  const paused = within(history.pauses, sentMs);
  const atMs = (paused?.[1] ?? sentMs) + 1 + prng.intBelow(history.delayMaxMs);
  return atMs >= history.cutMs ? null : atMs;
}

function run(seed: number): { problems: string[]; measuredMs: Record<string, number> } {
  const history = makeHistory(seed);
  const prng = new Prng(seed ^ 0x5eed);
  const liveness = new PrimaryLiveness(0);
  const pending: Pending[] = [];
  const problems: string[] = [];
  const measuredMs: Record<string, number> = {};
  const act = (nowMs: number, actions: readonly string[]): void => {
    for (const action of actions) {
      if (action === "keepalive") {
        const atMs = answerAt(history, prng, nowMs);
        if (atMs !== null) pending.push({ atMs, kind: "answer" });
      } else if (action === "check-host") {
        const cut = nowMs + HOST_CHECK_MS >= history.cutMs;
        pending.push(
          cut
            ? { atMs: nowMs + HOST_CHECK_MS, kind: "host-silent" }
            : { atMs: nowMs + 1 + prng.intBelow(20), kind: "host-answered" },
        );
      } else if (action === "down") {
        if (nowMs < history.cutMs) problems.push(`declared down at ${nowMs} ms, never cut`);
        else measuredMs.downAfterCut = nowMs - history.cutMs;
      }
    }
  };
  for (let nowMs = 0; nowMs <= RUN_MS && !liveness.isDown; nowMs += TICK_MS) {
    // A stalled directory runs nothing; what arrived meanwhile is handled, in order, after.
    if (within(history.stalls, nowMs) !== undefined) continue;
    pending.sort((a, b) => a.atMs - b.atMs);
    while (pending.length > 0 && (pending[0]?.atMs ?? Infinity) <= nowMs) {
      const event = pending.shift() as Pending;
      if (event.kind === "answer") liveness.answered(nowMs);
      else if (event.kind === "host-answered") liveness.hostAnswered(nowMs);
      else act(nowMs, liveness.hostSilent(nowMs));
    }
    act(nowMs, liveness.tick(nowMs));
  }
  if (history.cutMs < RUN_MS) {
    const boundMs = primaryDownBoundMs(TICK_MS, HOST_CHECK_MS);
    const stalledMs = history.stalls
      .filter(([fromMs, toMs]) => toMs > history.cutMs && fromMs < history.cutMs + boundMs * 4)
      .reduce((sum, [fromMs, toMs]) => sum + (toMs - fromMs), 0);
    const took = measuredMs.downAfterCut;
    if (took === undefined) problems.push(`cut at ${history.cutMs} ms, never declared down`);
    else if (took > boundMs + stalledMs)
      problems.push(`declared down ${took} ms after the cut (bound ${boundMs} + stalls)`);
  }
  return { problems, measuredMs };
}

test("a storage primary is declared down only once cut off, and then within the bound", () => {
  checkSeededProperty("primary liveness", seedList(500, 140_001), run);
});
