/**
 * Runtime validation at the wire boundary. A schema turns `unknown` (parsed JSON) into a typed
 * value or a SchemaError naming the path that failed. Past a decoder nothing is `unknown` or
 * `any`. Pure: no I/O. Kept tiny on purpose: the protocol's shapes are small and flat.
 */

export class SchemaError extends Error {
  override readonly name = "SchemaError";
}

/**
 * What a schema accepts, as data, so tests can generate values it accepts (the fuzzers in
 * testing/fuzz build fast-check arbitraries from it). Decoding never reads it.
 */
export type SchemaSpec =
  | {
      readonly kind: "str";
      readonly bytesMin: number;
      readonly bytesMax: number;
      readonly pattern: RegExp | null;
    }
  | { readonly kind: "int"; readonly min: number; readonly max: number }
  | { readonly kind: "bool" }
  | { readonly kind: "literal"; readonly values: readonly string[] }
  | { readonly kind: "nullable"; readonly inner: SchemaSpec | null }
  | { readonly kind: "arr"; readonly item: SchemaSpec | null; readonly itemsMax: number }
  | {
      readonly kind: "obj";
      readonly fields: Readonly<Record<string, SchemaSpec | null>>;
      readonly optional: readonly string[];
    }
  | { readonly kind: "oneOf"; readonly options: readonly (SchemaSpec | null)[] };

export interface Schema<T> {
  readonly decode: (value: unknown, path: string) => T;
  readonly optional: false;
  /** Absent on a hand-written schema that did not describe itself; tests then cannot generate it. */
  readonly spec?: SchemaSpec;
}

export interface OptionalSchema<T> {
  readonly decode: (value: unknown, path: string) => T;
  readonly optional: true;
  readonly spec?: SchemaSpec;
}

export type Infer<S> =
  S extends Schema<infer T> ? T : S extends OptionalSchema<infer T> ? T : never;

type AnySchema = Schema<unknown> | OptionalSchema<unknown>;
type Shape = Record<string, AnySchema>;

type RequiredKeys<S extends Shape> = {
  [K in keyof S]: S[K] extends OptionalSchema<unknown> ? never : K;
}[keyof S];
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>;

export type InferShape<S extends Shape> = {
  readonly [K in RequiredKeys<S>]: Infer<S[K]>;
} & {
  readonly [K in OptionalKeys<S>]?: Infer<S[K]>;
};

function schema<T>(spec: SchemaSpec, decode: (value: unknown, path: string) => T): Schema<T> {
  return { decode, optional: false, spec };
}

function specOf(s: AnySchema): SchemaSpec | null {
  return s.spec ?? null;
}

function failAt(path: string, expected: string, value: unknown): never {
  const shown = typeof value === "string" ? "a string" : value === null ? "null" : typeof value;
  throw new SchemaError(`${path || "value"}: expected ${expected}, got ${shown}`);
}

const utf8 = new TextEncoder();

export function str(options: {
  bytesMax: number;
  bytesMin?: number;
  pattern?: RegExp;
}): Schema<string> {
  const bytesMin = options.bytesMin ?? 0;
  const pattern = options.pattern ?? null;
  const spec = { kind: "str", bytesMin, bytesMax: options.bytesMax, pattern } as const;
  return schema(spec, (value, path) => {
    if (typeof value !== "string") return failAt(path, "a string", value);
    // Length in UTF-16 units bounds the UTF-8 length from both sides cheaply before encoding.
    if (value.length > options.bytesMax)
      throw new SchemaError(`${path}: longer than ${options.bytesMax} bytes`);
    const bytes = utf8.encode(value).length;
    if (bytes > options.bytesMax)
      throw new SchemaError(`${path}: longer than ${options.bytesMax} bytes`);
    if (bytes < bytesMin) throw new SchemaError(`${path}: shorter than ${bytesMin} bytes`);
    if (options.pattern !== undefined && !options.pattern.test(value)) {
      throw new SchemaError(`${path}: not of the form ${options.pattern.source}`);
    }
    return value;
  });
}

export function int(options: { min: number; max: number }): Schema<number> {
  return schema({ kind: "int", min: options.min, max: options.max }, (value, path) => {
    if (typeof value !== "number" || !Number.isSafeInteger(value))
      return failAt(path, "an integer", value);
    if (value < options.min || value > options.max) {
      throw new SchemaError(`${path}: ${value} is outside ${options.min}..${options.max}`);
    }
    return value;
  });
}

export const bool: Schema<boolean> = schema({ kind: "bool" }, (value, path) =>
  typeof value === "boolean" ? value : failAt(path, "a boolean", value),
);

export function literal<const T extends string>(...values: readonly T[]): Schema<T> {
  const allowed: ReadonlySet<string> = new Set(values);
  return schema({ kind: "literal", values }, (value, path) => {
    if (typeof value === "string" && allowed.has(value)) return value as T;
    return failAt(path, `one of ${values.join(", ")}`, value);
  });
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  const spec = { kind: "nullable", inner: specOf(inner) } as const;
  return schema(spec, (value, path) => (value === null ? null : inner.decode(value, path)));
}

export function opt<T>(inner: Schema<T>): OptionalSchema<T> {
  return inner.spec === undefined
    ? { decode: inner.decode, optional: true }
    : { decode: inner.decode, optional: true, spec: inner.spec };
}

export function arr<T>(item: Schema<T>, options: { itemsMax: number }): Schema<readonly T[]> {
  const spec = { kind: "arr", item: specOf(item), itemsMax: options.itemsMax } as const;
  return schema(spec, (value, path) => {
    if (!Array.isArray(value)) return failAt(path, "an array", value);
    if (value.length > options.itemsMax) {
      throw new SchemaError(`${path}: more than ${options.itemsMax} items`);
    }
    return value.map((element, index) => item.decode(element, `${path}[${index}]`));
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Unknown keys are dropped, not copied: a decoded value holds exactly its schema's fields. */
export function obj<S extends Shape>(shape: S): Schema<InferShape<S>> {
  const keys = Object.keys(shape);
  const fields: Record<string, SchemaSpec | null> = {};
  for (const key of keys) fields[key] = shape[key] === undefined ? null : specOf(shape[key]);
  const optional = keys.filter((key) => shape[key]?.optional === true);
  return schema({ kind: "obj", fields, optional }, (value, path) => {
    if (!isPlainObject(value)) return failAt(path, "an object", value);
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const field = shape[key];
      if (field === undefined) continue;
      const raw = value[key];
      if (raw === undefined) {
        if (field.optional) continue;
        throw new SchemaError(`${path ? `${path}.` : ""}${key}: missing`);
      }
      out[key] = field.decode(raw, path ? `${path}.${key}` : key);
    }
    return out as InferShape<S>;
  });
}

/** Decode or return the error message: for boundaries that answer instead of throwing. */
export function tryDecode<T>(
  s: Schema<T>,
  value: unknown,
): { ok: true; value: T } | { ok: false; message: string } {
  try {
    return { ok: true, value: s.decode(value, "") };
  } catch (error) {
    if (error instanceof SchemaError) return { ok: false, message: error.message };
    throw error;
  }
}
