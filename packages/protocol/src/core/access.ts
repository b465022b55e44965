/**
 * Who may call each op, checked by the RPC server before any handler runs (FORBIDDEN
 * otherwise). Handlers of "user" ops still compare the body's uid with a user principal's:
 * this table says which kinds of caller may ask at all, not for whose data.
 *
 *   anyone  every connection, even anonymous: only what it takes to log in
 *   user    a logged-in user, or a node (nodes act for users: forwarded puts, the rebalancer)
 *   node    another node of the cluster (holds the cluster key)
 *   admin   a node, or a user with the admin role
 *
 * Enforced only on a node with a cluster key: without one nothing is authenticated, so a
 * claimed principal proves nothing and the table would only get in the way (insecure mode).
 */

import { assertNever } from "./assert.ts";
import type { Op } from "./messages.ts";
import type { Principal } from "./principal.ts";

export type Access = "anyone" | "user" | "node" | "admin";

export const OP_ACCESS: Readonly<Record<Op, Access>> = {
  hello: "anyone",
  connect: "user",
  placeUpload: "user",
  commitUpload: "user",
  getManifest: "user",
  listFiles: "user",
  deleteFile: "user",
  clusterStatus: "admin",
  registerStorage: "node",
  // A chunk id is a SHA-256 of the bytes: knowing it is the capability to read them, as with
  // any content-addressed store. Users learn ids only from manifests of their own files.
  putChunk: "user",
  getChunk: "user",
  hasChunks: "node",
  commitRefs: "node",
  dropRefs: "node",
  listOwned: "user",
  syncRefs: "node",
  raft: "node",
  raftSnapshotPart: "node",
  dropUploadRefs: "node",
  confirmGarbage: "node",
  rebalance: "admin",
  directoryMembers: "admin",
  directoryChange: "admin",
  storageDrain: "admin",
  directoryIdentity: "node",
  loginStart: "anyone",
  loginFinish: "anyone",
  userAdd: "admin",
  userRemove: "admin",
  userList: "admin",
  // The handlers hold a user to its own uid; an admin may manage anyone's keys.
  keyCreate: "user",
  keyRemove: "user",
  keyList: "user",
  keyResolve: "node",
  bucketCreate: "user",
  bucketDelete: "user",
  bucketList: "user",
  listObjects: "user",
  listObjectVersions: "user",
  bucketVersioning: "user",
  deleteVersion: "user",
  copyObject: "user",
  multipartCreate: "user",
  multipartAbort: "user",
  multipartComplete: "user",
  multipartParts: "user",
  multipartList: "user",
  listGroups: "user",
  // The handler holds a user to its own uploads.
  uploadHeld: "user",
};

/** Whether `principal` may call an op of this access. */
export function mayCall(principal: Principal, access: Access): boolean {
  switch (access) {
    case "anyone":
      return true;
    case "user":
      return principal.kind === "user" || principal.kind === "node";
    case "node":
      return principal.kind === "node";
    case "admin":
      return principal.kind === "node" || (principal.kind === "user" && principal.admin);
    default:
      return assertNever(access, "op access");
  }
}
