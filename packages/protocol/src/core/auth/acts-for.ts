/**
 * Authorization of user ops: who may act for a uid. A logged-in user acts for itself only; a
 * node acts for any user (it forwards users' requests: replicated puts, the rebalancer's
 * copies). Without a cluster key nothing is proven, so the uid a request names is believed,
 * as before authentication existed (insecure mode).
 */

import { fail, ok, type Result } from "../errors.ts";
import { describePrincipal, type Principal } from "../principal.ts";

export function checkActsFor(
  principal: Principal,
  authenticated: boolean,
  uid: string,
): Result<void> {
  if (!authenticated) return ok(undefined);
  if (principal.kind === "node") return ok(undefined);
  if (principal.kind === "user" && principal.uid === uid) return ok(undefined);
  const who = principal.kind === "user" ? `user ${principal.uid}` : describePrincipal(principal);
  return fail("FORBIDDEN", `${who} may not act for ${uid}`);
}
