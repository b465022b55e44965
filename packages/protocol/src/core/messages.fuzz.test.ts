/**
 * Fuzzing the message validators: the request envelope and every op's request and response
 * schema (plus the error header), fed what a peer can put in a frame header: arbitrary JSON,
 * valid bodies generated from each schema's spec and then mutated (fields replaced, deleted,
 * `__proto__`/`constructor` keys added, strings and arrays far past their limits, deep
 * nesting), and valid bodies with exactly one bound broken. Properties: never a throw; a
 * rejection is BAD_REQUEST or UNKNOWN_OP; an accepted value holds only schema fields, decodes
 * to itself again (also after a JSON round trip) and pollutes no prototype; a value breaking a
 * bound is always refused.
 */

import { expect } from "bun:test";
import fc from "fast-check";
import { fuzzTest } from "../testing/fuzz.ts";
import { invalidValue, mutateJson, mutation, validValue } from "../testing/fuzz-values.ts";
import { decodeEnvelope, errorHeaderSchema, OPS, type Op } from "./messages.ts";
import { tryDecode, type Schema } from "./schema.ts";

const OP_NAMES = Object.keys(OPS) as Op[];

interface Target {
  readonly name: string;
  readonly schema: Schema<unknown>;
}

/** Counterexamples name the schema instead of printing its functions. */
function named(target: Target): Target {
  return Object.assign(target, { [fc.toStringMethod]: () => target.name });
}

/** Every schema a peer's bytes reach: each op's request and response, and the error header. */
const TARGETS: readonly Target[] = [
  ...OP_NAMES.flatMap((op) => [
    { name: `${op}.request`, schema: OPS[op].request as Schema<unknown> },
    { name: `${op}.response`, schema: OPS[op].response as Schema<unknown> },
  ]),
  { name: "error header", schema: errorHeaderSchema as Schema<unknown> },
].map(named);

const targetArbitrary = fc.constantFrom(...TARGETS);

type Decoded =
  | { ok: true; value: unknown }
  | { ok: false; code: "BAD_REQUEST" | "UNKNOWN_OP"; message: string };

/** What the server does with a request header (rpc-server.ts's dispatch, before the handler). */
function decodeRequest(header: unknown): Decoded {
  const envelope = decodeEnvelope(header);
  if (!envelope.ok) return envelope;
  const decoded = tryDecode(OPS[envelope.value.op].request as Schema<unknown>, envelope.value.body);
  return decoded.ok ? decoded : { ok: false, code: "BAD_REQUEST", message: decoded.message };
}

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort().join(",");

/** The checks every decode answer must pass, accepted or refused. */
function checkAnswer(
  schema: Schema<unknown>,
  answer: Decoded | { ok: false; message: string },
): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort().join(",")).toBe(PROTOTYPE_NAMES);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  if (!answer.ok) {
    expect(typeof answer.message).toBe("string");
    expect(answer.message.length).toBeGreaterThan(0);
    if ("code" in answer) expect(["BAD_REQUEST", "UNKNOWN_OP"]).toContain(answer.code);
    return;
  }
  const again = tryDecode(schema, answer.value);
  expect(again).toEqual({ ok: true, value: answer.value });
  const wire = tryDecode(schema, JSON.parse(JSON.stringify(answer.value)));
  expect(wire).toEqual({ ok: true, value: answer.value });
  checkOwnKeys(answer.value);
}

/** Decoded objects are plain and carry no hostile own keys. */
function checkOwnKeys(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  if (!Array.isArray(value)) {
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value, "__proto__")).toBe(false);
  }
  for (const item of Object.values(value)) checkOwnKeys(item);
}

/** Arbitrary JSON, including objects from fc.anything (null prototypes, odd keys) made JSON. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  fc.anything({ withNullPrototype: true, withObjectString: true, maxDepth: 3 }).map((value) => {
    try {
      const text = JSON.stringify(value);
      return text === undefined ? null : (JSON.parse(text) as unknown);
    } catch {
      return null;
    }
  }),
);

const headerArbitrary: fc.Arbitrary<unknown> = fc.oneof(
  anyJson,
  fc.record(
    {
      op: fc.oneof(
        fc.constantFrom(...OP_NAMES),
        fc.constantFrom("__proto__", "constructor", "toString"),
        anyJson,
      ),
      epoch: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, 2 ** 53, -0), anyJson),
      body: anyJson,
    },
    { requiredKeys: [] },
  ),
);

fuzzTest(
  "messages: arbitrary request headers are decoded or refused as BAD_REQUEST/UNKNOWN_OP",
  20_000,
  () =>
    fc.property(headerArbitrary, (header) => {
      const answer = decodeRequest(header);
      if (answer.ok) {
        const envelope = decodeEnvelope(header);
        expect(envelope.ok).toBe(true);
        if (envelope.ok) checkAnswer(OPS[envelope.value.op].request as Schema<unknown>, answer);
      } else {
        checkAnswer(errorHeaderSchema as Schema<unknown>, answer);
      }
    }),
);

fuzzTest("messages: arbitrary JSON against every request and response schema", 20_000, () =>
  fc.property(targetArbitrary, anyJson, (target, value) => {
    checkAnswer(target.schema, tryDecode(target.schema, value));
  }),
);

const validCase = fc.oneof(
  ...TARGETS.map((target) =>
    validValue(target.schema.spec, target.name).map((value) => ({ target, value })),
  ),
);

fuzzTest(
  "messages: bodies generated from each schema are accepted and decode to themselves",
  5_000,
  () =>
    fc.property(validCase, ({ target, value }) => {
      const decoded = tryDecode(target.schema, value);
      if (!decoded.ok)
        throw new Error(`${target.name} refused a generated value: ${decoded.message}`);
      expect(decoded.value).toEqual(value);
      checkAnswer(target.schema, decoded);
    }),
);

fuzzTest("messages: mutated valid bodies (hostile keys, huge, deep) never throw", 5_000, () =>
  fc.property(
    validCase,
    fc.array(mutation, { minLength: 1, maxLength: 3 }),
    ({ target, value }, changes) => {
      const mutated = mutateJson(value, changes);
      checkAnswer(target.schema, tryDecode(target.schema, mutated));
    },
  ),
);

fuzzTest("messages: mutated requests through the whole server-side decode", 5_000, () =>
  fc.property(
    fc.oneof(
      ...OP_NAMES.map((op) =>
        validValue(OPS[op].request.spec, op).map((body) => ({ op, epoch: 0, body })),
      ),
    ),
    fc.array(mutation, { maxLength: 3 }),
    (header, changes) => {
      const mutated = mutateJson(header, changes);
      const answer = decodeRequest(mutated);
      const schema = OPS[header.op].request as Schema<unknown>;
      checkAnswer(schema, answer);
    },
  ),
);

const invalidCase = fc.oneof(
  ...TARGETS.flatMap((target) => {
    const invalid = invalidValue(target.schema.spec);
    return invalid === null ? [] : [invalid.map((value) => ({ target, value }))];
  }),
);

fuzzTest(
  "messages: a body breaking one bound (too long, out of range, missing) is refused",
  5_000,
  () =>
    fc.property(invalidCase, ({ target, value }) => {
      const decoded = tryDecode(target.schema, value);
      if (decoded.ok)
        throw new Error(`${target.name} accepted ${JSON.stringify(value).slice(0, 300)}`);
      checkAnswer(target.schema, decoded);
    }),
);
