/**
 * Draining a storage node (`ftfs admin storage drain <node>`), pure: the operator's request is
 * a change of its group's configuration (the node joins the `draining` list, the epoch bumps),
 * recorded through the log like every other configuration, so it survives a directory
 * failover. What follows is the group rules' (core/group-rules.ts): the node stops being
 * primary, the group gets a spare at once, and the node leaves only once the group holds its
 * replication factor of in-sync copies without it. A cancel takes the node off the list: a
 * node still in sync stays; a drained one comes back as a learner and catches up.
 */

import { fail, ok, type Result } from "@ftfs/protocol/core";
import type { GroupConfig } from "./model.ts";

/** A group names at most this many draining and drained nodes (the wire's members bound). */
export const DRAINING_NODES_PER_GROUP_MAX = 1024;

function listed(config: GroupConfig, node: string): boolean {
  return (
    config.replicas.some((member) => member.node === node) ||
    (config.learners ?? []).some((member) => member.node === node)
  );
}

/** The group whose configuration lists the node, or names it as draining. */
export function groupOfDrain(configs: readonly GroupConfig[], node: string): GroupConfig | null {
  return (
    configs.find((config) => listed(config, node)) ??
    configs.find((config) => (config.draining ?? []).includes(node)) ??
    null
  );
}

/** The configuration after the operator's drain (or its cancel) of `node`. */
export function drainChange(
  configs: readonly GroupConfig[],
  node: string,
  cancel: boolean,
): Result<GroupConfig> {
  const config = groupOfDrain(configs, node);
  if (config === null) {
    return fail(
      "NOT_FOUND",
      `storage node ${node} is in no storage group (a spare no group uses holds nothing: ` +
        "stop it)",
    );
  }
  const draining = config.draining ?? [];
  if (cancel) {
    if (!draining.includes(node)) {
      return fail("NOT_FOUND", `storage node ${node} of group ${config.group} is not draining`);
    }
    const rest = draining.filter((each) => each !== node);
    const { draining: _was, ...others } = config;
    return ok({
      ...others,
      ...(rest.length === 0 ? {} : { draining: rest }),
      epoch: config.epoch + 1,
    });
  }
  if (draining.includes(node)) return ok(config);
  if (draining.length >= DRAINING_NODES_PER_GROUP_MAX) {
    return fail(
      "BAD_REQUEST",
      `group ${config.group} already names ${DRAINING_NODES_PER_GROUP_MAX} drained nodes; ` +
        "cancel the drain of one that is gone for good first",
    );
  }
  return ok({ ...config, draining: [...draining, node].sort(), epoch: config.epoch + 1 });
}
