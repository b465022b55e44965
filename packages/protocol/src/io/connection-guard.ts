/**
 * The bounds a server keeps on connections, and the rule that says when one has overstayed:
 * a handshake not finished in time, a client idle too long, a frame arriving too slowly
 * (slowloris: a peer that trickles bytes to hold a connection and its buffer forever). Pure
 * rules over numbers; rpc-server.ts applies them on a timer and counts what it closed.
 */

/** A node serves this many connections at once; the next is refused (CONNECTION_LIMIT). */
export const CONNECTIONS_MAX = 4096;
/**
 * Connections from one remote address. High, since a bench or a NAT puts many clients behind
 * one address, yet a quarter of the total, so one address cannot take the node alone.
 */
export const CONNECTIONS_PER_ADDRESS_MAX = 1024;
/** A connection must finish `hello` this soon after it opens (one round trip, and a token check). */
export const HANDSHAKE_TIMEOUT_MS = 5_000;
/**
 * A client (user or anonymous) connection with nothing in flight is closed after this long.
 * Nodes are exempt: the directory watches storage primaries over idle connections on purpose.
 */
export const IDLE_TIMEOUT_MS = 5 * 60_000;
/** A frame that started arriving gets this long before its sender's pace is judged. */
export const FRAME_PROGRESS_GRACE_MS = 10_000;
/**
 * After the grace, a frame still arriving must have come at this average pace or faster:
 * 32 kbit/s, a slow mobile link. A trickler at 1 byte per second is gone after the grace.
 */
export const FRAME_BYTES_PER_SECOND_MIN = 4 * 1024;
/** How often the server looks for connections past a bound; a bound is overstayed by this much. */
export const CONNECTION_SWEEP_INTERVAL_MS = 250;

export interface ConnectionLimits {
  readonly connectionsMax: number;
  readonly connectionsPerAddressMax: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly frameProgressGraceMs: number;
  readonly frameBytesPerSecondMin: number;
}

export const CONNECTION_LIMITS_DEFAULT: ConnectionLimits = {
  connectionsMax: CONNECTIONS_MAX,
  connectionsPerAddressMax: CONNECTIONS_PER_ADDRESS_MAX,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  idleTimeoutMs: IDLE_TIMEOUT_MS,
  frameProgressGraceMs: FRAME_PROGRESS_GRACE_MS,
  frameBytesPerSecondMin: FRAME_BYTES_PER_SECOND_MIN,
};

export function connectionLimitsWith(overrides: Partial<ConnectionLimits> = {}): ConnectionLimits {
  return { ...CONNECTION_LIMITS_DEFAULT, ...overrides };
}

/** What the sweep knows of one connection at `nowMs`. */
export interface ConnectionState {
  readonly openedMs: number;
  readonly handshaken: boolean;
  /** Idle checks apply (a client, not a node). */
  readonly idleCounts: boolean;
  readonly requestsInFlight: number;
  readonly lastActivityMs: number;
  /** The frame now arriving, if any (null while the server itself stopped reading). */
  readonly progress: { readonly startedMs: number; readonly bytes: number } | null;
}

/** A bound a connection overstayed: which (a metric's label), and a sentence for the log. */
export interface SlowConnection {
  readonly kind: "handshake_timeout" | "slow_frame" | "idle";
  readonly message: string;
}

/** Why the connection must close now, or null while it keeps within every bound. */
export function slowConnectionReason(
  state: ConnectionState,
  nowMs: number,
  limits: ConnectionLimits,
): SlowConnection | null {
  if (!state.handshaken && nowMs - state.openedMs > limits.handshakeTimeoutMs) {
    return {
      kind: "handshake_timeout",
      message: `no hello within ${limits.handshakeTimeoutMs} ms`,
    };
  }
  const progress = state.progress;
  if (progress !== null) {
    const elapsedMs = nowMs - progress.startedMs;
    const paceBytesPerSecond = (progress.bytes * 1000) / Math.max(1, elapsedMs);
    if (
      elapsedMs > limits.frameProgressGraceMs &&
      paceBytesPerSecond < limits.frameBytesPerSecondMin
    ) {
      const pace = Math.round(paceBytesPerSecond);
      return {
        kind: "slow_frame",
        message: `a frame arriving at ${pace} B/s, under ${limits.frameBytesPerSecondMin} B/s`,
      };
    }
    return null;
  }
  const idle = state.idleCounts && state.requestsInFlight === 0;
  if (idle && nowMs - state.lastActivityMs > limits.idleTimeoutMs) {
    return { kind: "idle", message: `idle for over ${limits.idleTimeoutMs} ms` };
  }
  return null;
}
