/**
 * When a replica folds its log: every RAFT_COMPACT_EVERY_ENTRIES applied entries; while a
 * member fetches a snapshot image from it, not until RAFT_COMPACT_HELD_ENTRIES_MAX, so the
 * member can catch up from the log after its image; as a follower far behind its leader's
 * commit (catching up), not until that bound either; and never once stopped.
 */
import { expect, test } from "bun:test";
import { raft } from "@ftfs/protocol/core";
import { MemoryDurableStore } from "@ftfs/protocol/testing";
import {
  RAFT_COMPACT_BEHIND_HELD_ENTRIES_MAX,
  RAFT_COMPACT_EVERY_ENTRIES,
  RAFT_COMPACT_HELD_ENTRIES_MAX,
  RAFT_COMPACT_LAG_SLACK_ENTRIES,
} from "./limits.ts";
import { MemoryMetadataStore } from "./memory-store.ts";
import { DirectoryReplica, type ReplicaDisk } from "./replica.ts";

function replicaApplying(entries: number, members = ["d1"]): DirectoryReplica {
  const state = new MemoryMetadataStore();
  for (let index = 1; index <= entries; index += 1) state.applyEntry(index, () => undefined);
  const raftStore = new MemoryDurableStore("test-disk");
  const disk: ReplicaDisk = {
    state,
    loadRaft: () => raftStore.load(),
    transaction: (work) => work(),
    saveRaft: (ready: raft.Ready) => raftStore.save(ready),
    installSnapshot: () => undefined,
    isDiskError: () => false,
  };
  return new DirectoryReplica({ id: "d1", members, disk, seed: 1, addressOf: () => "" });
}

test("a fetch in progress holds the fold back, up to a bound", () => {
  expect(replicaApplying(RAFT_COMPACT_EVERY_ENTRIES - 1).compactionDue()).toBe(false);
  const due = replicaApplying(RAFT_COMPACT_EVERY_ENTRIES);
  expect(due.compactionDue()).toBe(true);
  expect(due.compactionDue(true)).toBe(false);
  const long = replicaApplying(RAFT_COMPACT_HELD_ENTRIES_MAX);
  expect(long.compactionDue(true)).toBe(true);
  long.stop("stopping");
  expect(long.compactionDue()).toBe(false);
});

/** An append from leader d2 telling d1 that the group has committed through `commit`. */
function leaderSays(replica: DirectoryReplica, commit: number): void {
  replica.step({
    type: "append",
    from: raft.raftId("d2"),
    to: raft.raftId("d1"),
    term: 1,
    prevIndex: 0,
    prevTerm: 0,
    entries: [],
    commit,
  });
  replica.drain();
}

test("a follower far behind its leader's commit holds the fold back, up to a bound", () => {
  const applied = RAFT_COMPACT_EVERY_ENTRIES;
  const behind = replicaApplying(applied, ["d1", "d2", "d3"]);
  leaderSays(behind, applied + RAFT_COMPACT_LAG_SLACK_ENTRIES + 1);
  expect(behind.isLeader).toBe(false);
  expect(behind.compactionDue()).toBe(false);
  const close = replicaApplying(applied, ["d1", "d2", "d3"]);
  leaderSays(close, applied + RAFT_COMPACT_LAG_SLACK_ENTRIES);
  expect(close.compactionDue()).toBe(true);
  // Its own bound, below the primary's: what it holds is in its memory.
  const nearly = replicaApplying(RAFT_COMPACT_BEHIND_HELD_ENTRIES_MAX - 1, ["d1", "d2", "d3"]);
  leaderSays(nearly, 10 * RAFT_COMPACT_HELD_ENTRIES_MAX);
  expect(nearly.compactionDue()).toBe(false);
  const long = replicaApplying(RAFT_COMPACT_BEHIND_HELD_ENTRIES_MAX, ["d1", "d2", "d3"]);
  leaderSays(long, 10 * RAFT_COMPACT_HELD_ENTRIES_MAX);
  expect(long.compactionDue()).toBe(true);
});
