/**
 * The scrubber's and the repairer's decisions, pure: what a scrubbed chunk costs against the
 * rate bound, whether damage found is worth a repair, and which replicas to fetch a good copy
 * from. The io side (io/scrubber.ts, io/repairer.ts) reads, hashes, fetches and sleeps.
 */

import { assertNever, type GroupView } from "@ftfs/protocol/core";
import { SCRUB_CHUNK_COST_BYTES_MIN } from "./limits.ts";
import type { Replica } from "./request-rules.ts";

/** Bytes charged against the scrub rate for a chunk of `bytes` (small files cost a minimum). */
export function scrubCostBytes(bytes: number): number {
  return Math.max(bytes, SCRUB_CHUNK_COST_BYTES_MIN);
}

/**
 * How a chunk was found damaged on this node:
 * - rot: its bytes no longer hash to its id (quarantined);
 * - missing: it was stored here and its file is gone;
 * - absent: a read asked for it and it is not here, which is damage only if a reference says
 *   this node stored it (a client may ask a replica that never had it).
 */
export type DamageKind = "rot" | "missing" | "absent";

export function repairWanted(kind: DamageKind, references: number): boolean {
  switch (kind) {
    case "rot":
    case "missing":
      return true;
    case "absent":
      return references > 0;
    default:
      return assertNever(kind, "damage kind");
  }
}

/**
 * Replicas to fetch a good copy from, in the order to try: the primary first (it took the
 * write, so it holds every acknowledged chunk), then the other replicas as the view lists them.
 * Never this node itself.
 */
export function repairSources(view: GroupView | null, self: string): Replica[] {
  if (view === null) return [];
  const others = view.replicas.filter((replica) => replica.node !== self);
  const primary = others.filter((replica) => replica.node === view.primaryNode);
  const backups = others.filter((replica) => replica.node !== view.primaryNode);
  return [...primary, ...backups];
}
