/**
 * fast-check arbitraries for the fuzzers: values a schema accepts (built from its SchemaSpec),
 * values that break exactly one of its bounds, and mutations of JSON values and byte strings.
 * Keys are added as own properties (as JSON.parse makes them), so `__proto__` is a key, never
 * a prototype. Not exported from testing/index.ts (see fuzz.ts).
 */

import fc from "fast-check";
import type { SchemaSpec } from "../core/schema.ts";

const utf8 = new TextEncoder();
/** Items generated per array: enough to exercise loops, small enough to stay fast. */
const ARRAY_ITEMS_GENERATED_MAX = 3;
/** Characters of a free-form generated string; long strings come from the bound cases. */
const STRING_CHARS_GENERATED_MAX = 24;
/** Nesting of the deep values a mutation plants (JSON.parse handles far more). */
const NESTING_DEPTH_MAX = 2_000;

function utf8Bytes(text: string): number {
  return utf8.encode(text).length;
}

function missingSpec(where: string): never {
  throw new Error(
    `schema at '${where || "value"}' has no spec: give it one (see SchemaSpec) so it can be fuzzed`,
  );
}

function strArbitrary(spec: Extract<SchemaSpec, { kind: "str" }>): fc.Arbitrary<string> {
  const fits = (text: string): boolean => {
    const bytes = utf8Bytes(text);
    return bytes >= spec.bytesMin && bytes <= spec.bytesMax && (spec.pattern?.test(text) ?? true);
  };
  if (spec.pattern !== null)
    return patternArbitrary(spec.pattern, spec.bytesMin, spec.bytesMax, fits);
  const chars = Math.min(spec.bytesMax, Math.max(spec.bytesMin, STRING_CHARS_GENERATED_MAX));
  const free = fc
    .string({ unit: "binary", minLength: spec.bytesMin, maxLength: chars })
    .filter(fits);
  const edges = fc.constantFrom("x".repeat(spec.bytesMax), "y".repeat(spec.bytesMin)).filter(fits);
  return fc.oneof({ arbitrary: free, weight: 4 }, { arbitrary: edges, weight: 1 });
}

/** Candidates drawn before deciding a pattern's bounds can never be met (instead of hanging). */
const PATTERN_PROBES = 200;
/** Built once per pattern and bounds: probing costs more than a case. */
const patternArbitraries = new Map<string, fc.Arbitrary<string>>();

/**
 * Strings matching `pattern` within the byte bounds. fc.stringMatching alone rarely reaches a
 * long minimum (`[a-z]+` of at least 16), so a match is also repeated up to a length drawn
 * in the bounds: that keeps matching for patterns made of one repeated class.
 */
function patternArbitrary(
  pattern: RegExp,
  bytesMin: number,
  bytesMax: number,
  fits: (text: string) => boolean,
): fc.Arbitrary<string> {
  const matching = fc.stringMatching(pattern);
  const stretched = fc
    .tuple(
      fc.stringMatching(pattern),
      fc.integer({ min: Math.max(1, bytesMin), max: Math.max(1, bytesMax) }),
    )
    .map(([text, length]) =>
      text.length === 0 ? text : text.repeat(Math.ceil(length / text.length)).slice(0, length),
    );
  const key = `${pattern.source}/${bytesMin}/${bytesMax}`;
  const known = patternArbitraries.get(key);
  if (known !== undefined) return known;
  const candidates = fc.oneof(matching, stretched);
  if (!fc.sample(candidates, { numRuns: PATTERN_PROBES, seed: 1 }).some(fits)) {
    throw new Error(
      `cannot generate strings of ${bytesMin}..${bytesMax} bytes matching ${pattern.source}`,
    );
  }
  const arbitrary = candidates.filter(fits);
  patternArbitraries.set(key, arbitrary);
  return arbitrary;
}

function intArbitrary(min: number, max: number): fc.Arbitrary<number> {
  const any = fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);
  return fc.oneof(
    { arbitrary: any, weight: 4 },
    { arbitrary: fc.constantFrom(min, max), weight: 1 },
  );
}

function objArbitrary(
  spec: Extract<SchemaSpec, { kind: "obj" }>,
  where: string,
): fc.Arbitrary<unknown> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, field] of Object.entries(spec.fields))
    fields[key] = validValue(field, `${where}.${key}`);
  const requiredKeys = Object.keys(spec.fields).filter((key) => !spec.optional.includes(key));
  return fc.record(fields, { requiredKeys });
}

/** Values the schema described by `spec` accepts, and decodes to themselves. */
export function validValue(spec: SchemaSpec | null | undefined, where = ""): fc.Arbitrary<unknown> {
  if (spec === null || spec === undefined) return missingSpec(where);
  switch (spec.kind) {
    case "str":
      return strArbitrary(spec);
    case "int":
      return intArbitrary(spec.min, spec.max);
    case "bool":
      return fc.boolean();
    case "literal":
      return fc.constantFrom(...spec.values);
    case "nullable":
      return fc.option(validValue(spec.inner, where), { nil: null });
    case "arr":
      return fc.array(validValue(spec.item, `${where}[]`), {
        maxLength: Math.min(spec.itemsMax, ARRAY_ITEMS_GENERATED_MAX),
      });
    case "obj":
      return objArbitrary(spec, where);
    case "oneOf":
      return fc.oneof(
        ...spec.options.map((option, index) => validValue(option, `${where}<${index}>`)),
      );
  }
}

/** Strings just over `bytesMax`: in ASCII, and in two-byte characters under the UTF-16 length. */
function oversizeStrings(spec: Extract<SchemaSpec, { kind: "str" }>): string[] {
  const out = ["x".repeat(spec.bytesMax + 1), "é".repeat(Math.ceil((spec.bytesMax + 1) / 2))];
  if (spec.bytesMin > 0) out.push("x".repeat(spec.bytesMin - 1));
  return out;
}

function intViolations(min: number, max: number): number[] {
  const out: (number | null)[] = [1.5, min - 1 >= Number.MIN_SAFE_INTEGER ? min - 1 : null];
  out.push(max + 1 <= Number.MAX_SAFE_INTEGER ? max + 1 : 2 ** 53, 1e308);
  return out.filter((value): value is number => value !== null);
}

function objViolation(
  spec: Extract<SchemaSpec, { kind: "obj" }>,
  inUnion: boolean,
): fc.Arbitrary<unknown> | null {
  const keys = Object.keys(spec.fields);
  const choices: fc.Arbitrary<unknown>[] = [];
  for (const key of keys) {
    const field = spec.fields[key];
    // Inside a tagged union a wrong tag may name another member: that is not a violation.
    if (field === undefined || field === null || (inUnion && field.kind === "literal")) continue;
    const bad = invalidValue(field, false);
    if (bad === null) continue;
    const others: Record<string, fc.Arbitrary<unknown>> = {};
    for (const other of keys)
      others[other] = other === key ? bad : validValue(spec.fields[other], other);
    const requiredKeys = keys.filter((other) => other === key || !spec.optional.includes(other));
    choices.push(fc.record(others, { requiredKeys }));
  }
  const required = keys.filter((key) => !spec.optional.includes(key));
  if (required.length > 0 && !inUnion) {
    // A required field left out.
    choices.push(
      fc.constantFrom(...required).chain((missing) => {
        const rest: Record<string, fc.Arbitrary<unknown>> = {};
        for (const key of keys) if (key !== missing) rest[key] = validValue(spec.fields[key], key);
        return fc.record(rest, { requiredKeys: required.filter((key) => key !== missing) });
      }),
    );
  }
  return choices.length === 0 ? null : fc.oneof(...choices);
}

/**
 * Values that break exactly one bound of the schema (a string one byte too long, an integer
 * past its range, one item too many, a required field left out): the schema must refuse
 * every one. Null when the spec has no bound to break (an empty object).
 */
export function invalidValue(
  spec: SchemaSpec | null | undefined,
  inUnion = false,
): fc.Arbitrary<unknown> | null {
  if (spec === null || spec === undefined) return missingSpec("");
  switch (spec.kind) {
    case "str":
      return fc.constantFrom(...oversizeStrings(spec), 7, null);
    case "int":
      return fc.constantFrom(...intViolations(spec.min, spec.max), "1");
    case "bool":
      return fc.constantFrom("true", 1, null);
    case "literal":
      return fc.constantFrom(`${spec.values.join("")}!`, 0);
    case "nullable":
      return invalidValue(spec.inner, inUnion)?.filter((value) => value !== null) ?? null;
    case "arr": {
      const tooMany = fc.constant(new Array<null>(spec.itemsMax + 1).fill(null));
      const badItem = invalidValue(spec.item, false);
      const oneBad =
        badItem === null ? null : fc.tuple(validValue(spec.item), badItem).map(([a, b]) => [a, b]);
      return oneBad === null
        ? fc.oneof(tooMany, fc.constant({}))
        : fc.oneof(tooMany, oneBad, fc.constant({}));
    }
    case "obj":
      return objViolation(spec, inUnion);
    case "oneOf": {
      const options = spec.options.map((option) => invalidValue(option, true));
      const usable = options.filter((option): option is fc.Arbitrary<unknown> => option !== null);
      return usable.length === 0 ? null : fc.oneof(...usable);
    }
  }
}

// ---- mutating JSON values ----

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Keys a decoder must treat as data: prototype pollution gadgets and look-alikes. */
export const HOSTILE_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
];

function deep(depth: number): Json {
  let value: Json = [];
  for (let level = 0; level < depth; level += 1) value = level % 2 === 0 ? [value] : { a: value };
  return value;
}

/** What a mutation puts in place of a node. */
const replacement: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(
    -1,
    -0,
    0,
    1.5,
    2 ** 53,
    2 ** 64,
    1e308,
    "",
    "\u0000",
    "..",
    "../..",
    true,
    null,
    [],
    {},
  ),
  fc.integer({ min: 1, max: 70_000 }).map((length) => "z".repeat(length)),
  fc.integer({ min: 1, max: 5_000 }).map((length): Json => new Array<Json>(length).fill(0)),
  fc.integer({ min: 2, max: NESTING_DEPTH_MAX }).map(deep),
  fc
    .tuple(fc.constantFrom(...HOSTILE_KEYS), fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Json>)
    .map(([key, value]) => {
      const out: Record<string, Json> = {};
      setOwn(out, key, value);
      return out;
    }),
);

export type Mutation =
  | { readonly at: number; readonly kind: "replace"; readonly value: Json }
  | { readonly at: number; readonly kind: "delete" }
  | { readonly at: number; readonly kind: "addKey"; readonly key: string; readonly value: Json };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ at: fc.nat(), kind: fc.constant("replace" as const), value: replacement }),
  fc.record({ at: fc.nat(), kind: fc.constant("delete" as const) }),
  fc.record({
    at: fc.nat(),
    kind: fc.constant("addKey" as const),
    key: fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 8 })),
    value: replacement,
  }),
);

function isRecord(value: unknown): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every container node of `value` (pre-order), with the root first. */
function containers(
  value: Json,
  out: (Json[] | Record<string, Json>)[] = [],
): (Json[] | Record<string, Json>)[] {
  if (Array.isArray(value)) {
    out.push(value);
    for (const item of value) containers(item, out);
  } else if (isRecord(value)) {
    out.push(value);
    for (const key of Object.keys(value)) containers(value[key] ?? null, out);
  }
  return out;
}

function setOwn(target: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function applyOne(root: Json, planned: Mutation): Json {
  // A copy: generated values may be shared (constants), and a value planted twice would
  // otherwise end up inside itself.
  const change =
    planned.kind === "delete" ? planned : { ...planned, value: copyJson(planned.value) };
  const nodes = containers(root);
  if (nodes.length === 0) return change.kind === "replace" ? change.value : root;
  const node = nodes[change.at % nodes.length];
  if (node === undefined) return root;
  const keys = Array.isArray(node) ? node.map((_, index) => String(index)) : Object.keys(node);
  const key =
    change.kind === "addKey"
      ? change.key
      : keys[Math.floor(change.at / nodes.length) % Math.max(1, keys.length)];
  if (key === undefined) return root;
  if (Array.isArray(node)) {
    const index = Number(key);
    if (change.kind === "delete") node.splice(index, 1);
    else if (Number.isInteger(index)) node[index] = change.value;
    else node.push(change.value);
  } else if (change.kind === "delete") {
    delete node[key];
  } else {
    setOwn(node, key, change.value);
  }
  return root;
}

function copyJson(value: Json): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

/**
 * `value` with the mutations applied, as the wire would deliver it (through JSON text, so
 * the result is exactly what JSON.parse makes of it).
 */
export function mutateJson(value: unknown, changes: readonly Mutation[]): unknown {
  let root = JSON.parse(JSON.stringify(value)) as Json;
  for (const change of changes) root = applyOne(root, change);
  return JSON.parse(JSON.stringify(root));
}

// ---- mutating bytes ----

export type ByteMutation =
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "set"; readonly at: number; readonly byte: number }
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "insert"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: "u32"; readonly at: number; readonly value: number };

/** Values planted in length fields: zero, tiny, around a cap, and the u32 extremes. */
export function lengthEdges(capBytes: number): fc.Arbitrary<number> {
  const edges = [
    0,
    1,
    9,
    10,
    13,
    14,
    capBytes - 5,
    capBytes - 4,
    capBytes - 3,
    0x7fff_ffff,
    0xffff_ffff,
  ];
  return fc.oneof(
    fc.constantFrom(...edges.filter((edge) => edge >= 0)),
    fc.nat({ max: 0xffff_ffff }),
  );
}

export function byteMutation(lengthValues: fc.Arbitrary<number>): fc.Arbitrary<ByteMutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ maxLength: 16 }),
    }),
    fc.record({ kind: fc.constant("u32" as const), at: fc.nat(), value: lengthValues }),
  );
}

export function mutateBytes(input: Uint8Array, changes: readonly ByteMutation[]): Uint8Array {
  let bytes = Uint8Array.from(input);
  for (const change of changes) {
    if (bytes.length === 0 && change.kind !== "insert") continue;
    const at = change.at % Math.max(1, bytes.length);
    switch (change.kind) {
      case "flip":
        bytes[at] = (bytes[at] ?? 0) ^ (1 << change.bit);
        break;
      case "set":
        bytes[at] = change.byte;
        break;
      case "truncate":
        bytes = bytes.slice(0, at);
        break;
      case "insert": {
        const out = new Uint8Array(bytes.length + change.bytes.length);
        out.set(bytes.subarray(0, at), 0);
        out.set(change.bytes, at);
        out.set(bytes.subarray(at), at + change.bytes.length);
        bytes = out;
        break;
      }
      case "u32":
        if (at + 4 <= bytes.length) new DataView(bytes.buffer).setUint32(at, change.value);
        break;
    }
  }
  return bytes;
}

/** Split `bytes` into reads at the given cut points (any numbers; taken modulo the length). */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [
    ...new Set(cuts.map((cut) => (bytes.length === 0 ? 0 : cut % (bytes.length + 1)))),
  ].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    out.push(bytes.subarray(start, point));
    start = point;
  }
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
