/**
 * Who is at the other end of a connection, as the hello handshake established it. Servers
 * decide what a request may do from this alone (access.ts); handlers of user ops also compare
 * the body's uid with the principal's. Pure data: no keys, no sockets.
 */

import { assertNever } from "./assert.ts";

export type Principal =
  | { readonly kind: "node"; readonly node: string }
  | {
      readonly kind: "user";
      readonly uid: string;
      readonly admin: boolean;
      readonly sessionId: string;
    }
  | { readonly kind: "anonymous" };

export type NodePrincipal = Extract<Principal, { kind: "node" }>;
export type UserPrincipal = Extract<Principal, { kind: "user" }>;

export const ANONYMOUS: Principal = { kind: "anonymous" };

/** One line for logs and error messages; never includes a secret. */
export function describePrincipal(principal: Principal): string {
  switch (principal.kind) {
    case "node":
      return `node ${principal.node}`;
    case "user":
      return `user ${principal.uid}${principal.admin ? " (admin)" : ""}`;
    case "anonymous":
      return "an anonymous caller";
    default:
      return assertNever(principal, "principal kind");
  }
}
