/**
 * Fuzzing the keyring that guards gossip: every UDP datagram from anyone meets Keyring.open.
 * Properties: a sealed datagram opens under any keyring holding its key (rotation) and under
 * no other; any change to it, or a datagram made without a key, is refused; `--cluster-key`
 * text parses or fails with a KeyringError, never another throw.
 */

import { expect } from "bun:test";
import fc from "fast-check";
import { fuzzTest } from "../../testing/fuzz.ts";
import { byteMutation, lengthEdges, mutateBytes } from "../../testing/fuzz-values.ts";
import { GOSSIP_KEYS_MAX, Keyring } from "./keyring.ts";

const key = fc.uint8Array({ minLength: 16, maxLength: 64 });

fuzzTest(
  "keyring: sealed datagrams open only under their key; changed or forged ones never",
  3_000,
  () =>
    fc.property(
      key,
      key,
      fc.uint8Array({ maxLength: 300 }),
      fc.array(byteMutation(lengthEdges(400)), { minLength: 1, maxLength: 3 }),
      (signing, other, payload, changes) => {
        fc.pre(!Buffer.from(signing).equals(Buffer.from(other)));
        const sealed = Keyring.of([signing]).seal(payload);
        const rotated = Keyring.of([other, signing]);
        expect(Array.from(rotated.open(sealed) ?? [])).toEqual(Array.from(payload));
        expect(Keyring.of([other]).open(sealed)).toBeNull();
        const changed = mutateBytes(sealed, changes);
        const opened = rotated.open(changed);
        if (!Buffer.from(changed).equals(Buffer.from(sealed))) expect(opened).toBeNull();
        // A datagram made without any key: its last 16 bytes are not a tag of ours.
        expect(rotated.open(payload)).toBeNull();
      },
    ),
);

fuzzTest("keyring: --cluster-key text parses or throws a KeyringError, nothing else", 5_000, () =>
  fc.property(
    fc.oneof(
      fc.string({ unit: "binary", maxLength: 120 }),
      fc
        .array(
          key.map((bytes) => Buffer.from(bytes).toString("base64")),
          { maxLength: 10 },
        )
        .map((keys) => keys.join(",")),
      fc
        .array(fc.base64String({ maxLength: 100 }), { maxLength: 4 })
        .map((keys) => keys.join(" , ")),
    ),
    (text) => {
      try {
        const ring = Keyring.parse(text);
        expect(ring.size).toBeLessThanOrEqual(GOSSIP_KEYS_MAX);
      } catch (error) {
        expect((error as Error).name).toBe("KeyringError");
      }
    },
  ),
);
