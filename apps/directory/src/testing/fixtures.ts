/**
 * Builders for the directory's tests: commands, chunk refs and group configurations with
 * readable defaults, and a helper that applies commands at consecutive log indexes.
 */

import {
  assert,
  SCRAM_ITERATIONS_MIN,
  type ChunkRef,
  type Result,
  type ScramVerifier,
} from "@ftfs/protocol/core";
import {
  applyCommand,
  EMPTY_SHA256,
  type Command,
  type CommitVersion,
  type GroupConfig,
  type MetadataStore,
  type OutcomeOf,
} from "../core/index.ts";

export const TERM = 1;
export const T0_MS = 1_700_000_000_000;

/** A distinct, valid SHA-256 hex string for each n. */
export function sha(n: number): string {
  return n.toString(16).padStart(64, "0");
}

/** A well-formed SCRAM verifier, distinct for each n (not derived from any secret). */
export function verifier(n: number): ScramVerifier {
  const digest = (tag: string) => `${tag}${String(n).padStart(42, "0")}`;
  return {
    salt: `salt${n}`,
    iterations: SCRAM_ITERATIONS_MIN,
    storedKey: digest("s"),
    serverKey: digest("k"),
  };
}

export function chunk(n: number, bytes: number, group = "s1"): ChunkRef {
  return { id: sha(n), bytes, group };
}

export function groupConfig(
  group: string,
  nodes: readonly string[],
  epoch = 1,
  primaryAt = 0,
): GroupConfig {
  const replicas = nodes.map((node, at) => ({ node, address: `127.0.0.1:${7200 + at}` }));
  const primary = replicas[primaryAt] ?? null;
  return {
    group,
    epoch,
    primary: primary?.address ?? null,
    primaryNode: primary?.node ?? null,
    replicas,
  };
}

export function commit(
  uid: string,
  name: string,
  uploadId: string,
  chunks: readonly ChunkRef[],
  atMs = T0_MS,
): CommitVersion {
  const bytes = chunks.reduce((sum, part) => sum + part.bytes, 0);
  const sha256 = bytes === 0 ? EMPTY_SHA256 : sha(chunks.length * 1000 + bytes);
  return { type: "commitVersion", uid, name, uploadId, bytes, sha256, chunks, atMs };
}

/** Apply at the next log index. */
export function apply<C extends Command>(store: MetadataStore, command: C): Result<OutcomeOf<C>> {
  return applyCommand(store, store.lastApplied() + 1, command);
}

/** Apply and insist it succeeded; answers the outcome. */
export function applyOk<C extends Command>(store: MetadataStore, command: C): OutcomeOf<C> {
  const result = apply(store, command);
  assert(result.ok, `${command.type} failed: ${result.ok ? "" : result.error.message}`);
  return result.value;
}

/** A user alice and a group s1 (and s2), the usual starting point. */
export function seedBasics(store: MetadataStore): void {
  applyOk(store, { type: "createUser", uid: "alice", atMs: T0_MS });
  applyOk(store, {
    type: "setGroupConfig",
    config: groupConfig("s1", ["s1a", "s1b", "s1c"]),
    atMs: T0_MS,
  });
  applyOk(store, {
    type: "setGroupConfig",
    config: groupConfig("s2", ["s2a", "s2b"]),
    atMs: T0_MS,
  });
}
