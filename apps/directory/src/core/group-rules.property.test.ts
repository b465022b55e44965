/**
 * The group rules under random histories (seeded, replayable with FTFS_SEED): nodes die, come
 * back with what their disk held, catch up, and writes are acknowledged only once every live
 * replica and learner stored them (the storage write path). Whatever happens, an acknowledged
 * write is on every in-sync replica, the primary is in sync, learners and replicas never
 * overlap, and the epoch moves exactly when the configuration does.
 */
import { expect, test } from "bun:test";
import { Prng } from "@ftfs/protocol/core";
import { forEachSeed, seedList } from "@ftfs/protocol/testing";
import { nextGroupConfig, type StorageNodeStatus } from "./group-rules.ts";
import type { GroupConfig } from "./model.ts";

const NODES = ["s1a", "s1b", "s1c", "s1d"];
const STEPS_PER_HISTORY = 200;
const SEEDS = 2_000;
const DEAD_AFTER_MS = 3_000;
const STEP_MS = 1_000;

interface NodeModel {
  alive: boolean;
  lastHeartbeatMs: number;
  syncedEpoch: number | undefined;
  /** What its disk holds (write ids); survives death. */
  readonly held: Set<number>;
}

function status(name: string, model: NodeModel): StorageNodeStatus {
  return {
    node: name,
    group: "s1",
    address: `127.0.0.1:${7200 + NODES.indexOf(name)}`,
    capacityBytes: 1,
    usedBytes: 0,
    lastHeartbeatMs: model.lastHeartbeatMs,
    ...(model.syncedEpoch === undefined ? {} : { syncedEpoch: model.syncedEpoch }),
  };
}

function history(seed: number): string | null {
  const prng = new Prng(seed);
  const models = new Map<string, NodeModel>(
    NODES.map((name) => [name, { alive: true, lastHeartbeatMs: 0, syncedEpoch: undefined, held: new Set() }]),
  );
  const acknowledged: number[] = [];
  let config: GroupConfig | undefined;
  let nowMs = 0;
  let nextWrite = 1;
  for (let step = 0; step < STEPS_PER_HISTORY; step += 1) {
    nowMs += STEP_MS;
    const name = NODES[prng.intBelow(NODES.length)] ?? "s1a";
    const model = models.get(name);
    if (model === undefined) return "no model";
    const roll = prng.nextFloat();
    if (roll < 0.1) model.alive = false;
    else if (roll < 0.2 && !model.alive) {
      model.alive = true; // restarts with its disk, forgets it was synced
      model.syncedEpoch = undefined;
    }
    // A learner catches up: copies the primary's whole disk, says so at this epoch.
    const learners = new Set(config?.learners?.map((member) => member.node) ?? []);
    const primary = config?.primaryNode === null ? undefined : models.get(config?.primaryNode ?? "");
    if (learners.has(name) && model.alive && primary?.alive === true && config !== undefined) {
      for (const id of primary.held) model.held.add(id);
      model.syncedEpoch = config.epoch;
    }
    for (const each of models.values()) if (each.alive) each.lastHeartbeatMs = nowMs;
    const statuses = [...models].map(([id, each]) => status(id, each));
    const next = nextGroupConfig(config, "s1", statuses, nowMs, DEAD_AFTER_MS);
    if (config !== undefined && next !== config && next.epoch !== config.epoch + 1) {
      return `epoch jumped from ${config.epoch} to ${next.epoch}`;
    }
    if (config !== undefined && next === config && next.epoch !== config.epoch) return "epoch moved";
    config = next;
    const inSync = config.replicas.map((member) => member.node);
    const learning = (config.learners ?? []).map((member) => member.node);
    if (inSync.some((node) => learning.includes(node))) return `${inSync} overlaps ${learning}`;
    if (config.primaryNode !== null && !inSync.includes(config.primaryNode)) {
      return `primary ${config.primaryNode} is not in sync`;
    }
    // A write: the primary forwards to every replica and learner; all must be alive to ack.
    if (config.primaryNode !== null && prng.nextFloat() < 0.5) {
      const targets = [...inSync, ...learning].map((node) => models.get(node));
      const id = nextWrite;
      nextWrite += 1;
      for (const target of targets) if (target?.alive === true) target.held.add(id);
      if (targets.every((target) => target?.alive === true)) acknowledged.push(id);
    }
    for (const node of inSync) {
      const held = models.get(node)?.held;
      const missing = acknowledged.find((id) => held?.has(id) !== true);
      if (missing !== undefined) return `in-sync ${node} lacks acknowledged write ${missing} (epoch ${config.epoch})`;
    }
  }
  return null;
}

test("acknowledged writes are on every in-sync replica through deaths, restarts and catch-up", () => {
  forEachSeed("group rules", seedList(SEEDS, 1), (seed) => {
    const problem = history(seed);
    return problem === null ? [] : [problem];
  });
});

test("the same seed replays the same history", () => {
  expect(history(11)).toBe(history(11));
});
