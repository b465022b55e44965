/**
 * The cluster keyring that authenticates gossip datagrams: an HMAC-SHA256 tag, truncated to
 * GOSSIP_TAG_BYTES, appended to every datagram. The first key signs; every key verifies, so an
 * operator rotates keys without downtime as with Serf's keyring (add the new key everywhere,
 * make it first everywhere, then drop the old one). An empty keyring is open dev mode: nothing
 * is signed or checked. Owns parsing and the tag; knows nothing of sockets or SWIM.
 */

import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Tag length: 128 bits of HMAC-SHA256, as IPsec's HMAC-SHA-256-128 (RFC 4868) uses; a forger
 * must guess 2^128 values, and 16 bytes leave the core's 64-byte reserve mostly unused.
 */
export const GOSSIP_TAG_BYTES = 16;
/** Keys shorter than this are guessable; 16 bytes matches Serf's smallest AES key. */
export const GOSSIP_KEY_BYTES_MIN = 16;
/** Longer than the HMAC block (64 bytes) only gets hashed down; refuse to hide that. */
export const GOSSIP_KEY_BYTES_MAX = 64;
/** Each key verified costs one HMAC per datagram; rotation needs two, a few more is plenty. */
export const GOSSIP_KEYS_MAX = 8;

export class KeyringError extends Error {
  override readonly name = "KeyringError";
  readonly code = "BAD_CLUSTER_KEY";
}

export class Keyring {
  private readonly keys: readonly Uint8Array[];

  private constructor(keys: readonly Uint8Array[]) {
    this.keys = keys;
  }

  /** Open dev mode: no signing, no checking. */
  static open(): Keyring {
    return new Keyring([]);
  }

  static of(keys: readonly Uint8Array[]): Keyring {
    if (keys.length > GOSSIP_KEYS_MAX) {
      throw new KeyringError(`at most ${GOSSIP_KEYS_MAX} cluster keys, got ${keys.length}`);
    }
    for (const key of keys) {
      if (key.length < GOSSIP_KEY_BYTES_MIN || key.length > GOSSIP_KEY_BYTES_MAX) {
        throw new KeyringError(
          `a cluster key must be ${GOSSIP_KEY_BYTES_MIN}..${GOSSIP_KEY_BYTES_MAX} bytes, ` +
            `got ${key.length}`,
        );
      }
    }
    return new Keyring(keys.map((key) => Uint8Array.from(key)));
  }

  /** Parses `--cluster-key`: base64 keys, comma-separated, first signs; "" is open mode. */
  static parse(text: string): Keyring {
    const parts = text
      .split(",")
      .map((part) => part.trim())
      .filter((part) => part !== "");
    const keys = parts.map((part, index) => {
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(part)) {
        throw new KeyringError(`cluster key ${index + 1} is not base64`);
      }
      return Uint8Array.from(Buffer.from(part, "base64"));
    });
    return Keyring.of(keys);
  }

  get isOpen(): boolean {
    return this.keys.length === 0;
  }

  get size(): number {
    return this.keys.length;
  }

  /** Bytes the keyring adds to each datagram. */
  get overheadBytes(): number {
    return this.isOpen ? 0 : GOSSIP_TAG_BYTES;
  }

  /** `payload` with the first key's tag appended (or `payload` itself in open mode). */
  seal(payload: Uint8Array): Uint8Array {
    const key = this.keys[0];
    if (key === undefined) return payload;
    const sealed = new Uint8Array(payload.length + GOSSIP_TAG_BYTES);
    sealed.set(payload, 0);
    sealed.set(tagOf(key, payload), payload.length);
    return sealed;
  }

  /** The payload of a datagram whose tag some key verifies; null when none does. */
  open(datagram: Uint8Array): Uint8Array | null {
    if (this.isOpen) return datagram;
    if (datagram.length < GOSSIP_TAG_BYTES) return null;
    const payload = datagram.subarray(0, datagram.length - GOSSIP_TAG_BYTES);
    const tag = datagram.subarray(datagram.length - GOSSIP_TAG_BYTES);
    for (const key of this.keys) {
      if (timingSafeEqual(tagOf(key, payload), tag)) return payload;
    }
    return null;
  }
}

function tagOf(key: Uint8Array, payload: Uint8Array): Uint8Array {
  return createHmac("sha256", key).update(payload).digest().subarray(0, GOSSIP_TAG_BYTES);
}
