/**
 * The directory's metadata records: users, file versions (live ones and tombstones), storage
 * group configurations, outbox notices and the persistent term. Plain immutable values; the
 * rules that change them live in state-machine.ts, the places that keep them in the stores.
 */

import type { ChunkRef, GroupView, RequestBody } from "@ftfs/protocol/core";

export interface UserRecord {
  readonly uid: string;
  readonly createdAtMs: number;
}

/** A committed upload: the name's content as of `version`. */
export interface LiveVersion {
  readonly kind: "live";
  readonly uid: string;
  readonly name: string;
  readonly version: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly createdAtMs: number;
  readonly uploadId: string;
  readonly chunks: readonly ChunkRef[];
}

/**
 * A deletion. It takes a version number of its own, so an upload after `rm` continues the
 * numbering instead of reusing numbers readers may have seen.
 */
export interface Tombstone {
  readonly kind: "tombstone";
  readonly uid: string;
  readonly name: string;
  readonly version: number;
  readonly createdAtMs: number;
  readonly requestId: string;
  /** The live version this deletion removed (what the user is told was deleted). */
  readonly deletedVersion: number;
}

export type VersionRecord = LiveVersion | Tombstone;

/** A storage group's configuration as the directory records it (PacificA's configuration). */
export type GroupConfig = GroupView;

/** What the directory must tell a storage group after a commit, a delete or a move. */
export type Notice =
  | { readonly op: "commitRefs"; readonly body: Omit<RequestBody<"commitRefs">, "forwarded"> }
  | { readonly op: "dropRefs"; readonly body: Omit<RequestBody<"dropRefs">, "forwarded"> }
  | {
      readonly op: "dropUploadRefs";
      readonly body: Omit<RequestBody<"dropUploadRefs">, "forwarded">;
    };

/**
 * An outbox row. (index, seq) orders notices: the log index of the command that wrote it and
 * its place among that command's notices; per group they are delivered in this order.
 */
export interface OutboxNotice {
  readonly index: number;
  readonly seq: number;
  readonly group: string;
  readonly notice: Notice;
}
