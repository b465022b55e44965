/**
 * The state one SwimNode holds, as a plain record the handler modules (probe, rumors, sync)
 * share, plus the two ways they produce output: a packet to send (with rumors piggybacked in
 * whatever room is left) and an event for the app. Owns the output bounds; no decisions.
 */

import { assert } from "../assert.ts";
import type { Random } from "../prng.ts";
import type { Awareness } from "./awareness.ts";
import { PacketBuilder } from "./codec.ts";
import type { SwimConfig } from "./config.ts";
import {
  SWIM_EVENTS_PENDING_MAX,
  SWIM_HOST_CHECKS_PENDING_MAX,
  SWIM_OUTBOX_PACKETS_MAX,
  SWIM_ROUND_TRIPS_PENDING_MAX,
  retransmitLimit,
} from "./config.ts";
import type { MemberRecord, MemberTable } from "./member-table.ts";
import { viewOf } from "./member-table.ts";
import type { PingMessage, SwimMessage } from "./messages.ts";
import type { RumorQueue } from "./queue.ts";
import type { Suspicion } from "./suspicion.ts";
import type { GossipAddress, MemberEvent, MemberEventKind, MemberId } from "./types.ts";

/** One datagram for the driver: `bytes` is the encoded `messages`, at most the payload limit. */
export interface OutboundPacket {
  readonly to: GossipAddress;
  readonly messages: readonly SwimMessage[];
  readonly bytes: Uint8Array;
}

/** The probe of one member in the current protocol period. */
export interface ActiveProbe {
  readonly seq: number;
  /** When the ping went out: its ack's arrival, less this, is the probe's round trip. */
  readonly sentMs: number;
  readonly target: MemberId;
  /** The target's incarnation when probed: a refutation meanwhile voids the verdict. */
  readonly incarnation: number;
  ackDeadlineMs: number;
  endMs: number;
  indirect: boolean;
  expectedNacks: number;
  nacks: number;
  /** The driver reported the target's host silent (no answer to any connection attempt). */
  hostSilent: boolean;
}

/** A ping we send for someone else's ping-req. */
export interface Relay {
  readonly originSeq: number;
  readonly originAddress: GossipAddress;
  readonly ping: PingMessage;
  readonly targetAddress: GossipAddress;
  /** When the ping goes out again if unanswered (null: already resent). */
  resendMs: number | null;
  deadlineMs: number;
}

export interface SwimCounters {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  messagesReceived: number;
  datagramsRejected: number;
  probes: number;
  probesFailed: number;
  pingsMisdirected: number;
  /** Members this node began to suspect (its own verdict, or news from others). */
  suspicions: number;
  /** News that this node was suspect or dead, refuted with a higher incarnation. */
  refutations: number;
  unreachableReports: number;
  /** Host checks asked of the driver, and how many it reported silent. */
  hostChecks: number;
  hostsSilent: number;
  /** Probes that failed with the target's host silent: suspected on the short timer. */
  silentHostSuspicions: number;
  relaysDropped: number;
  membersRejected: number;
  eventsDropped: number;
  packetsDropped: number;
  stalls: number;
}

export function newCounters(): SwimCounters {
  return {
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    messagesReceived: 0,
    datagramsRejected: 0,
    probes: 0,
    probesFailed: 0,
    pingsMisdirected: 0,
    suspicions: 0,
    refutations: 0,
    unreachableReports: 0,
    hostChecks: 0,
    hostsSilent: 0,
    silentHostSuspicions: 0,
    relaysDropped: 0,
    membersRejected: 0,
    eventsDropped: 0,
    packetsDropped: 0,
    stalls: 0,
  };
}

export interface SwimTimers {
  nextProbeMs: number;
  nextGossipMs: number;
  nextPushPullMs: number;
  nextReconnectMs: number;
  nextReclaimMs: number;
  nextJoinMs: number;
}

export interface SwimContext {
  readonly config: SwimConfig;
  readonly prng: Random;
  readonly table: MemberTable;
  readonly queue: RumorQueue;
  readonly awareness: Awareness;
  readonly counters: SwimCounters;
  readonly outbox: OutboundPacket[];
  readonly events: MemberEvent[];
  /** Round trips (ms) of probes answered since the driver last took them. */
  readonly roundTripsMs: number[];
  /** Addresses whose host the driver should check (SwimConfig.hostCheckTimeoutMs). */
  readonly hostChecks: GossipAddress[];
  readonly relays: Map<number, Relay>;
  /** Members with an open suspicion, so tick() need not scan the whole table. */
  readonly suspects: Set<MemberId>;
  /** `address#syncId` of sync requests already answered, oldest first. */
  readonly answeredSyncs: string[];
  readonly timers: SwimTimers;
  nowMs: number;
  lastTickMs: number | null;
  seq: number;
  probe: ActiveProbe | null;
  leaving: boolean;
  seeds: readonly GossipAddress[];
  joined: boolean;
}

export function nextSeq(ctx: SwimContext): number {
  ctx.seq = (ctx.seq + 1) >>> 0;
  return ctx.seq;
}

/**
 * Sends `messages` (which must fit one datagram) to `to`, filling the rest with queued rumors:
 * every packet we send carries gossip, as SWIM intends.
 */
export function sendPacket(
  ctx: SwimContext,
  to: GossipAddress,
  messages: readonly SwimMessage[],
  piggyback = true,
): void {
  const packet = new PacketBuilder();
  for (const message of messages) {
    assert(packet.tryAdd(message), `a ${message.type} message must fit its datagram`);
  }
  if (piggyback) ctx.queue.fill(packet, rumorTransmitLimit(ctx));
  if (packet.isEmpty) return;
  pushPacket(ctx, { to, messages: packet.messages, bytes: packet.encode() });
}

/**
 * R(n) for our rumors, with n every member we still remember, dead ones included (memberlist
 * counts them too): a death must not shrink the budget of the very rumor that announces it.
 * At 10 members R drops from 8 to 4 when n falls to 9, and the news of a death then missed a
 * survivor in one run of fifteen (the detection curve, issue 20).
 */
export function rumorTransmitLimit(ctx: SwimContext): number {
  return retransmitLimit(ctx.config, ctx.table.size);
}

export function pushPacket(ctx: SwimContext, packet: OutboundPacket): void {
  if (ctx.outbox.length >= SWIM_OUTBOX_PACKETS_MAX) {
    ctx.outbox.shift();
    ctx.counters.packetsDropped += 1;
  }
  ctx.outbox.push(packet);
  ctx.counters.packetsSent += 1;
  ctx.counters.bytesSent += packet.bytes.length;
}

/** Asks the driver to check whether `address`'s host answers at all. */
export function requestHostCheck(ctx: SwimContext, address: GossipAddress): void {
  if (ctx.config.hostCheckTimeoutMs === 0) return;
  if (ctx.hostChecks.length >= SWIM_HOST_CHECKS_PENDING_MAX) ctx.hostChecks.shift();
  ctx.hostChecks.push(address);
  ctx.counters.hostChecks += 1;
}

/** A probe was answered `roundTripMs` after its ping went out. */
export function noteRoundTrip(ctx: SwimContext, roundTripMs: number): void {
  if (ctx.roundTripsMs.length >= SWIM_ROUND_TRIPS_PENDING_MAX) ctx.roundTripsMs.shift();
  ctx.roundTripsMs.push(roundTripMs);
}

export function emitEvent(ctx: SwimContext, kind: MemberEventKind, record: MemberRecord): void {
  if (record.id === ctx.table.self.id) return;
  if (ctx.events.length >= SWIM_EVENTS_PENDING_MAX) {
    ctx.events.shift();
    ctx.counters.eventsDropped += 1;
  }
  ctx.events.push({ kind, atMs: ctx.nowMs, member: viewOf(record) });
}

export function setSuspicion(
  ctx: SwimContext,
  record: MemberRecord,
  suspicion: Suspicion | null,
): void {
  record.suspicion = suspicion;
  if (suspicion === null) ctx.suspects.delete(record.id);
  else ctx.suspects.add(record.id);
}

/** Our own important news (a refutation, a death we declared, our leave) goes out at once. */
export function gossipSoon(ctx: SwimContext): void {
  ctx.timers.nextGossipMs = Math.min(ctx.timers.nextGossipMs, ctx.nowMs);
}
