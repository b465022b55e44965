/**
 * Property: reference changes submitted together share one commit, in the order they came;
 * none is answered before its round committed; a commit that fails fails every change of its
 * round and none of them holds; a change that throws is rolled back and answered alone; a round
 * holds at most REFS_ROUND_CHANGES_MAX changes; a change submitted while a round commits waits
 * for the next. The commit does not fsync: nothing is answered before the round's log fsync
 * resolves, and one that fails fails its round (after the stores it started); log fsyncs
 * asked for while one runs share the next. With a real SQLite store, a round of changes from
 * one turn costs one commit and one log fsync.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REFS_ROUND_CHANGES_MAX } from "../core/index.ts";
import { Fsync, type FsyncTarget } from "./fsync.ts";
import { type ChangeOutcome, GroupCommit } from "./group-commit.ts";
import { RefsStore } from "./refs-store.ts";

const OWNER = { uid: "hal", name: "h.bin", uploadId: "u1" } as const;

function chunkId(n: number): string {
  return n.toString(16).padStart(64, "0");
}

/** A scheduler the test drives: rounds run only when it says so. */
class ManualRounds {
  private readonly due: Array<() => void> = [];

  readonly schedule = (run: () => void): void => {
    this.due.push(run);
  };

  get pending(): number {
    return this.due.length;
  }

  runNext(): void {
    const run = this.due.shift();
    if (run === undefined) throw new Error("no round is due");
    run();
  }
}

/** Lets every settled promise's reactions run. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn += 1) await Promise.resolve();
}

/** Waits for the log fsync of every round run so far (a later one ends after it), then settles. */
async function durableAndSettled(): Promise<void> {
  await refs.syncLog();
  await settle();
}

function track<T>(promise: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  promise.then(
    (value) => {
      state.done = true;
      state.value = value;
    },
    (error: unknown) => {
      state.done = true;
      state.error = error;
    },
  );
  return state;
}

const durableAtOnce = (): Promise<void> => Promise.resolve();

let dir = "";
let refs: RefsStore;
let commits: FsyncTarget[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ftfs-group-commit-"));
  commits = [];
  refs = RefsStore.open(join(dir, "refs.sqlite"), new Fsync((target) => commits.push(target)));
});
afterEach(async () => {
  refs.close();
  await rm(dir, { recursive: true, force: true });
});

test("changes submitted together share one commit, in order, answered after it", async () => {
  const rounds = new ManualRounds();
  const group = new GroupCommit(
    (changes) => refs.commitEach(changes),
    () => refs.syncLog(),
    rounds.schedule,
  );
  const order: number[] = [];
  const answers = [0, 1, 2].map((n) =>
    track(
      group.submit(
        () => {
          order.push(n);
          return refs.addPending(chunkId(n), OWNER, 10, 1);
        },
        (recorded) => ({ n, recorded, seen: refs.referencesTo(chunkId(n)) }),
      ),
    ),
  );
  await settle();
  expect(answers.map((answer) => answer.done)).toEqual([false, false, false]);
  expect(refs.referencesTo(chunkId(0))).toBe(0);
  expect(rounds.pending).toBe(1);
  rounds.runNext();
  await durableAndSettled();
  expect(order).toEqual([0, 1, 2]);
  expect(answers.map((answer) => answer.value)).toEqual([
    { n: 0, recorded: true, seen: 1 },
    { n: 1, recorded: true, seen: 1 },
    { n: 2, recorded: true, seen: 1 },
  ]);
  expect(commits.length).toBeGreaterThanOrEqual(1); // the round's log fsync (and ours)
  expect(group.stats).toEqual({ rounds: 1, changes: 3, largestRound: 3 });
});

test("a commit that fails fails every change of its round; no `afterCommit` runs", async () => {
  const rounds = new ManualRounds();
  const failing = new Error("fsync failed");
  let thenRuns = 0;
  const group = new GroupCommit(
    () => {
      throw failing;
    },
    () => refs.syncLog(),
    rounds.schedule,
  );
  const answers = [0, 1, 2].map((n) =>
    track(
      group.submit(
        () => refs.addPending(chunkId(n), OWNER, 10, 1),
        () => {
          thenRuns += 1;
        },
      ),
    ),
  );
  rounds.runNext();
  await settle();
  expect(answers.map((answer) => [answer.done, answer.error])).toEqual([
    [true, failing],
    [true, failing],
    [true, failing],
  ]);
  expect(thenRuns).toBe(0);
});

test("a log fsync that fails fails its whole round, after the stores it started", async () => {
  refs.close();
  let failNext = false;
  class FailingFsync extends Fsync {
    override async log(logFd: number): Promise<void> {
      if (failNext) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
      return super.log(logFd);
    }
  }
  refs = RefsStore.open(join(dir, "refs.sqlite"), new FailingFsync());
  const rounds = new ManualRounds();
  const group = new GroupCommit(
    (changes) => refs.commitEach(changes),
    () => refs.syncLog(),
    rounds.schedule,
  );
  failNext = true;
  const started: number[] = [];
  const answers = [0, 1].map((n) =>
    track(
      group.submit(
        () => refs.addPending(chunkId(n), OWNER, 10, 1),
        () => started.push(n),
      ),
    ),
  );
  rounds.runNext();
  expect(started).toEqual([0, 1]); // in the commit's own step
  await Bun.sleep(20);
  expect(answers.every((answer) => answer.done && answer.error instanceof Error)).toBe(true);
  // The next round is durable as usual.
  failNext = false;
  const later = track(group.submit(() => refs.addPending(chunkId(2), OWNER, 10, 1)));
  rounds.runNext();
  await Bun.sleep(20);
  expect(later).toMatchObject({ done: true, value: true });
});

test("nothing is answered before its round's log fsync resolves", async () => {
  const rounds = new ManualRounds();
  let makeDurable = (): void => {};
  const group = new GroupCommit(
    (changes) => refs.commitEach(changes),
    () =>
      new Promise<void>((resolve) => {
        makeDurable = resolve;
      }),
    rounds.schedule,
  );
  const answer = track(group.submit(() => refs.addPending(chunkId(7), OWNER, 10, 1)));
  rounds.runNext();
  await settle();
  expect(refs.referencesTo(chunkId(7))).toBe(1); // committed, visible, not yet durable
  expect(answer.done).toBe(false);
  makeDurable();
  await settle();
  expect(answer).toMatchObject({ done: true, value: true });
});

test("log fsyncs asked for while one runs share the next one", async () => {
  const synced = await Promise.all([refs.syncLog(), refs.syncLog(), refs.syncLog()]);
  expect(synced).toHaveLength(3);
  // One under way, one queued after it for the two that came meanwhile.
  expect(commits).toEqual(["references", "references"]);
});

test("a change that throws is rolled back and answered alone; the others commit", async () => {
  const rounds = new ManualRounds();
  const group = new GroupCommit(
    (changes) => refs.commitEach(changes),
    () => refs.syncLog(),
    rounds.schedule,
  );
  const broken = new Error("a bug in one change");
  const first = track(group.submit(() => refs.addPending(chunkId(1), OWNER, 10, 1)));
  const bad = track(
    group.submit(() => {
      refs.addPending(chunkId(2), OWNER, 10, 1);
      throw broken;
    }),
  );
  const third = track(group.submit(() => refs.addPending(chunkId(3), OWNER, 10, 1)));
  rounds.runNext();
  await durableAndSettled();
  expect([first.value, bad.error, third.value]).toEqual([true, broken, true]);
  expect([1, 2, 3].map((n) => refs.referencesTo(chunkId(n)))).toEqual([1, 0, 1]);
  expect(group.stats.rounds).toBe(1);
});

test("an `afterCommit` that throws fails its own change only", async () => {
  const rounds = new ManualRounds();
  const group = new GroupCommit(
    (changes) => refs.commitEach(changes),
    () => refs.syncLog(),
    rounds.schedule,
  );
  const broken = new Error("afterCommit failed");
  const bad = track(
    group.submit(
      () => refs.addPending(chunkId(1), OWNER, 10, 1),
      () => {
        throw broken;
      },
    ),
  );
  const good = track(group.submit(() => refs.addPending(chunkId(2), OWNER, 10, 1)));
  rounds.runNext();
  await durableAndSettled();
  expect([bad.error, good.value]).toEqual([broken, true]);
});

test("a round holds at most REFS_ROUND_CHANGES_MAX changes; the rest take the next", async () => {
  const rounds = new ManualRounds();
  const sizes: number[] = [];
  const group = new GroupCommit(
    (changes): ChangeOutcome[] => {
      sizes.push(changes.length);
      return changes.map((change) => ({ ok: true, value: change() }));
    },
    durableAtOnce,
    rounds.schedule,
  );
  const total = REFS_ROUND_CHANGES_MAX + 3;
  const answers = Array.from({ length: total }, (_, n) => track(group.submit(() => n)));
  rounds.runNext();
  await settle();
  expect(answers.filter((answer) => answer.done)).toHaveLength(REFS_ROUND_CHANGES_MAX);
  expect(rounds.pending).toBe(1);
  rounds.runNext();
  await settle();
  expect(sizes).toEqual([REFS_ROUND_CHANGES_MAX, 3]);
  expect(answers.map((answer) => answer.value)).toEqual(Array.from({ length: total }, (_, n) => n));
});

test("a change submitted while a round commits waits for the next round", async () => {
  const rounds = new ManualRounds();
  let late: { done: boolean } | null = null;
  const group: GroupCommit = new GroupCommit(
    (changes) => {
      // A request that arrives while this commit holds the event loop.
      late ??= track(group.submit(() => "late"));
      return changes.map((change) => ({ ok: true, value: change() }));
    },
    durableAtOnce,
    rounds.schedule,
  );
  const early = track(group.submit(() => "early"));
  rounds.runNext();
  await settle();
  expect(early).toMatchObject({ done: true, value: "early" });
  expect(late).toMatchObject({ done: false });
  expect(group.waiting).toBe(1);
  rounds.runNext();
  await settle();
  expect(late).toMatchObject({ done: true, value: "late" });
});

test("with the default scheduler, changes of one turn share a round", async () => {
  const group = new GroupCommit(
    (changes) => refs.commitEach(changes),
    () => refs.syncLog(),
  );
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, n) =>
      group.submit(() => refs.addPending(chunkId(n), OWNER, 10, 1)),
    ),
  );
  expect(answers.every((recorded) => recorded)).toBe(true);
  expect(group.stats.rounds).toBe(1);
  expect(commits).toEqual(["references"]);
});
