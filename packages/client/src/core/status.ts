/**
 * `ftfs status` from several directory nodes' answers: the primary's view first, completed by
 * what the other configured directory addresses say about themselves (a node the primary
 * does not list yet, such as a directory it has not heard from), and the addresses that did
 * not answer. Pure; the asking is io/client.ts's.
 */

import type { GroupView, MemberView } from "@ftfs/protocol/core";

export interface StatusAnswer {
  readonly node: string;
  readonly members: readonly MemberView[];
  readonly groups: readonly GroupView[];
}

export interface ClusterStatus extends StatusAnswer {
  /** Configured directory addresses that did not answer. */
  readonly unreachable: readonly string[];
}

export function mergeStatus(
  primary: StatusAnswer,
  others: ReadonlyArray<{ readonly address: string; readonly view: StatusAnswer | null }>,
): ClusterStatus {
  const members = [...primary.members];
  const known = new Set(members.map((member) => member.node));
  const unreachable: string[] = [];
  for (const { address, view } of others) {
    if (view === null) {
      unreachable.push(address);
      continue;
    }
    // Only what the primary lacks: on anything both know, the primary's word is the current one.
    for (const member of view.members) {
      if (known.has(member.node)) continue;
      known.add(member.node);
      members.push(member);
    }
  }
  return { node: primary.node, members, groups: primary.groups, unreachable };
}
