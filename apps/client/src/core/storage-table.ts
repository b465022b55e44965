/**
 * `ftfs admin storage ls` and `ftfs admin storage drain --wait` as text: every storage node
 * with its group, its part in it (primary, in sync, catching up, draining, drained, spare),
 * gossip's state, the bytes it holds and has free, and the progress of what it is doing: a
 * node catching up holds some share of its primary's bytes (with the time left once a rate is
 * measured); a draining node waits for a spare, or for the node copying its group's data in
 * its place; a drained node is out of its group and safe to stop. Pure.
 */

import { formatBytes, type GroupView, type MemberView } from "@ftfs/protocol/core";
import type { CatchUpProgress, ClusterStatus } from "@ftfs/client/core";
import { compareText, formatTable, type Column } from "./format.ts";
import { formatEta } from "./progress-text.ts";

const PERCENT = 100;

/** Where a draining node is. */
export type DrainProgress =
  /** No spare has been given to its group yet: it stays in sync, serving. */
  | { readonly kind: "waitingForSpare"; readonly group: string }
  /** `to` copies the group's data to take its place. */
  | {
      readonly kind: "copying";
      readonly group: string;
      readonly to: string;
      /** Of the primary's bytes, the share `to` holds (null: the primary holds none yet). */
      readonly percent: number | null;
      readonly etaS: number | null;
    }
  /** Out of its group, which holds its factor of copies without it: safe to stop. */
  | { readonly kind: "drained"; readonly group: string };

function lists(group: GroupView, node: string): boolean {
  return (
    group.replicas.some((replica) => replica.node === node) ||
    (group.learners ?? []).some((learner) => learner.node === node)
  );
}

/** The group that lists the node, else the one naming it as drained, else the one it names. */
function groupOf(status: ClusterStatus, member: MemberView): GroupView | undefined {
  return (
    status.groups.find((group) => lists(group, member.node)) ??
    status.groups.find((group) => (group.draining ?? []).includes(member.node)) ??
    status.groups.find((group) => group.group === member.group)
  );
}

/** Of its primary's bytes, the share a learner holds; null when the primary holds none. */
function shareOfPrimary(status: ClusterStatus, group: GroupView, node: string): number | null {
  const held = (name: string | null): number =>
    status.members.find((member) => member.node === name)?.usedBytes ?? 0;
  const target = held(group.primaryNode);
  if (target === 0) return null;
  return Math.min(PERCENT, Math.floor((held(node) * PERCENT) / target));
}

function etaOf(catchUps: readonly CatchUpProgress[], group: string, node: string): number | null {
  return catchUps.find((each) => each.group === group && each.node === node)?.etaS ?? null;
}

/** Where `node`'s drain is, or null when it is not draining. */
export function drainProgress(
  status: ClusterStatus,
  node: string,
  catchUps: readonly CatchUpProgress[] = [],
): DrainProgress | null {
  const group = status.groups.find((each) => (each.draining ?? []).includes(node));
  if (group === undefined) return null;
  if (!lists(group, node)) return { kind: "drained", group: group.group };
  const alive = new Set(
    status.members.filter((member) => member.state === "alive").map((member) => member.node),
  );
  const learner = (group.learners ?? []).find((each) => alive.has(each.node));
  if (learner === undefined) return { kind: "waitingForSpare", group: group.group };
  return {
    kind: "copying",
    group: group.group,
    to: learner.node,
    percent: shareOfPrimary(status, group, learner.node),
    etaS: etaOf(catchUps, group.group, learner.node),
  };
}

/** One line for a drain's progress, as `ls` and `drain --wait` say it. */
export function describeDrain(progress: DrainProgress): string {
  switch (progress.kind) {
    case "waitingForSpare":
      return "waiting for a spare";
    case "copying": {
      const percent = progress.percent === null ? "" : ` ${progress.percent}%`;
      const eta = progress.etaS === null ? "" : ` ETA ${formatEta(progress.etaS)}`;
      return `${progress.to} copying${percent}${eta}`;
    }
    case "drained":
      return "safe to stop";
  }
}

function roleAndProgress(
  status: ClusterStatus,
  member: MemberView,
  catchUps: readonly CatchUpProgress[],
): [string, string] {
  const drain = drainProgress(status, member.node, catchUps);
  if (drain !== null)
    return [drain.kind === "drained" ? "drained" : "draining", describeDrain(drain)];
  const group = groupOf(status, member);
  if (group === undefined) return ["spare", "-"];
  if (group.primaryNode === member.node) return ["primary", "-"];
  if (group.replicas.some((replica) => replica.node === member.node)) return ["in sync", "-"];
  if (!(group.learners ?? []).some((learner) => learner.node === member.node)) {
    return ["out of the group", "-"];
  }
  const percent = shareOfPrimary(status, group, member.node);
  const eta = etaOf(catchUps, group.group, member.node);
  const progress = `${percent === null ? "-" : `${percent}%`}${eta === null ? "" : ` ETA ${formatEta(eta)}`}`;
  return ["catching up", progress];
}

/** `catchUps`: learners' progress with their rates (from two answers), for a time left. */
export function formatStorageNodes(
  status: ClusterStatus,
  catchUps: readonly CatchUpProgress[] = [],
): string {
  const columns: Column[] = [
    { title: "node", align: "left" },
    { title: "group", align: "left" },
    { title: "role", align: "left" },
    { title: "state", align: "left" },
    { title: "used", align: "right" },
    { title: "free", align: "right" },
    { title: "progress", align: "left" },
  ];
  const storage = status.members
    .filter((member) => member.role === "storage")
    .sort((a, b) => compareText(a.node, b.node));
  if (storage.length === 0) return "no storage nodes";
  const rows = storage.map((member) => {
    const [role, progress] = roleAndProgress(status, member, catchUps);
    return [
      member.node,
      groupOf(status, member)?.group ?? "-",
      role,
      member.state,
      formatBytes(member.usedBytes),
      formatBytes(Math.max(0, member.capacityBytes - member.usedBytes)),
      progress,
    ];
  });
  return formatTable(columns, rows);
}
