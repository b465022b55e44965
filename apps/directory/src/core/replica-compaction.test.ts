/**
 * When a replica folds its log: every RAFT_COMPACT_EVERY_ENTRIES applied entries; while a
 * member fetches a snapshot image from it, not until RAFT_COMPACT_HELD_ENTRIES_MAX, so the
 * member can catch up from the log after its image; and never once stopped.
 */
import { expect, test } from "bun:test";
import type { raft } from "@ftfs/protocol/core";
import { MemoryDurableStore } from "@ftfs/protocol/testing";
import { RAFT_COMPACT_EVERY_ENTRIES, RAFT_COMPACT_HELD_ENTRIES_MAX } from "./limits.ts";
import { MemoryMetadataStore } from "./memory-store.ts";
import { DirectoryReplica, type ReplicaDisk } from "./replica.ts";

function replicaApplying(entries: number): DirectoryReplica {
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
  return new DirectoryReplica({ id: "d1", members: ["d1"], disk, seed: 1, addressOf: () => "" });
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
