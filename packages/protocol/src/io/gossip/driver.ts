/**
 * GossipDriver: binds one swim.SwimNode to a Bun UDP socket, a tick timer, the system clock and
 * a PRNG seeded from crypto randomness. It owns the socket, the datagram envelope (keyring tag),
 * the drop counters and event delivery; every membership decision stays in the sans-I/O core.
 * Bad input (oversize, truncated, unauthenticated, foreign or malformed datagrams) is dropped
 * and counted, never thrown. It must not block: every handler is short and synchronous.
 */

import { type MetricsRegistry, parseAddress, Prng, swim } from "../../core/index.ts";
import type { Logger } from "../logger.ts";
import { Keyring } from "../security/keyring.ts";
import { registerGossipMetrics, type RoundTripObserver } from "./metrics.ts";
import { HostChecker } from "./host-checker.ts";
import { RefusalProber } from "./refusal-prober.ts";

/** After leave(), keep ticking this long so the `left` rumor spreads (the core's contract). */
export const GOSSIP_LEAVE_LINGER_MS = 1_000;
/** Bun's receive buffer is larger than a datagram; anything past our limit is not ours. */
const DATAGRAM_BYTES_MAX = swim.GOSSIP_DATAGRAM_BYTES_MAX;

export type GossipDropReason =
  | "oversize"
  | "truncated"
  | "unauthenticated"
  | "foreign"
  | "malformed";

export interface GossipDriverStats extends swim.SwimStats {
  /** Datagrams and bytes on the wire, tag included (the core counts payload bytes only). */
  readonly datagramsIn: number;
  readonly bytesIn: number;
  readonly datagramsOut: number;
  readonly bytesOut: number;
  readonly sendFailures: number;
  readonly dropped: Readonly<Record<GossipDropReason, number>>;
  readonly socketErrors: number;
  readonly refusalChecks: number;
  readonly refusalsFound: number;
  /** Empty datagrams: another node's refusal check of us. */
  readonly refusalChecksReceived: number;
  readonly listenerErrors: number;
  /** Host checks skipped because too many were in flight. */
  readonly hostChecksSkipped: number;
}

export interface GossipDriverOptions {
  readonly id: string;
  /** `host:port` to bind; also the address others reach us at unless `advertise` is given. */
  readonly listen: string;
  readonly advertise?: string;
  readonly meta: swim.MemberMetaFields;
  readonly keyring?: Keyring;
  readonly config?: swim.SwimConfig;
  readonly logger: Logger;
  /** For a test that must replay; default: 48 bits from crypto.getRandomValues. */
  readonly seed?: number;
  readonly tickIntervalMs?: number;
  /** Where probes, suspicions and round trips are counted (a node's /metrics); none: not. */
  readonly metrics?: MetricsRegistry;
}

export type GossipListener = (event: swim.MemberEvent) => void;

export class GossipStartError extends Error {
  override readonly name = "GossipStartError";
  readonly code = "GOSSIP_BIND_FAILED";
}

type UdpSocket = Bun.udp.Socket<"uint8array">;

interface DriverCounters {
  datagramsIn: number;
  bytesIn: number;
  datagramsOut: number;
  bytesOut: number;
  sendFailures: number;
  socketErrors: number;
  refusalChecksReceived: number;
  listenerErrors: number;
  dropped: Record<GossipDropReason, number>;
}

/** The clock: monotonic (performance.now) but on the epoch scale, so events carry real times. */
function systemNowMs(): number {
  return Math.floor(performance.timeOrigin + performance.now());
}

function randomSeed(): number {
  const words = crypto.getRandomValues(new Uint32Array(2));
  // 21 + 32 bits fit a safe integer; the PRNG folds both halves in.
  return ((words[0] ?? 0) & 0x1f_ffff) * 0x1_0000_0000 + (words[1] ?? 0);
}

export class GossipDriver {
  private readonly node: swim.SwimNode;
  private readonly keyring: Keyring;
  private readonly logger: Logger;
  private readonly listeners = new Set<GossipListener>();
  private readonly prober: RefusalProber;
  private readonly hostChecker: HostChecker;
  private readonly onRoundTrip: RoundTripObserver | null;
  private readonly counters: DriverCounters = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    sendFailures: 0,
    socketErrors: 0,
    refusalChecksReceived: 0,
    listenerErrors: 0,
    dropped: { oversize: 0, truncated: 0, unauthenticated: 0, foreign: 0, malformed: 0 },
  };
  private socket: UdpSocket | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private leaving: Promise<void> | null = null;
  readonly seed: number;
  readonly address: string;

  private constructor(
    options: GossipDriverOptions,
    seed: number,
    address: string,
    socket: UdpSocket,
  ) {
    this.seed = seed;
    this.address = address;
    this.socket = socket;
    this.keyring = options.keyring ?? Keyring.open();
    this.logger = options.logger;
    const config = options.config ?? swim.SWIM_LAN_CONFIG;
    this.node = new swim.SwimNode({
      id: swim.memberId(options.id),
      address: this.address,
      meta: options.meta,
      config,
      prng: new Prng(seed),
      nowMs: systemNowMs(),
    });
    this.prober = new RefusalProber({
      nowMs: systemNowMs,
      onRefused: (address) => this.onRefused(address),
    });
    this.hostChecker = new HostChecker({
      attempts: swim.HOST_CHECK_ATTEMPTS,
      timeoutMs: config.hostCheckTimeoutMs,
      onSilent: (address) => this.onHostSilent(address),
    });
    this.onRoundTrip =
      options.metrics === undefined
        ? null
        : registerGossipMetrics(options.metrics, () => this.node.stats());
  }

  /**
   * Binds the socket and starts ticking. Port 0 binds an ephemeral port, advertised as bound.
   * Throws GossipStartError if the address is bad or the port is taken.
   */
  static async start(options: GossipDriverOptions): Promise<GossipDriver> {
    const parsed = parseAddress(options.listen);
    if (!parsed.ok) throw new GossipStartError(`gossip: '${options.listen}' is not host:port`);
    // The socket exists before the driver (it fixes the port), so its handlers reach the
    // driver through this slot; nothing arrives before the driver exists, as nobody knows us.
    const slot: { driver: GossipDriver | null } = { driver: null };
    const socket = await bindUdp(parsed.value.host, parsed.value.port, slot);
    const advertise = options.advertise ?? formatAddress(parsed.value.host, socket.port);
    const driver = new GossipDriver(options, options.seed ?? randomSeed(), advertise, socket);
    slot.driver = driver;
    const tickMs = options.tickIntervalMs ?? swim.SWIM_TICK_INTERVAL_MS_RECOMMENDED;
    driver.timer = setInterval(() => driver.onTick(), tickMs);
    options.logger.info("gossip started", {
      address: driver.address,
      seed: driver.seed,
      keys: driver.keyring.size,
      mode: driver.keyring.isOpen ? "open (no --cluster-key)" : "hmac-sha256",
    });
    return driver;
  }

  get id(): string {
    return this.node.id;
  }

  /** Starts joining through `seeds` (any members' gossip addresses); retried by the core. */
  join(seeds: readonly string[]): void {
    this.node.join(systemNowMs(), seeds);
    this.flush();
  }

  updateMeta(meta: swim.MemberMetaFields): void {
    if (this.leaving !== null) return;
    this.node.updateMeta(systemNowMs(), meta);
    this.flush();
  }

  /** Subscribes to membership events; returns the unsubscribe function. */
  subscribe(listener: GossipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  members(): swim.MemberView[] {
    return this.node.members();
  }

  self(): swim.MemberView {
    const view = this.node.member(this.node.id);
    if (view === undefined) throw new Error("gossip: the core lost its own record");
    return view;
  }

  stats(): GossipDriverStats {
    return {
      ...this.node.stats(),
      ...this.counters,
      dropped: { ...this.counters.dropped },
      refusalChecks: this.prober.checksStarted,
      refusalsFound: this.prober.refusalsFound,
      hostChecksSkipped: this.hostChecker.checksSkipped,
    };
  }

  /** Leaves gracefully, lingers so the news spreads, then closes. Idempotent. */
  leave(lingerMs: number = GOSSIP_LEAVE_LINGER_MS): Promise<void> {
    if (this.leaving !== null) return this.leaving;
    this.node.leave(systemNowMs());
    this.flush();
    this.leaving = new Promise((resolve) => {
      setTimeout(() => {
        this.close();
        resolve();
      }, lingerMs);
    });
    return this.leaving;
  }

  /** Stops at once, without telling anyone (a crash, as far as the others can tell). */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.prober.close();
    this.hostChecker.close();
    this.socket?.close();
    this.socket = null;
  }

  private onTick(): void {
    this.node.tick(systemNowMs());
    this.flush();
  }

  /** @internal the socket's data handler. */
  onDatagram(data: Uint8Array, from: string, truncated: boolean): void {
    this.counters.datagramsIn += 1;
    this.counters.bytesIn += data.length;
    if (data.length === 0) {
      this.counters.refusalChecksReceived += 1;
      return;
    }
    const reason = this.admit(data, truncated);
    if (typeof reason === "string") {
      this.drop(reason, from);
      return;
    }
    const result = this.node.receiveDatagram(systemNowMs(), from, reason);
    if (!result.ok) this.drop(isForeign(reason) ? "foreign" : "malformed", from);
    this.flush();
  }

  /** The payload of an acceptable datagram, or why it is not acceptable. */
  private admit(data: Uint8Array, truncated: boolean): Uint8Array | GossipDropReason {
    if (truncated) return "truncated";
    if (data.length > DATAGRAM_BYTES_MAX) return "oversize";
    const payload = this.keyring.open(data);
    if (payload === null) return "unauthenticated";
    if (payload.length > swim.GOSSIP_PAYLOAD_BYTES_MAX) return "oversize";
    return payload;
  }

  private drop(reason: GossipDropReason, from: string): void {
    this.counters.dropped[reason] += 1;
    this.logger.debug("gossip datagram dropped", { reason, from });
  }

  /** @internal the socket's error handler: some destination refused (Bun says not which). */
  onSocketError(): void {
    this.counters.socketErrors += 1;
    this.prober.onSocketError();
  }

  private onRefused(address: string): void {
    if (this.socket === null) return;
    this.logger.debug("gossip peer port unreachable", { address });
    this.node.unreachable(systemNowMs(), address);
    this.flush();
  }

  private onHostSilent(address: string): void {
    if (this.socket === null) return;
    this.logger.debug("gossip peer host silent", { address });
    this.node.hostSilent(systemNowMs(), address);
    this.flush();
  }

  /**
   * Sends what the core queued, starts the host checks it asked for, delivers its events, and
   * observes its probes' round trips.
   */
  private flush(): void {
    const socket = this.socket;
    const nowMs = systemNowMs();
    for (const packet of this.node.takeOutbox()) {
      if (socket !== null) this.send(socket, packet, nowMs);
    }
    for (const address of this.node.takeHostChecks()) {
      if (socket !== null) this.hostChecker.check(address);
    }
    for (const event of this.node.takeEvents()) this.deliver(event);
    for (const roundTripMs of this.node.takeProbeRoundTrips()) this.onRoundTrip?.(roundTripMs);
  }

  private send(socket: UdpSocket, packet: swim.OutboundPacket, nowMs: number): void {
    const target = parseAddress(packet.to);
    if (!target.ok) {
      this.counters.sendFailures += 1;
      return;
    }
    const datagram = this.keyring.seal(packet.bytes);
    let sent = false;
    try {
      sent = socket.send(datagram, target.value.port, target.value.host);
    } catch {
      sent = false;
    }
    this.prober.noteSent(packet.to, nowMs);
    if (!sent) {
      // Bun returns false when the kernel would block or the send failed; UDP may lose it.
      this.counters.sendFailures += 1;
      return;
    }
    this.counters.datagramsOut += 1;
    this.counters.bytesOut += datagram.length;
  }

  private deliver(event: swim.MemberEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        // A subscriber's bug must not stop gossip; it is counted and logged.
        this.counters.listenerErrors += 1;
        this.logger.error("gossip listener threw", { error: String(error) });
      }
    }
  }
}

async function bindUdp(
  host: string,
  port: number,
  slot: { driver: GossipDriver | null },
): Promise<UdpSocket> {
  try {
    return await Bun.udpSocket({
      hostname: host,
      port,
      binaryType: "uint8array",
      socket: {
        data: (_socket, data, fromPort, fromHost, flags) =>
          slot.driver?.onDatagram(data, formatAddress(fromHost, fromPort), flags.truncated),
        error: () => slot.driver?.onSocketError(),
      },
    });
  } catch (error) {
    throw new GossipStartError(`gossip: cannot bind UDP ${host}:${port}`, { cause: error });
  }
}

/** The codec's first two bytes (its magic), read off an empty datagram once. */
const GOSSIP_MAGIC = swim.encodeDatagram([]).subarray(0, 2);

/** Not our protocol at all (wrong magic), as opposed to ours but malformed. */
function isForeign(payload: Uint8Array): boolean {
  return payload[0] !== GOSSIP_MAGIC[0] || payload[1] !== GOSSIP_MAGIC[1];
}

/** `host:port`, bracketing IPv6 hosts so parseAddress reads it back. */
function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
