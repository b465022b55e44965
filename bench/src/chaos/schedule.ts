/**
 * Seeded fault schedules: the same seed gives the same faults, in the same order, at the same
 * times, aimed at the same roles (which node holds a role is decided by the cluster at that
 * moment). One fault at a time, each healed before the next, so a schedule stays within the
 * design's promise (fewer than a majority of directories, fewer than all replicas of a group).
 * Pure.
 */

import { Prng } from "@ftfs/protocol/core";

export const FAULT_KINDS = ["kill", "pause", "isolate", "split", "bridge", "oneway", "loss", "disk-full"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Roles a node fault may hit, resolved when it starts (see churn/cluster-view.ts). */
const NODE_ROLES = [
  "directory-primary", "directory-backup",
  "storage-primary:s1", "storage-primary:s2", "storage-backup:s1", "storage-backup:s2",
] as const;

export interface Fault {
  readonly atS: number;
  readonly durationS: number;
  readonly kind: FaultKind;
  /** The role (or node id) it hits: the isolated/killed/paused node, the bridge, the minority's storage primary. */
  readonly target: string;
  /** oneway: true drops what the target sends, false what it receives. loss: unused. */
  readonly outbound: boolean;
  /** loss: percent of packets dropped at every node. */
  readonly percent: number;
}

export const FIRST_FAULT_S = 3;
const GAP_S_MIN = 1;
const GAP_S_MAX = 4;
const DURATION_S_MIN = 3;
const DURATION_S_MAX = 10;
const LOSS_PERCENT_MIN = 5;
const LOSS_PERCENT_MAX = 30;

function pick<T>(random: Prng, items: readonly T[]): T {
  const item = items[random.intBelow(items.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

function between(random: Prng, min: number, max: number): number {
  return Math.round((min + random.nextFloat() * (max - min)) * 10) / 10;
}

export function makeSchedule(seed: number, durationS: number, kinds: readonly FaultKind[], smallDiskNode: string): Fault[] {
  const random = new Prng(seed);
  const faults: Fault[] = [];
  let atS = FIRST_FAULT_S;
  while (true) {
    const durationMax = Math.min(DURATION_S_MAX, durationS - atS);
    if (durationMax < DURATION_S_MIN) break;
    const kind = pick(random, kinds);
    const durationS_ = between(random, DURATION_S_MIN, durationMax);
    const target = kind === "disk-full" ? smallDiskNode
      : kind === "split" ? pick(random, ["storage-primary:s1", "storage-primary:s2"])
      : kind === "bridge" ? pick(random, ["directory-primary", "directory-backup"])
      : pick(random, NODE_ROLES);
    faults.push({
      atS, durationS: durationS_, kind, target,
      outbound: random.chance(0.5),
      percent: Math.round(between(random, LOSS_PERCENT_MIN, LOSS_PERCENT_MAX)),
    });
    atS = Math.round((atS + durationS_ + between(random, GAP_S_MIN, GAP_S_MAX)) * 10) / 10;
  }
  return faults;
}

export function describeFault(fault: Fault): string {
  const what = fault.kind === "loss" ? `loss ${fault.percent}% everywhere`
    : fault.kind === "oneway" ? `oneway ${fault.outbound ? "from" : "to"} ${fault.target}`
    : fault.kind === "split" ? `split: minority = directory-primary + ${fault.target}`
    : `${fault.kind} ${fault.target}`;
  return `${fault.atS.toFixed(1)}s +${fault.durationS.toFixed(1)}s ${what}`;
}

export function parseKinds(text: string): FaultKind[] {
  return text.split(",").map((word) => {
    const kind = FAULT_KINDS.find((candidate) => candidate === word.trim());
    if (kind === undefined) throw new Error(`unknown fault kind '${word}' (${FAULT_KINDS.join(", ")})`);
    return kind;
  });
}
