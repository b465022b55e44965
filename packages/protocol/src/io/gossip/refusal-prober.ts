/**
 * Finds which address refused our datagrams. Bun's unconnected UDP socket reports an ICMP
 * "port unreachable" only as a bare `error(socket)` call with no error and no address (measured
 * on Bun 1.4.5, Linux), so the driver cannot tell which destination is gone. This prober does:
 * for each address we sent to recently, it opens a UDP socket *connected* to that address and
 * sends one empty datagram; a connected socket's error can only be about its one peer. Only
 * runs after an error report, so it costs nothing while every member is up. Owns those short-
 * lived sockets and their bounds; knows nothing of SWIM.
 */

import { parseAddress } from "../../core/index.ts";

/** A destination counts as "recent" this long after we last sent to it. */
export const REFUSAL_RECENT_WINDOW_MS = 1_000;
/** On loopback the refusal comes back in < 1 ms; across a LAN in a few. */
export const REFUSAL_CHECK_TIMEOUT_MS = 200;
/** One address is checked at most this often, so a flood of errors cannot amplify into probes. */
export const REFUSAL_RECHECK_INTERVAL_MS = 250;
/** Checks in flight at once: bounds the sockets a burst of errors may open. */
export const REFUSAL_CHECKS_IN_FLIGHT_MAX = 16;
/** Destinations remembered; one per member is plenty (SWIM_MEMBERS_MAX is 4,096). */
const RECENT_DESTINATIONS_MAX = 4_096;

export interface RefusalProberOptions {
  /** Called once per check that saw the address refuse. */
  readonly onRefused: (address: string) => void;
  readonly nowMs: () => number;
}

export class RefusalProber {
  private readonly options: RefusalProberOptions;
  private readonly lastSentMs = new Map<string, number>();
  private readonly lastCheckedMs = new Map<string, number>();
  private inFlight = 0;
  private closed = false;
  checksStarted = 0;
  refusalsFound = 0;

  constructor(options: RefusalProberOptions) {
    this.options = options;
  }

  /** Remembers that we just sent to `address`. */
  noteSent(address: string, nowMs: number): void {
    this.lastSentMs.delete(address);
    this.lastSentMs.set(address, nowMs);
    // Map iteration is insertion order, so the first key is the least recently used.
    if (this.lastSentMs.size > RECENT_DESTINATIONS_MAX) {
      const oldest = this.lastSentMs.keys().next().value;
      if (oldest !== undefined) this.lastSentMs.delete(oldest);
    }
  }

  /** The socket reported an error about some destination: check each recent one. */
  onSocketError(): void {
    const nowMs = this.options.nowMs();
    for (const [address, sentMs] of this.lastSentMs) {
      if (this.closed || this.inFlight >= REFUSAL_CHECKS_IN_FLIGHT_MAX) return;
      if (nowMs - sentMs > REFUSAL_RECENT_WINDOW_MS) continue;
      const checkedMs = this.lastCheckedMs.get(address);
      if (checkedMs !== undefined && nowMs - checkedMs < REFUSAL_RECHECK_INTERVAL_MS) continue;
      this.lastCheckedMs.set(address, nowMs);
      void this.check(address);
    }
    this.forgetOld(nowMs);
  }

  close(): void {
    this.closed = true;
  }

  private async check(address: string): Promise<void> {
    const parsed = parseAddress(address);
    if (!parsed.ok) return;
    this.inFlight += 1;
    this.checksStarted += 1;
    try {
      const refused = await probeOnce(parsed.value.host, parsed.value.port);
      if (refused && !this.closed) {
        this.refusalsFound += 1;
        this.options.onRefused(address);
      }
    } catch {
      // Could not even open a socket (descriptors exhausted): no evidence either way.
    } finally {
      this.inFlight -= 1;
    }
  }

  private forgetOld(nowMs: number): void {
    for (const [address, checkedMs] of this.lastCheckedMs) {
      if (nowMs - checkedMs > REFUSAL_RECENT_WINDOW_MS) this.lastCheckedMs.delete(address);
    }
  }
}

/** True when `host:port` refused an empty datagram within REFUSAL_CHECK_TIMEOUT_MS. */
async function probeOnce(host: string, port: number): Promise<boolean> {
  let settle: (refused: boolean) => void = () => {};
  const verdict = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  const socket = await Bun.udpSocket({
    hostname: host.includes(":") ? "::" : "0.0.0.0",
    port: 0,
    connect: { hostname: host, port },
    socket: { error: () => settle(true) },
  });
  const timer = setTimeout(() => settle(false), REFUSAL_CHECK_TIMEOUT_MS);
  // An empty datagram: the gossip driver on a live peer recognises and ignores it.
  socket.send(new Uint8Array(0));
  const refused = await verdict;
  clearTimeout(timer);
  socket.close();
  return refused;
}
