/**
 * Every limit and timing of the gossip layer, with the formulas that turn them into detection
 * times. Nothing else in swim/ invents a number. Pure: no I/O, no clock.
 *
 * Timing model (one node's view; n = members counted alive or suspect, self included):
 *
 *   probe period        P(score)  = probeIntervalMs · (score + 1)   (Lifeguard LHA-probe)
 *   direct ack wait     T(score)  = probeTimeoutMs · (score + 1)
 *   suspicion minimum   Smin(n)   = suspicionMult · max(1, log10(n)) · probeIntervalMs
 *   suspicion maximum   Smax(n)   = suspicionMaxTimeoutMult · Smin(n)
 *   confirmations wanted k(n)     = suspicionMult − 2, or 0 when n − 2 < that
 *   suspicion timeout   S(c)      = max(Smin, Smax − (Smax − Smin) · log(c+1) / log(k+1))
 *                                   (c independent confirmations; Smin outright when k = 0)
 *   retransmits/rumor   R(n)      = retransmitMult · ceil(log10(n + 1))
 *
 * With the LAN preset and n ≤ 10: P = 1 s, T = 300 ms, Smin = 4 s, Smax = 24 s, k = 2, R = 8.
 * A silent member is first probed after a wait C (median ≈ 0.7 s with 9 probers; each prober
 * reaches it at least once every 2·(n−1) probe periods), its probe fails at C + P, and with two
 * confirmations it is declared dead at C + P + Smin ≈ 5.7 s — memberlist's LAN figure, which is
 * the anchor. A member whose port answers "unreachable" (ICMP/ECONNREFUSED: the process is gone)
 * is suspected at first contact and declared dead after unreachableSuspicionMs, so C + 0.5 s
 * plus a few gossip rounds (≈ 2 s median) reach every survivor. A pause of ≤ 2 s is safe: the
 * earliest a suspicion can start is one probe period after the pause began, so death needs
 * P + Smin = 5 s of silence, and the resumed node refutes at its first received message.
 *
 * A cut link or a hung host (issue 20) answers nothing at all, so by timing alone it looks like
 * a paused process, and no suspicion length can both declare it dead in under 3 s and spare a
 * 3 s SIGSTOP. What tells them apart is the member's host: a paused process's kernel still
 * answers a TCP connection attempt to its port (SYN-ACK, or RST where nothing listens on TCP),
 * a cut link's or a dead host's does not. So when a direct ping goes unanswered, the core also
 * asks the driver for a host check (HOST_CHECK_ATTEMPTS connection attempts, hostCheckTimeoutMs
 * to answer). A probe that fails with the host silent and at least one relay's nack (someone
 * else reaches us but not the target: the fault is not only ours) is a silent host: suspected
 * with a timer of silentHostSuspicionMs, like a refused port, and still refutable.
 *
 *   silent host declared dead   ≈ C + T + max(hostCheckTimeoutMs, relayNackTimeoutMs)
 *                                   + silentHostSuspicionMs + one datagram
 *                               ≈ 0.7 + 0.3 + 0.3 + 0.4 s ≈ 1.7 s median at n = 10
 *
 * (the probe concludes as soon as the host check is silent and every relay has nacked; the
 * declarer tells up to SWIM_DEATH_NOTICE_MEMBERS_MAX members directly, so at 10 members every
 * survivor knows within a one-way delay of the first). What is left is C, the wait for some
 * prober to reach the member: it is the probe rate, which the steady load bounds (issue 20's
 * aim: at most Serf's packets per node), and it grows when probers' local health is raised.
 *
 * Under loss the ack timeout also re-sends the direct ping (memberlist sends its TCP ping then);
 * the probe fails only when the direct ping, its resend and every relay's path all lose a packet.
 */

import { assert } from "../assert.ts";

/** One datagram on the wire: under a 1,500-byte Ethernet MTU less IP/UDP headers (memberlist). */
export const GOSSIP_DATAGRAM_BYTES_MAX = 1400;
/**
 * Bytes the driver may add around our payload (an HMAC-SHA256 tag of 32 bytes, a key id and a
 * version, with headroom), so authenticated datagrams still fit GOSSIP_DATAGRAM_BYTES_MAX.
 */
export const GOSSIP_DATAGRAM_RESERVED_BYTES = 64;
/** What the codec may fill: every packet the core emits encodes to at most this. */
export const GOSSIP_PAYLOAD_BYTES_MAX = GOSSIP_DATAGRAM_BYTES_MAX - GOSSIP_DATAGRAM_RESERVED_BYTES;
/** Messages in one datagram; the smallest message is ~25 bytes, so 1,336 bytes hold < 64. */
export const GOSSIP_MESSAGES_PER_DATAGRAM_MAX = 64;
/** Members one node tracks (self included); past it, news of new members is dropped, counted. */
export const SWIM_MEMBERS_MAX = 4096;
/** Ping-reqs we relay at once; past it a request is dropped (its sender sees no nack: fair). */
export const SWIM_RELAYS_IN_FLIGHT_MAX = 64;
/** Sync requests remembered as answered, so the chunks of one request get one answer. */
export const SWIM_SYNC_ANSWERED_REMEMBERED = 64;
/** Events held for the app; past it the oldest are dropped and counted (the app is stuck). */
export const SWIM_EVENTS_PENDING_MAX = 65_536;
/** Packets held for the driver; past it the oldest are dropped and counted. */
export const SWIM_OUTBOX_PACKETS_MAX = 65_536;
/**
 * Probe round trips held for the driver (its latency histogram); past it the oldest are
 * dropped. A driver takes them after every call, so it holds one or two at most.
 */
export const SWIM_ROUND_TRIPS_PENDING_MAX = 1_024;
/** Host checks held for the driver; past it the oldest are dropped (a check is a hint). */
export const SWIM_HOST_CHECKS_PENDING_MAX = 64;
/**
 * Connection attempts of one host check, in parallel: one lost SYN or answer must not make a
 * live host look silent. One attempt fails 19% of the time at 10% loss each way (five: 4e-4),
 * 51% at 30% (five: 3.5%); each costs a SYN, its answer and a RST, and a check runs only when
 * a direct ping went unanswered. Three attempts let 1 in 80 silent-host verdicts at 30% loss
 * end in a false death (the detection curve); five, none seen.
 */
export const HOST_CHECK_ATTEMPTS = 5;
/** Relays' nacks a silent-host verdict needs: someone else reaches us but not the target. */
export const SILENT_HOST_NACKS_MIN = 1;
/**
 * Members told directly, at once, of a death we declare; the rest hear it by gossip. Gossip
 * alone takes a few 200 ms rounds to reach every survivor (3 members a round); at 10 members
 * this is everyone in one hop. Costs one small datagram each, once per death we declare.
 */
export const SWIM_DEATH_NOTICE_MEMBERS_MAX = 32;
/** How often a driver should call tick(): timeouts fire at most this late. */
export const SWIM_TICK_INTERVAL_MS_RECOMMENDED = 50;

/** How many members a push-pull interval is tuned for before it starts to stretch (memberlist). */
const PUSH_PULL_SCALE_THRESHOLD_MEMBERS = 32;

export interface SwimConfig {
  /** Time between probes of successive members (before Lifeguard scaling). */
  readonly probeIntervalMs: number;
  /** Wait for a direct ack before asking others to ping-req; must be well under the interval. */
  readonly probeTimeoutMs: number;
  /** Members asked to ping a silent target on our behalf (SWIM's k). */
  readonly indirectChecks: number;
  /**
   * A relay's wait before it nacks. Shorter than probeTimeoutMs so the nack reaches the prober
   * before its probe period ends (timeout + relay wait + two one-way delays < interval).
   */
  readonly relayNackTimeoutMs: number;
  readonly suspicionMult: number;
  readonly suspicionMaxTimeoutMult: number;
  /** Suspicion length after the transport reported the member's port unreachable. */
  readonly unreachableSuspicionMs: number;
  /**
   * How long the driver waits for the member's host to answer a connection attempt before it
   * reports the host silent. At most probeIntervalMs − probeTimeoutMs, so the verdict comes
   * before the probe period ends. 0 turns host checks off.
   */
  readonly hostCheckTimeoutMs: number;
  /** Suspicion length after a probe failed with the member's host silent (see the header). */
  readonly silentHostSuspicionMs: number;
  readonly retransmitMult: number;
  /** Rumors are also sent on their own this often, to gossipNodes random members. */
  readonly gossipIntervalMs: number;
  readonly gossipNodes: number;
  /** Dead members still get gossip this long, so a wrongly declared one learns and refutes. */
  readonly gossipToTheDeadMs: number;
  /** Full state exchange with one random member (stretched for large clusters). */
  readonly pushPullIntervalMs: number;
  /** Try a state exchange with one remembered dead member this often: heals partitions. */
  readonly reconnectIntervalMs: number;
  /** Resend join to the seeds this often until one answers. */
  readonly joinRetryMs: number;
  /** Lifeguard local health: the score runs 0..awarenessMax−1. */
  readonly awarenessMax: number;
  /**
   * A gap between two ticks longer than this means we were stalled (GC, SIGSTOP, overload):
   * our pending deadlines slide forward by the gap, so we judge others only after reading what
   * they sent while we were away.
   */
  readonly stallThresholdMs: number;
  /** Dead members are remembered (and retried by reconnect) this long, then forgotten. */
  readonly deadReclaimMs: number;
  /** Members that left gracefully are remembered this long, then forgotten. */
  readonly leftReclaimMs: number;
  readonly membersMax: number;
}

/**
 * Memberlist's DefaultLANConfig timings, plus the unreachable and silent-host fast paths and
 * the stall guard. One departure: the direct ack wait is 300 ms, not 500 ms. A LAN round trip
 * is well under a millisecond; the wait only decides when indirect probes and the host check
 * start, while a suspicion still needs the whole probe period to pass unanswered, so a slow
 * ack costs a ping-req round, never a suspicion (detection curve: cut link 1.80 → 1.60 s in
 * the simulator, suspicions at 10% and 30% loss unchanged, no false death).
 */
export const SWIM_LAN_CONFIG: SwimConfig = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 300,
  indirectChecks: 3,
  relayNackTimeoutMs: 300,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  unreachableSuspicionMs: 500,
  hostCheckTimeoutMs: 300,
  silentHostSuspicionMs: 400,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 10_000,
  joinRetryMs: 1000,
  awarenessMax: 8,
  stallThresholdMs: 500,
  deadReclaimMs: 3_600_000,
  leftReclaimMs: 300_000,
  membersMax: SWIM_MEMBERS_MAX,
};

/** A config with some fields replaced, checked: a bad config is an operator's bug, caught early. */
export function swimConfig(overrides: Partial<SwimConfig> = {}): SwimConfig {
  const config: SwimConfig = { ...SWIM_LAN_CONFIG, ...overrides };
  validateSwimConfig(config);
  return config;
}

export function validateSwimConfig(config: SwimConfig): void {
  for (const [key, value] of Object.entries(config)) {
    const valid = Number.isSafeInteger(value) && value >= 0;
    assert(valid, `swim config ${key} must be an integer ≥ 0`);
  }
  assert(config.probeIntervalMs > 0, "probeIntervalMs must be positive");
  assert(
    config.probeTimeoutMs < config.probeIntervalMs,
    "probeTimeoutMs must be < probeIntervalMs",
  );
  assert(
    config.relayNackTimeoutMs <= config.probeTimeoutMs,
    "relayNackTimeoutMs must be ≤ probeTimeoutMs",
  );
  assert(
    config.hostCheckTimeoutMs <= config.probeIntervalMs - config.probeTimeoutMs,
    "hostCheckTimeoutMs must be ≤ probeIntervalMs − probeTimeoutMs",
  );
  assert(config.suspicionMult >= 1, "suspicionMult must be ≥ 1");
  assert(config.suspicionMaxTimeoutMult >= 1, "suspicionMaxTimeoutMult must be ≥ 1");
  assert(config.retransmitMult >= 1, "retransmitMult must be ≥ 1");
  assert(config.gossipIntervalMs > 0, "gossipIntervalMs must be positive");
  assert(config.awarenessMax >= 1, "awarenessMax must be ≥ 1");
  assert(
    config.membersMax >= 2 && config.membersMax <= SWIM_MEMBERS_MAX,
    "membersMax out of range",
  );
}

/** Smin(n): the shortest suspicion, reached with k confirmations. */
export function suspicionTimeoutMinMs(config: SwimConfig, members: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, members)));
  return Math.floor(config.suspicionMult * scale * config.probeIntervalMs);
}

/** Smax(n): a lone suspicion's length. */
export function suspicionTimeoutMaxMs(config: SwimConfig, members: number): number {
  return config.suspicionMaxTimeoutMult * suspicionTimeoutMinMs(config, members);
}

/** k(n): independent confirmations that drive a suspicion to Smin; none in tiny clusters. */
export function suspicionConfirmationsWanted(config: SwimConfig, members: number): number {
  const wanted = Math.max(0, config.suspicionMult - 2);
  return members - 2 < wanted ? 0 : wanted;
}

/** R(n): how many packets carry one rumor before it is dropped from the queue. */
export function retransmitLimit(config: SwimConfig, members: number): number {
  return config.retransmitMult * Math.ceil(Math.log10(members + 1));
}

/** Push-pull interval stretched for big clusters, so full syncs cost O(log n) per node. */
export function pushPullIntervalMs(config: SwimConfig, members: number): number {
  if (members <= PUSH_PULL_SCALE_THRESHOLD_MEMBERS) return config.pushPullIntervalMs;
  const stretch = Math.ceil(Math.log2(members) - Math.log2(PUSH_PULL_SCALE_THRESHOLD_MEMBERS)) + 1;
  return config.pushPullIntervalMs * stretch;
}

/**
 * The longest a given live prober can go without probing a given active member while healthy
 * (score 0): the member sits somewhere in each shuffled round of n−1 probes, so two probes of it
 * are at most two rounds apart.
 */
export function probeContactBoundMs(config: SwimConfig, members: number): number {
  return 2 * Math.max(1, members - 1) * config.probeIntervalMs;
}

/**
 * Upper bound for every live member to declare a silent crashed member dead, with no help from
 * others' rumors: each does so by its own probe (contact bound + one probe period) followed by
 * a lone suspicion (Smax). Rumors and confirmations only shorten this.
 */
export function silentDetectionBoundMs(config: SwimConfig, members: number): number {
  return (
    probeContactBoundMs(config, members) +
    config.probeIntervalMs +
    suspicionTimeoutMaxMs(config, members) +
    config.stallThresholdMs
  );
}
