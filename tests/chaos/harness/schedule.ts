/**
 * Seeded fault schedules: the same seed gives the same faults, in the same order, at the same
 * times, aimed at the same roles (which node holds a role is decided by the cluster at that
 * moment). One fault at a time, each healed before the next, so a schedule stays within the
 * design's promise (fewer than a majority of directories, fewer than all replicas of a group).
 * Pure.
 */

import { Prng } from "@ftfs/protocol/core";
import { PAUSE_CLIENT_S_MIN } from "./gc-timing.ts";

export const FAULT_KINDS = [
  "kill",
  "pause",
  "isolate",
  "split",
  "bridge",
  "oneway",
  "loss",
  "disk-full",
  "pause-client",
  "clock-jump",
  "wipe",
  "replace-directory",
  "drain",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The workload's users and each one's names, named here so a fault can aim at one file. */
export const WORKLOAD_USERS = 3;
export const NAMES_PER_USER = 5;

export function workloadUid(index: number): string {
  return `chaos${index % WORKLOAD_USERS}`;
}

export function workloadName(index: number): string {
  return `f${index % NAMES_PER_USER}`;
}

/** Roles a node fault may hit, resolved when it starts (see churn/cluster-view.ts). */
const NODE_ROLES = [
  "directory-primary",
  "directory-backup",
  "storage-primary:s1",
  "storage-primary:s2",
  "storage-backup:s1",
  "storage-backup:s2",
] as const;
/** A clock jump hits a storage node (the role that runs GC against wall time). */
const STORAGE_ROLES = [
  "storage-primary:s1",
  "storage-primary:s2",
  "storage-backup:s1",
  "storage-backup:s2",
] as const;
/** A wipe hits a backup: its group's other two replicas stay in sync and hold everything. */
const BACKUP_ROLES = ["storage-backup:s1", "storage-backup:s2"] as const;

export interface Fault {
  readonly atS: number;
  readonly durationS: number;
  readonly kind: FaultKind;
  /**
   * The role (or node id) it hits: the isolated/killed/paused/wiped/clock-jumped/replaced/
   * drained node, the bridge, the minority's storage primary; for pause-client, the file
   * (`uid/name`) uploaded.
   */
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

function pausedSoFar(faults: readonly Fault[]): number {
  return faults.filter((fault) => fault.kind === "pause-client").length;
}

/**
 * A fresh file of one of the workload's users for the paused CLI upload, `uid/pausedN`: fresh,
 * because storage's listing shows a name's committed version rather than a pending upload of
 * it, and the nemesis must see the pending upload to stop it mid-way. Once acknowledged the
 * name joins the workload's live names (read, updated and deleted by the clients).
 */
function pickPausedFile(random: Prng, index: number): string {
  return `${workloadUid(random.intBelow(WORKLOAD_USERS))}/paused${index}`;
}

export function makeSchedule(
  seed: number,
  durationS: number,
  kinds: readonly FaultKind[],
  smallDiskNode: string,
): Fault[] {
  const random = new Prng(seed);
  const faults: Fault[] = [];
  let atS = FIRST_FAULT_S;
  while (true) {
    const durationMax = Math.min(DURATION_S_MAX, durationS - atS);
    if (durationMax < DURATION_S_MIN) break;
    const kind = pick(random, kinds);
    const drawnS = between(random, DURATION_S_MIN, durationMax);
    // A paused client must sleep past its upload's deadline: longer than any other fault.
    const durationS_ = kind === "pause-client" ? Math.max(drawnS, PAUSE_CLIENT_S_MIN) : drawnS;
    const target =
      kind === "disk-full"
        ? smallDiskNode
        : kind === "split"
          ? pick(random, ["storage-primary:s1", "storage-primary:s2"])
          : kind === "bridge"
            ? pick(random, ["directory-primary", "directory-backup"])
            : kind === "clock-jump"
              ? pick(random, STORAGE_ROLES)
              : kind === "wipe"
                ? pick(random, BACKUP_ROLES)
                : kind === "pause-client"
                  ? pickPausedFile(random, pausedSoFar(faults))
                  : kind === "replace-directory"
                    ? "directory-backup"
                    : kind === "drain"
                      ? pick(random, STORAGE_ROLES)
                      : pick(random, NODE_ROLES);
    faults.push({
      atS,
      durationS: durationS_,
      kind,
      target,
      outbound: random.chance(0.5),
      percent: Math.round(between(random, LOSS_PERCENT_MIN, LOSS_PERCENT_MAX)),
    });
    atS = Math.round((atS + durationS_ + between(random, GAP_S_MIN, GAP_S_MAX)) * 10) / 10;
  }
  return faults;
}

export function describeFault(fault: Fault): string {
  const what =
    fault.kind === "loss"
      ? `loss ${fault.percent}% everywhere`
      : fault.kind === "oneway"
        ? `oneway ${fault.outbound ? "from" : "to"} ${fault.target}`
        : fault.kind === "split"
          ? `split: minority = directory-primary + ${fault.target}`
          : `${fault.kind} ${fault.target}`;
  return `${fault.atS.toFixed(1)}s +${fault.durationS.toFixed(1)}s ${what}`;
}

export function parseKinds(text: string): FaultKind[] {
  return text.split(",").map((word) => {
    const kind = FAULT_KINDS.find((candidate) => candidate === word.trim());
    if (kind === undefined)
      throw new Error(`unknown fault kind '${word}' (${FAULT_KINDS.join(", ")})`);
    return kind;
  });
}
