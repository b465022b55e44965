/** Schemas accept exactly their shape, name the failing path, and drop unknown keys. */
import { describe, expect, test } from "bun:test";
import { arr, int, literal, nullable, obj, opt, str, tryDecode } from "./schema.ts";
import { OPS, decodeEnvelope } from "./messages.ts";

const person = obj({
  name: str({ bytesMax: 8, bytesMin: 1 }),
  age: int({ min: 0, max: 150 }),
  kind: literal("a", "b"),
  tags: arr(str({ bytesMax: 3 }), { itemsMax: 2 }),
  nick: opt(str({ bytesMax: 4 })),
  boss: nullable(str({ bytesMax: 4 })),
});

describe("schema", () => {
  test("accepts a valid value and drops unknown keys", () => {
    const decoded = tryDecode(person, {
      name: "ann",
      age: 3,
      kind: "a",
      tags: ["x"],
      boss: null,
      extra: 1,
    });
    expect(decoded).toEqual({
      ok: true,
      value: { name: "ann", age: 3, kind: "a", tags: ["x"], boss: null },
    });
  });

  test.each([
    [{ name: "", age: 3, kind: "a", tags: [], boss: null }, "name: shorter than 1 bytes"],
    [{ name: "ann", age: 3.5, kind: "a", tags: [], boss: null }, "age: expected an integer"],
    [{ name: "ann", age: 200, kind: "a", tags: [], boss: null }, "age: 200 is outside 0..150"],
    [{ name: "ann", age: 3, kind: "c", tags: [], boss: null }, "kind: expected one of a, b"],
    [
      { name: "ann", age: 3, kind: "a", tags: ["x", "y", "z"], boss: null },
      "tags: more than 2 items",
    ],
    [
      { name: "ann", age: 3, kind: "a", tags: ["long"], boss: null },
      "tags[0]: longer than 3 bytes",
    ],
    [{ name: "ann", age: 3, kind: "a", tags: [] }, "boss: missing"],
    [{ name: "ééééé", age: 3, kind: "a", tags: [], boss: null }, "name: longer than 8 bytes"],
    [[], "expected an object"],
  ])("rejects %j with '%s'", (value, message) => {
    const decoded = tryDecode(person, value);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.message).toContain(message);
  });

  test("an envelope names an unknown op as UNKNOWN_OP and a missing epoch as BAD_REQUEST", () => {
    expect(decodeEnvelope({ op: "nope", epoch: 0, body: {} })).toMatchObject({
      ok: false,
      code: "UNKNOWN_OP",
    });
    expect(decodeEnvelope({ op: "listFiles", body: {} })).toMatchObject({
      ok: false,
      code: "BAD_REQUEST",
    });
    expect(decodeEnvelope({ op: "listFiles", epoch: 4, body: { uid: "u" } })).toMatchObject({
      ok: true,
    });
  });

  test("every op's request schema rejects a non-object body", () => {
    for (const [op, spec] of Object.entries(OPS)) {
      expect([op, tryDecode(spec.request, "x").ok]).toEqual([op, false]);
    }
  });
});
