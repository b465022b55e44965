/**
 * Assertions for our own invariants. A failed assertion is a bug in FTFS, never a user's or
 * peer's fault: it throws loudly so tests and logs show it. Peer faults are values, not asserts.
 */

export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(value: never, context = "unexpected variant"): never {
  throw new AssertionError(`${context}: ${JSON.stringify(value)}`);
}
