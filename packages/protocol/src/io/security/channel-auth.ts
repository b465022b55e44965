/**
 * Authentication of one TCP connection: the `hello` handshake's key agreement and the per-frame
 * tags that follow it. Both ends derive
 *
 *   connKey = HMAC(baseKey, "ftfs/conn/v1" | clientNonce | serverNonce | claim)
 *
 * where baseKey is the cluster key's "channel" sub-key (a node) or the user's session key,
 * then tag every frame with HMAC(connKey, direction | sequence | frame) cut to FRAME_TAG_BYTES.
 * Fresh nonces make a frame captured on one connection useless on any other; the sequence
 * numbers make it useless when replayed, dropped or reordered on its own. Owns the math and the
 * counters; knows nothing of sockets (frame-channel.ts) or of what a principal may do.
 */

import { timingSafeEqual } from "node:crypto";
import {
  assertNever,
  FRAME_TAG_BYTES,
  type Frame,
  type Op,
  type RequestBody,
} from "../../core/index.ts";
import type { Keyring } from "./keyring.ts";

/** Nonces of each side: 256 random bits, so a connection key never repeats. */
export const HELLO_NONCE_BYTES = 32;
/**
 * A frame header with `hashChecked: true` carries a content-addressed payload (a chunk whose
 * id is its SHA-256, checked by the receiver): its tag covers the header, which names the
 * chunk id and the payload's length, but not the payload. Forging such bytes means finding a
 * SHA-256 preimage, so the receiver's hash check gives what a MAC over them would, for free.
 */
export const HASH_CHECKED_FIELD = "hashChecked";
/**
 * The payloads sent that way: a chunk put, whose receiver hashes the bytes against the chunk
 * id the header names, and a chunk read, whose caller does the same. Measured with
 * bench:storage, MACing them as well cost more than 10% of throughput (one more SHA-256 pass
 * over every byte at each end of every hop).
 */
export const HASH_CHECKED_REQUEST_OPS: ReadonlySet<Op> = new Set<Op>(["putChunk"]);
export const HASH_CHECKED_RESPONSE_OPS: ReadonlySet<Op> = new Set<Op>(["getChunk"]);

export const DIRECTION = { clientToServer: 0, serverToClient: 1 } as const;
type Direction = (typeof DIRECTION)[keyof typeof DIRECTION];

const CONN_LABEL = new TextEncoder().encode("ftfs/conn/v1");
const SEQUENCE_BYTES = 8;
const UINT32_RANGE = 2 ** 32;

/** What a client proves itself as. */
export type ClientCredentials =
  | { readonly kind: "node"; readonly node: string; readonly keyring: Keyring }
  | { readonly kind: "user"; readonly token: string; readonly sessionKey: Uint8Array }
  | { readonly kind: "anonymous" };

export const ANONYMOUS_CREDENTIALS: ClientCredentials = { kind: "anonymous" };

export type HelloClaim = RequestBody<"hello">["principal"];

/** The claim a client sends, and the key it will MAC with (null: no MACs). */
export function claimOf(credentials: ClientCredentials): {
  claim: HelloClaim;
  baseKey: Uint8Array | null;
} {
  switch (credentials.kind) {
    case "node": {
      const signing = credentials.keyring.subKeys("channel").signing;
      if (signing === null)
        return { claim: { kind: "node", node: credentials.node }, baseKey: null };
      return {
        claim: { kind: "node", node: credentials.node, keyId: signing.keyId },
        baseKey: signing.key,
      };
    }
    case "user":
      return { claim: { kind: "user", token: credentials.token }, baseKey: credentials.sessionKey };
    case "anonymous":
      return { claim: { kind: "anonymous" }, baseKey: null };
    default:
      return assertNever(credentials, "credentials kind");
  }
}

export function randomNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(HELLO_NONCE_BYTES))).toString("base64");
}

/** The claim as bytes bound into the key: a key made for one claim is useless for another. */
function claimBytes(claim: HelloClaim): Uint8Array {
  const parts = [claim.kind, claim.node ?? "", claim.keyId ?? "", claim.token ?? ""];
  return new TextEncoder().encode(parts.join("\n"));
}

export function connectionKey(
  baseKey: Uint8Array,
  clientNonce: string,
  serverNonce: string,
  claim: HelloClaim,
): Uint8Array {
  const hmac = new Bun.CryptoHasher("sha256", baseKey);
  hmac.update(CONN_LABEL);
  hmac.update(Buffer.from(clientNonce, "base64"));
  hmac.update(Buffer.from(serverNonce, "base64"));
  hmac.update(claimBytes(claim));
  return new Uint8Array(hmac.digest());
}

/**
 * The tags of one connection, from one end: a sequence number per direction, each frame's tag
 * bound to it. The keyed hasher is built once; each frame copies it (no key schedule per frame).
 */
export class ChannelMac {
  private readonly keyed: Bun.CryptoHasher;
  private readonly sendDirection: Direction;
  private readonly receiveDirection: Direction;
  private sentCount = 0;
  private receivedCount = 0;

  constructor(connKey: Uint8Array, role: "client" | "server") {
    this.keyed = new Bun.CryptoHasher("sha256", connKey);
    this.sendDirection = role === "client" ? DIRECTION.clientToServer : DIRECTION.serverToClient;
    this.receiveDirection = role === "client" ? DIRECTION.serverToClient : DIRECTION.clientToServer;
  }

  /** The tag of the next frame this end sends. */
  seal(head: Uint8Array, payload: Uint8Array, coverPayload: boolean): Uint8Array {
    const tag = this.tagOf(this.sendDirection, this.sentCount, head, coverPayload ? payload : null);
    this.sentCount += 1;
    return tag;
  }

  /** Whether `frame` is the next frame the other end sent, unaltered. */
  verify(frame: Frame): boolean {
    const covered = hashChecked(frame.header) ? null : frame.payload;
    const expected = this.tagOf(this.receiveDirection, this.receivedCount, frame.head, covered);
    this.receivedCount += 1;
    return frame.tag.length === FRAME_TAG_BYTES && timingSafeEqual(expected, frame.tag);
  }

  private tagOf(
    direction: Direction,
    sequence: number,
    head: Uint8Array,
    payload: Uint8Array | null,
  ): Uint8Array {
    const prefix = new Uint8Array(1 + SEQUENCE_BYTES);
    const view = new DataView(prefix.buffer);
    view.setUint8(0, direction);
    view.setUint32(1, Math.floor(sequence / UINT32_RANGE));
    view.setUint32(5, sequence % UINT32_RANGE);
    const hmac = this.keyed.copy();
    hmac.update(prefix);
    hmac.update(head);
    if (payload !== null && payload.length > 0) hmac.update(payload);
    return hmac.digest().subarray(0, FRAME_TAG_BYTES);
  }
}

/** Whether a frame header declares its payload content-addressed (see HASH_CHECKED_FIELD). */
export function hashChecked(header: unknown): boolean {
  return (
    typeof header === "object" &&
    header !== null &&
    (header as Record<string, unknown>)[HASH_CHECKED_FIELD] === true
  );
}
