/**
 * `ftfs status` as text: the health verdict first, then every member and every storage group.
 * Honest about roles: a dead or departed node is never shown as primary (gossip keeps its last
 * word, which may still say "primary"); a storage node's role is what its group's
 * configuration says (primary, in sync, catching up), a directory's is primary only for the
 * highest term among live nodes claiming it. Space is shown per node (used, free of what it
 * offers) and per group (the most any in-sync replica holds, the least any has free: what the
 * group can still take). Pure.
 */

import { assertNever, formatBytes, type GroupView, type MemberView } from "@ftfs/protocol/core";
import { healthVerdict, type CatchUpProgress, type ClusterStatus } from "@ftfs/client/core";
import { compareText, formatTable, type Column } from "./format.ts";
import { formatEta } from "./progress-text.ts";

const GONE_STATES: ReadonlySet<MemberView["state"]> = new Set(["dead", "left"]);
const PERCENT = 100;

/** `catchUps`: learners' progress with their rates (from watching), for a time left. */
export function formatStatus(
  status: ClusterStatus,
  catchUps: readonly CatchUpProgress[] = [],
): string {
  const secondsLeft = new Map(
    catchUps.flatMap((c) => (c.etaS === null ? [] : [[`${c.group}/${c.node}`, c.etaS] as const])),
  );
  const verdict = healthVerdict(status, secondsLeft);
  const why = verdict.reasons.length === 0 ? "" : `: ${verdict.reasons.join("; ")}`;
  const unreachable =
    status.unreachable.length === 0 ? [] : ["", `no answer from ${status.unreachable.join(", ")}`];
  return [
    `${verdict.level}${why} (answered by ${status.node})`,
    "",
    memberTable(status),
    ...unreachable,
    "",
    status.groups.length === 0 ? "no storage groups" : groupTable(status, catchUps),
  ].join("\n");
}

function memberTable(status: ClusterStatus): string {
  const columns: Column[] = [
    { title: "node", align: "left" },
    { title: "role", align: "left" },
    { title: "group", align: "left" },
    { title: "address", align: "left" },
    { title: "state", align: "left" },
    { title: "incarnation", align: "right" },
    { title: "primary/backup", align: "left" },
    { title: "epoch", align: "right" },
    { title: "used", align: "right" },
    { title: "free", align: "right" },
  ];
  const members = [...status.members].sort((a, b) => compareMembers(a, b));
  const rows = members.map((member) => [
    member.node,
    member.role,
    memberGroup(member),
    member.address,
    member.state,
    String(member.incarnation),
    memberRole(member, status),
    String(member.epoch),
    ...space(member),
  ]);
  return formatTable(columns, rows);
}

/**
 * primary, backup, learner (a storage node catching up), or "-" for a node that is gone or a
 * spare not in any group: never the last claim of a node that can no longer act on it.
 */
export function memberRole(member: MemberView, status: ClusterStatus): string {
  if (GONE_STATES.has(member.state)) return "-";
  switch (member.role) {
    case "storage":
      return storageRole(member, status.groups);
    case "directory":
      return isLeadingDirectory(member, status.members) ? "primary" : "backup";
    default:
      return assertNever(member.role);
  }
}

function storageRole(member: MemberView, groups: readonly GroupView[]): string {
  const group = groups.find((view) => view.group === member.group);
  if (group === undefined) return "-";
  if (group.primaryNode === member.node) return "primary";
  if ((group.learners ?? []).some((learner) => learner.node === member.node)) return "learner";
  return group.replicas.some((replica) => replica.node === member.node) ? "backup" : "-";
}

/** Of the live directories claiming to lead, the one with the highest term (ties: all). */
function isLeadingDirectory(member: MemberView, members: readonly MemberView[]): boolean {
  if (!member.primary) return false;
  const claims = members.filter(
    (other) => other.role === "directory" && other.primary && !GONE_STATES.has(other.state),
  );
  return claims.every((other) => other.epoch <= member.epoch);
}

/** Used and free of what a storage node offers; a directory holds no file bytes. */
function space(member: MemberView): [string, string] {
  if (member.role === "directory" || member.capacityBytes === 0) return ["-", "-"];
  const free = Math.max(0, member.capacityBytes - member.usedBytes);
  return [formatBytes(member.usedBytes), formatBytes(free)];
}

function groupTable(status: ClusterStatus, catchUps: readonly CatchUpProgress[]): string {
  const columns: Column[] = [
    { title: "group", align: "left" },
    { title: "epoch", align: "right" },
    { title: "primary", align: "left" },
    { title: "in-sync replicas", align: "left" },
    { title: "catching up", align: "left" },
    { title: "used", align: "right" },
    { title: "free", align: "right" },
  ];
  const members = new Map(status.members.map((member) => [member.node, member]));
  const rows = [...status.groups]
    .sort((a, b) => compareText(a.group, b.group))
    .map((group) => [
      group.group,
      String(group.epoch),
      primaryLabel(group),
      group.replicas.map((replica) => replica.node).join(",") || "-",
      catchingUp(group, members, catchUps),
      ...groupSpace(group, members),
    ]);
  return formatTable(columns, rows);
}

/** Each learner with how much of its primary's bytes it holds, and when known the time left. */
function catchingUp(
  group: GroupView,
  members: ReadonlyMap<string, MemberView>,
  catchUps: readonly CatchUpProgress[],
): string {
  const target = group.primaryNode === null ? undefined : members.get(group.primaryNode);
  const learners = (group.learners ?? []).map((learner) => {
    const held = members.get(learner.node)?.usedBytes ?? 0;
    if (target === undefined || target.usedBytes === 0) return learner.node;
    const share = Math.min(PERCENT, Math.floor((held * PERCENT) / target.usedBytes));
    const measured = catchUps.find((c) => c.group === group.group && c.node === learner.node);
    const eta =
      measured?.etaS === null || measured === undefined ? "" : ` ETA ${formatEta(measured.etaS)}`;
    return `${learner.node} ${share}%${eta}`;
  });
  return learners.join(",") || "-";
}

/** The most any in-sync replica holds; the least any has free (what the group can take). */
function groupSpace(group: GroupView, members: ReadonlyMap<string, MemberView>): [string, string] {
  const inSync = group.replicas
    .map((replica) => members.get(replica.node))
    .filter((member): member is MemberView => member !== undefined && member.capacityBytes > 0);
  if (inSync.length === 0) return ["-", "-"];
  const used = Math.max(...inSync.map((member) => member.usedBytes));
  const free = Math.min(
    ...inSync.map((member) => Math.max(0, member.capacityBytes - member.usedBytes)),
  );
  return [formatBytes(used), formatBytes(free)];
}

/** A storage node with no group is a spare the directory has not assigned yet. */
function memberGroup(member: MemberView): string {
  if (member.group !== null) return member.group;
  return member.role === "storage" ? "spare" : "-";
}

function primaryLabel(group: GroupView): string {
  // Every in-sync node came back on an empty disk: say so, not just "no primary".
  if (group.dataLost === true) return "(none: data lost, every in-sync disk was replaced)";
  if (group.primary === null) return "(none)";
  return group.primaryNode === null ? group.primary : `${group.primaryNode} ${group.primary}`;
}

function compareMembers(a: MemberView, b: MemberView): number {
  const rank = (member: MemberView): number => {
    switch (member.role) {
      case "directory":
        return 0;
      case "storage":
        return member.group === null ? 2 : 1; // spares after the groups
      default:
        return assertNever(member.role);
    }
  };
  return (
    rank(a) - rank(b) || compareText(a.group ?? "", b.group ?? "") || compareText(a.node, b.node)
  );
}
