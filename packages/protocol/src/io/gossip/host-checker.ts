/**
 * Asks whether a member's host answers at all: HOST_CHECK_ATTEMPTS TCP connection attempts to
 * its gossip address, in parallel. A handshake (SYN-ACK) or a refusal (RST) is the host's kernel
 * answering, even for a SIGSTOPped process or one with no TCP listener there; silence past the
 * timeout is a cut link or a dead host, which the core treats as strong evidence (swim
 * config.ts). Owns the short-lived sockets and their bound; knows nothing of SWIM.
 */

import net from "node:net";
import { parseAddress } from "../../core/index.ts";

/** Checks in flight at once; past it a check is skipped (no verdict: the core waits longer). */
export const HOST_CHECKS_IN_FLIGHT_MAX = 32;

export interface HostCheckerOptions {
  readonly attempts: number;
  readonly timeoutMs: number;
  /** Called once per check that no attempt of was answered in time. */
  readonly onSilent: (address: string) => void;
  /** Called once per check that some attempt of was answered (SYN-ACK or RST). */
  readonly onAnswered?: (address: string) => void;
}

export class HostChecker {
  private readonly options: HostCheckerOptions;
  private readonly sockets = new Set<net.Socket>();
  private inFlight = 0;
  private closed = false;
  checksStarted = 0;
  checksSkipped = 0;
  silentFound = 0;

  constructor(options: HostCheckerOptions) {
    this.options = options;
  }

  check(address: string): void {
    const parsed = parseAddress(address);
    if (this.closed || !parsed.ok) return;
    if (this.inFlight >= HOST_CHECKS_IN_FLIGHT_MAX) {
      this.checksSkipped += 1;
      return;
    }
    this.inFlight += 1;
    this.checksStarted += 1;
    const { host, port } = parsed.value;
    const attempts: net.Socket[] = [];
    let answered = false;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.inFlight -= 1;
      for (const socket of attempts) this.forget(socket);
      if (this.closed) return;
      if (answered) {
        this.options.onAnswered?.(address);
        return;
      }
      this.silentFound += 1;
      this.options.onSilent(address);
    };
    const onAnswer = (): void => {
      answered = true;
      finish();
    };
    // A starved event loop runs timers before the I/O that is already waiting: look at that
    // I/O first (setImmediate runs after the poll phase), so a late timer cannot call a host
    // silent whose answer sat unread.
    const timer = setTimeout(() => setImmediate(finish), this.options.timeoutMs);
    for (let k = 0; k < this.options.attempts; k += 1) {
      const socket = net.connect({ host, port });
      this.sockets.add(socket);
      attempts.push(socket);
      socket.once("connect", onAnswer);
      socket.on("error", (error: NodeJS.ErrnoException) => {
        // A refusal is the host answering; an unreachable host or network is silence.
        if (error.code === "ECONNREFUSED" || error.code === "ECONNRESET") onAnswer();
      });
    }
  }

  close(): void {
    this.closed = true;
    for (const socket of [...this.sockets]) this.forget(socket);
  }

  private forget(socket: net.Socket): void {
    socket.destroy();
    this.sockets.delete(socket);
  }
}
