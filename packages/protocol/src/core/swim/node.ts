/**
 * SwimNode: one member's SWIM + Lifeguard state machine, sans I/O. Inputs carry the time
 * (`tick`, `receive`, `join`, `leave`, `updateMeta`, `unreachable`); outputs are drained in the
 * spirit of etcd/raft's Ready (`takeOutbox`, `takeEvents`). It never reads a clock, draws from
 * Math.random, or touches a socket: the driver (or the simulator) does, and feeds it.
 *
 * Driver contract: call tick() every SWIM_TICK_INTERVAL_MS_RECOMMENDED or so; hand every
 * datagram to receiveDatagram(); call unreachable(address) when a send to that address fails
 * with ECONNREFUSED / ICMP port unreachable; run each address of takeHostChecks() through a
 * host check (HOST_CHECK_ATTEMPTS TCP connection attempts to it) and call hostSilent(address)
 * when none was answered, by SYN-ACK or RST, within config.hostCheckTimeoutMs; after each call,
 * send takeOutbox() and deliver takeEvents(). After leave(), keep ticking for about a second so the news spreads, then stop.
 */

import { assert, assertNever } from "../assert.ts";
import type { FtfsError, Result } from "../errors.ts";
import { ok } from "../errors.ts";
import type { Random } from "../prng.ts";
import { Awareness } from "./awareness.ts";
import { decodeDatagram, PacketBuilder } from "./codec.ts";
import type { SwimConfig } from "./config.ts";
import { validateSwimConfig } from "./config.ts";
import type { OutboundPacket, SwimContext, SwimCounters } from "./context.ts";
import {
  gossipSoon,
  newCounters,
  pushPacket,
  rumorTransmitLimit,
  setSuspicion,
} from "./context.ts";
import type { MemberRecord } from "./member-table.ts";
import { MemberTable, viewOf } from "./member-table.ts";
import type { SwimMessage } from "./messages.ts";
import {
  expireRelays,
  onAck,
  onHostSilent,
  onNack,
  onPing,
  onPingReq,
  onProbeTick,
} from "./probe.ts";
import { RumorQueue } from "./queue.ts";
import {
  aliveMessageOf,
  expireSuspicions,
  leaveMessageOf,
  onAlive,
  onDead,
  onLeave,
  onSuspect,
  suspectLocally,
} from "./rumors.ts";
import {
  onJoin,
  onPushPullTimer,
  onReconnectTimer,
  onSyncRequest,
  onSyncResponse,
  sendJoins,
} from "./sync.ts";
import type {
  GossipAddress,
  MemberEvent,
  MemberId,
  MemberMetaFields,
  MemberView,
} from "./types.ts";
import { isActive } from "./types.ts";

/** How often reclaim looks for members to forget; coarse on purpose, it is housekeeping. */
const RECLAIM_SCAN_INTERVAL_MS = 1000;

function isProbeMessage(message: SwimMessage): boolean {
  return (
    message.type === "ping" ||
    message.type === "ack" ||
    message.type === "ping-req" ||
    message.type === "nack"
  );
}

export interface SwimNodeOptions {
  readonly id: MemberId;
  readonly address: GossipAddress;
  readonly meta: MemberMetaFields;
  readonly config: SwimConfig;
  readonly prng: Random;
  /** Time of creation; timers start from here. */
  readonly nowMs: number;
  /** Incarnation to start at (0 for a fresh process; a restart refutes upward as needed). */
  readonly incarnation?: number;
}

export interface SwimStats extends SwimCounters {
  readonly awarenessScore: number;
  readonly queuedRumors: number;
  readonly members: number;
  readonly activeMembers: number;
}

export class SwimNode {
  private readonly ctx: SwimContext;

  constructor(options: SwimNodeOptions) {
    validateSwimConfig(options.config);
    const { config, prng, nowMs } = options;
    const self: MemberRecord = {
      id: options.id,
      address: options.address,
      state: "alive",
      incarnation: options.incarnation ?? 0,
      meta: { ...options.meta, metaVersion: 0 },
      stateChangeMs: nowMs,
      suspicion: null,
    };
    this.ctx = {
      config,
      prng,
      table: new MemberTable(self, prng, config.membersMax),
      queue: new RumorQueue(config.membersMax),
      awareness: new Awareness(config.awarenessMax),
      counters: newCounters(),
      outbox: [],
      events: [],
      roundTripsMs: [],
      hostChecks: [],
      relays: new Map(),
      suspects: new Set(),
      answeredSyncs: [],
      // Random phases so nodes started together do not probe and sync in lockstep.
      timers: {
        nextProbeMs: nowMs + prng.intBelow(config.probeIntervalMs),
        nextGossipMs: nowMs + prng.intBelow(config.gossipIntervalMs),
        nextPushPullMs: nowMs + prng.intBelow(Math.max(1, config.pushPullIntervalMs)),
        nextReconnectMs: nowMs + prng.intBelow(Math.max(1, config.reconnectIntervalMs)),
        nextReclaimMs: nowMs + RECLAIM_SCAN_INTERVAL_MS,
        nextJoinMs: Number.POSITIVE_INFINITY,
      },
      nowMs,
      lastTickMs: null,
      seq: 0,
      probe: null,
      leaving: false,
      seeds: [],
      joined: false,
    };
  }

  get id(): MemberId {
    return this.ctx.table.self.id;
  }

  get address(): GossipAddress {
    return this.ctx.table.self.address;
  }

  get incarnation(): number {
    return this.ctx.table.self.incarnation;
  }

  /** Drives every timer: probes, gossip, push-pull, reconnects, suspicions, relays, reclaim. */
  tick(nowMs: number): void {
    this.advance(nowMs);
    const ctx = this.ctx;
    this.detectStall();
    ctx.lastTickMs = nowMs;
    expireSuspicions(ctx);
    expireRelays(ctx);
    onProbeTick(ctx);
    if (nowMs >= ctx.timers.nextGossipMs) this.onGossipTimer();
    if (ctx.leaving) return;
    if (nowMs >= ctx.timers.nextPushPullMs) onPushPullTimer(ctx);
    if (nowMs >= ctx.timers.nextReconnectMs) onReconnectTimer(ctx);
    if (!ctx.joined && ctx.seeds.length > 0 && nowMs >= ctx.timers.nextJoinMs) sendJoins(ctx);
    if (nowMs >= ctx.timers.nextReclaimMs) this.onReclaimTimer();
  }

  /** Handles the messages of one datagram that came from `fromAddress`. */
  receive(nowMs: number, fromAddress: GossipAddress, messages: readonly SwimMessage[]): void {
    this.advance(nowMs);
    this.ctx.counters.packetsReceived += 1;
    this.ctx.counters.messagesReceived += messages.length;
    // News first, probes second: an ack we send then carries what this very packet taught us
    // (a buddy's suspicion of us is refuted in the ack to the buddy's ping).
    for (const message of messages)
      if (!isProbeMessage(message)) this.dispatch(fromAddress, message);
    for (const message of messages)
      if (isProbeMessage(message)) this.dispatch(fromAddress, message);
  }

  /** Decodes and handles one datagram; a malformed one is counted and returned as an error. */
  receiveDatagram(
    nowMs: number,
    fromAddress: GossipAddress,
    bytes: Uint8Array,
  ): Result<number, FtfsError> {
    const decoded = decodeDatagram(bytes);
    if (!decoded.ok) {
      this.ctx.counters.datagramsRejected += 1;
      return decoded;
    }
    this.receive(nowMs, fromAddress, decoded.value);
    return ok(decoded.value.length);
  }

  /** Asks the seeds for the cluster's state, and keeps asking until one answers. */
  join(nowMs: number, seeds: readonly GossipAddress[]): void {
    this.advance(nowMs);
    this.ctx.seeds = seeds.filter((seed) => seed !== this.address);
    this.ctx.joined = this.ctx.seeds.length === 0;
    if (this.ctx.seeds.length > 0) sendJoins(this.ctx);
  }

  /** Leaves gracefully: others will record us as `left`, never `dead`. Final for this node. */
  leave(nowMs: number): void {
    this.advance(nowMs);
    const ctx = this.ctx;
    if (ctx.leaving) return;
    ctx.leaving = true;
    ctx.probe = null;
    const self = ctx.table.self;
    ctx.table.setState(self, "left", nowMs);
    ctx.queue.enqueue(leaveMessageOf(self));
    gossipSoon(ctx);
    this.onGossipTimer();
  }

  /** Publishes new metadata: a new metaVersion, carried by a fresh incarnation. */
  updateMeta(nowMs: number, meta: MemberMetaFields): void {
    this.advance(nowMs);
    const self = this.ctx.table.self;
    assert(!this.ctx.leaving, "updateMeta after leave is a caller bug");
    self.meta = { ...meta, metaVersion: self.meta.metaVersion + 1 };
    self.incarnation += 1;
    this.ctx.queue.enqueue(aliveMessageOf(self));
  }

  /**
   * The transport says nothing listens at `address` any more (ECONNREFUSED, ICMP port
   * unreachable): strong evidence the process is gone. The member is suspected at once with a
   * short timer; it can still refute, as with any suspicion.
   */
  unreachable(nowMs: number, address: GossipAddress): void {
    this.advance(nowMs);
    const ctx = this.ctx;
    const record = ctx.table.byAddress(address);
    if (record === undefined || record.id === this.id || !isActive(record.state)) return;
    ctx.counters.unreachableReports += 1;
    if (record.state === "alive") suspectLocally(ctx, record);
    record.suspicion?.capDeadline(nowMs + ctx.config.unreachableSuspicionMs);
  }

  /**
   * The host check found nothing at `address`'s host answering (no SYN-ACK, no RST): a cut link
   * or a dead host rather than a paused process. Evidence for the probe of that member only.
   */
  hostSilent(nowMs: number, address: GossipAddress): void {
    this.advance(nowMs);
    onHostSilent(this.ctx, address);
  }

  /** Addresses whose host the driver should check since the last call (see hostSilent). */
  takeHostChecks(): GossipAddress[] {
    return this.ctx.hostChecks.splice(0, this.ctx.hostChecks.length);
  }

  /** Our open suspicion of `id`, for diagnostics and the simulator's measurements. */
  suspicionOf(id: MemberId): { startMs: number; deadlineMs: number; confirmations: number } | null {
    const suspicion = this.ctx.table.get(id)?.suspicion ?? null;
    if (suspicion === null) return null;
    const { startMs, deadlineMs, confirmations } = suspicion;
    return { startMs, deadlineMs, confirmations };
  }

  /** Packets to send since the last call, each at most GOSSIP_PAYLOAD_BYTES_MAX bytes. */
  takeOutbox(): OutboundPacket[] {
    return this.ctx.outbox.splice(0, this.ctx.outbox.length);
  }

  /** Membership changes since the last call, in the order they happened. */
  takeEvents(): MemberEvent[] {
    return this.ctx.events.splice(0, this.ctx.events.length);
  }

  /**
   * Round trips (ms) of the probes answered since the last call, direct or through a relay:
   * from our ping to the first ack, as the core's clock (the driver's nowMs) saw them.
   */
  takeProbeRoundTrips(): number[] {
    return this.ctx.roundTripsMs.splice(0, this.ctx.roundTripsMs.length);
  }

  /** Every member we track, self included. */
  members(): MemberView[] {
    return [...this.ctx.table.all()].map(viewOf);
  }

  member(id: MemberId): MemberView | undefined {
    const record = this.ctx.table.get(id);
    return record === undefined ? undefined : viewOf(record);
  }

  stats(): SwimStats {
    const ctx = this.ctx;
    return {
      ...ctx.counters,
      awarenessScore: ctx.awareness.score,
      queuedRumors: ctx.queue.size,
      members: ctx.table.size,
      activeMembers: ctx.table.activeCount,
    };
  }

  /** Time only moves forward: a driver that goes back in time is buggy. */
  private advance(nowMs: number): void {
    assert(Number.isFinite(nowMs), "nowMs must be a finite number");
    this.ctx.nowMs = Math.max(this.ctx.nowMs, nowMs);
  }

  private dispatch(fromAddress: GossipAddress, message: SwimMessage): void {
    const ctx = this.ctx;
    switch (message.type) {
      case "ping":
        return onPing(ctx, fromAddress, message);
      case "ack":
        return onAck(ctx, fromAddress, message);
      case "ping-req":
        return onPingReq(ctx, fromAddress, message);
      case "nack":
        return onNack(ctx, message);
      case "alive":
        return onAlive(ctx, message);
      case "suspect":
        return onSuspect(ctx, message);
      case "dead":
        return onDead(ctx, message);
      case "leave":
        return onLeave(ctx, message);
      case "sync-request":
        return onSyncRequest(ctx, fromAddress, message);
      case "sync-response":
        return onSyncResponse(ctx, message);
      case "join":
        return onJoin(ctx, fromAddress, message);
      default:
        return assertNever(message, "swim message");
    }
  }

  /**
   * A long gap between ticks means we were not running (GC, SIGSTOP, a starved CPU). Time we
   * did not observe must not count against others: every pending deadline slides by the gap,
   * so the messages that waited in our socket are read before anyone is judged. The stall is
   * also evidence that we are unhealthy.
   */
  private detectStall(): void {
    const ctx = this.ctx;
    if (ctx.lastTickMs === null) return;
    const gapMs = ctx.nowMs - ctx.lastTickMs;
    if (gapMs <= ctx.config.stallThresholdMs) return;
    ctx.counters.stalls += 1;
    ctx.awareness.applyDelta(1);
    if (ctx.probe !== null) {
      ctx.probe.ackDeadlineMs += gapMs;
      ctx.probe.endMs += gapMs;
    }
    for (const relay of ctx.relays.values()) {
      relay.deadlineMs += gapMs;
      if (relay.resendMs !== null) relay.resendMs += gapMs;
    }
    for (const id of ctx.suspects) ctx.table.get(id)?.suspicion?.shift(gapMs);
  }

  /** Sends queued rumors to a few random members (and recently dead ones, so they can refute). */
  private onGossipTimer(): void {
    const ctx = this.ctx;
    ctx.timers.nextGossipMs = ctx.nowMs + ctx.config.gossipIntervalMs;
    if (ctx.queue.size === 0) return;
    const recentlyDeadMs = ctx.config.gossipToTheDeadMs;
    const targets = ctx.table.sample(
      ctx.config.gossipNodes,
      (record) =>
        isActive(record.state) ||
        (record.state === "dead" && ctx.nowMs - record.stateChangeMs < recentlyDeadMs),
    );
    const limit = rumorTransmitLimit(ctx);
    for (const target of targets) {
      const packet = new PacketBuilder();
      ctx.queue.fill(packet, limit);
      if (packet.isEmpty) return;
      pushPacket(ctx, { to: target.address, messages: packet.messages, bytes: packet.encode() });
    }
  }

  /** Forgets members dead or left long enough ago; they no longer cost memory or gossip. */
  private onReclaimTimer(): void {
    const ctx = this.ctx;
    ctx.timers.nextReclaimMs = ctx.nowMs + RECLAIM_SCAN_INTERVAL_MS;
    if (ctx.table.size === ctx.table.activeCount) return;
    const forget: MemberId[] = [];
    for (const record of ctx.table.all()) {
      if (record.id === this.id || isActive(record.state)) continue;
      const keepMs = record.state === "dead" ? ctx.config.deadReclaimMs : ctx.config.leftReclaimMs;
      if (ctx.nowMs - record.stateChangeMs >= keepMs) forget.push(record.id);
    }
    for (const id of forget) {
      const record = ctx.table.get(id);
      if (record !== undefined) setSuspicion(ctx, record, null);
      ctx.table.remove(id);
    }
  }
}
