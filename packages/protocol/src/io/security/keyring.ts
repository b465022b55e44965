/**
 * The cluster keyring that authenticates gossip datagrams: an HMAC-SHA256 tag, truncated to
 * GOSSIP_TAG_BYTES, appended to every datagram. The first key signs; every key verifies, so an
 * operator rotates keys without downtime as with Serf's keyring (add the new key everywhere,
 * make it first everywhere, then drop the old one). An empty keyring is open dev mode: nothing
 * is signed or checked. Owns parsing and the tag; knows nothing of sockets or SWIM.
 *
 * The same keys serve TCP channels, sessions, placement tickets and receipts, but never raw:
 * each purpose gets its own sub-key, HMAC(key, "ftfs/<purpose>/v1"), so a MAC made for one
 * purpose can never pass as another's. Each key has an id (KEY_ID_BYTES of its SHA-256, hex)
 * that signed things carry, so a verifier picks the right key during a rotation.
 */

import { createHash, createHmac, timingSafeEqual } from "node:crypto";

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

/** Bytes of SHA-256(key) that name a key: enough to tell a keyring's few keys apart. */
export const KEY_ID_BYTES = 4;

/** What a sub-key is for; each purpose's MACs are useless for every other. */
export type KeyPurpose = "channel" | "session" | "ticket" | "receipt" | "access-key";

/** One derived key and the id of the cluster key it came from. */
export interface SubKey {
  readonly keyId: string;
  readonly key: Uint8Array;
}

/** A purpose's sub-keys: the first signs, any verifies (found by the id a MAC names). */
export interface SubKeys {
  readonly signing: SubKey | null;
  readonly lookup: (keyId: string) => Uint8Array | undefined;
}

export function keyIdOf(key: Uint8Array): string {
  return createHash("sha256").update(key).digest().subarray(0, KEY_ID_BYTES).toString("hex");
}

/** HMAC-SHA256(key, "ftfs/<purpose>/v1"). */
export function deriveSubKey(key: Uint8Array, purpose: KeyPurpose): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(`ftfs/${purpose}/v1`).digest());
}

export class KeyringError extends Error {
  override readonly name = "KeyringError";
  readonly code = "BAD_CLUSTER_KEY";
}

export class Keyring {
  private readonly keys: readonly Uint8Array[];
  private readonly derived = new Map<KeyPurpose, SubKeys>();

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

  /** Every key's id, the signing key's first. */
  get keyIds(): string[] {
    return this.keys.map(keyIdOf);
  }

  /** The sub-keys of one purpose, derived once per keyring. */
  subKeys(purpose: KeyPurpose): SubKeys {
    const cached = this.derived.get(purpose);
    if (cached !== undefined) return cached;
    const all = this.keys.map((key) => ({ keyId: keyIdOf(key), key: deriveSubKey(key, purpose) }));
    const byId = new Map(all.map((sub) => [sub.keyId, sub.key]));
    const subKeys: SubKeys = { signing: all[0] ?? null, lookup: (keyId) => byId.get(keyId) };
    this.derived.set(purpose, subKeys);
    return subKeys;
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
