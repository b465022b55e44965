/**
 * SWIM's failure detector, one protocol period at a time: ping the next member of the round;
 * on silence past the (health-scaled) timeout ask k others to ping it (ping-req) and expect
 * their nacks if they cannot reach it either; at the end of the period suspect it. Also the
 * relay side of ping-req, and Lifeguard's buddy system: a member we suspect hears it from us.
 */

import {
  nextSeq,
  noteRoundTrip,
  requestHostCheck,
  sendPacket,
  type ActiveProbe,
  type SwimContext,
} from "./context.ts";
import { SILENT_HOST_NACKS_MIN, SWIM_RELAYS_IN_FLIGHT_MAX } from "./config.ts";
import type { MemberRecord } from "./member-table.ts";
import type {
  AckMessage,
  NackMessage,
  PingMessage,
  PingReqMessage,
  SuspectMessage,
  SwimMessage,
} from "./messages.ts";
import { aliveMessageOf, suspectLocally } from "./rumors.ts";
import type { GossipAddress, MemberId } from "./types.ts";
import { isActive } from "./types.ts";

/** Lifeguard's buddy system: whoever pings a suspect tells it, so it can refute at once. */
function buddyNotice(ctx: SwimContext, record: MemberRecord | undefined): SuspectMessage[] {
  if (record === undefined || record.state !== "suspect") return [];
  const from = ctx.table.self.id;
  return [{ type: "suspect", id: record.id, incarnation: record.incarnation, from }];
}

/** Advances the probe state machine; called from tick(). */
export function onProbeTick(ctx: SwimContext): void {
  const probe = ctx.probe;
  if (probe !== null) {
    if (!probe.indirect && ctx.nowMs >= probe.ackDeadlineMs) onProbeTimeout(ctx, probe);
    if (ctx.nowMs >= probe.endMs) onProbePeriodEnd(ctx, probe);
  }
  if (ctx.probe === null && !ctx.leaving && ctx.nowMs >= ctx.timers.nextProbeMs) startProbe(ctx);
}

function startProbe(ctx: SwimContext): void {
  const periodMs = ctx.awareness.scale(ctx.config.probeIntervalMs);
  ctx.timers.nextProbeMs = ctx.nowMs + periodMs;
  const target = ctx.table.nextProbeTarget();
  if (target === null) return;
  const seq = nextSeq(ctx);
  ctx.probe = {
    seq,
    sentMs: ctx.nowMs,
    target: target.id,
    incarnation: target.incarnation,
    ackDeadlineMs: ctx.nowMs + ctx.awareness.scale(ctx.config.probeTimeoutMs),
    endMs: ctx.nowMs + periodMs,
    indirect: false,
    expectedNacks: 0,
    nacks: 0,
    hostSilent: false,
  };
  ctx.counters.probes += 1;
  const ping: PingMessage = { type: "ping", seq, from: ctx.table.self.id, target: target.id };
  sendPacket(ctx, target.address, [ping, ...buddyNotice(ctx, target)]);
  recheckOneSuspect(ctx, target.id);
}

/**
 * While we suspect someone, we also ping one suspect per period with the buddy notice. A lone
 * suspicion lasts up to Smax; round-robin alone might reach the suspect only once or twice in
 * that time, and under heavy loss that exchange can fail. Its ack (news first, see receive())
 * carries the refutation. Costs one packet per period, only while suspicions are open.
 */
function recheckOneSuspect(ctx: SwimContext, alreadyProbed: MemberId): void {
  if (ctx.suspects.size === 0) return;
  const candidates = [...ctx.suspects].filter((id) => id !== alreadyProbed);
  if (candidates.length === 0) return;
  const suspect = ctx.table.get(candidates[ctx.prng.intBelow(candidates.length)] as MemberId);
  if (suspect === undefined || suspect.state !== "suspect") return;
  const ping: PingMessage = {
    type: "ping",
    seq: nextSeq(ctx),
    from: ctx.table.self.id,
    target: suspect.id,
  };
  sendPacket(ctx, suspect.address, [ping, ...buddyNotice(ctx, suspect)]);
}

/**
 * No direct ack in time: ask k healthy members to try (SWIM's indirect probe), ping again
 * ourselves (one lost datagram must not cost a suspicion: memberlist sends a TCP ping here),
 * and ask the driver whether the target's host answers at all (config.ts, issue 20).
 */
function onProbeTimeout(ctx: SwimContext, probe: ActiveProbe): void {
  probe.indirect = true;
  const target = ctx.table.get(probe.target);
  if (target === undefined || !isActive(target.state)) return;
  const ping: PingMessage = {
    type: "ping",
    seq: probe.seq,
    from: ctx.table.self.id,
    target: target.id,
  };
  sendPacket(ctx, target.address, [ping, ...buddyNotice(ctx, target)]);
  requestHostCheck(ctx, target.address);
  const helpers = ctx.table.sample(
    ctx.config.indirectChecks,
    (record) => record.state === "alive" && record.id !== probe.target,
  );
  const request: PingReqMessage = {
    type: "ping-req",
    seq: probe.seq,
    from: ctx.table.self.id,
    target: target.id,
    targetAddress: target.address,
  };
  for (const helper of helpers) sendPacket(ctx, helper.address, [request]);
  probe.expectedNacks = helpers.length;
}

/**
 * The period ended without any ack. Missing nacks mean our own messages are not getting
 * through, so the blame is partly ours (Lifeguard): raise the score by the nacks missing, or by
 * one if nobody could help.
 */
function onProbePeriodEnd(ctx: SwimContext, probe: ActiveProbe): void {
  ctx.probe = null;
  ctx.counters.probesFailed += 1;
  const missing = probe.expectedNacks > 0 ? Math.max(0, probe.expectedNacks - probe.nacks) : 1;
  ctx.awareness.applyDelta(missing);
  const target = ctx.table.get(probe.target);
  if (target === undefined || !isActive(target.state)) return;
  // A refutation during the period voids the verdict: it proved the target alive.
  if (target.incarnation !== probe.incarnation) return;
  suspectLocally(ctx, target);
  if (probe.hostSilent && probe.nacks >= SILENT_HOST_NACKS_MIN) {
    ctx.counters.silentHostSuspicions += 1;
    target.suspicion?.capDeadline(ctx.nowMs + ctx.config.silentHostSuspicionMs);
    // Buddy at once: if the verdict was wrong (heavy loss), the suspect's ack refutes it well
    // within the short timer instead of waiting for the suspicion to reach it by gossip.
    const ping: PingMessage = {
      type: "ping",
      seq: nextSeq(ctx),
      from: ctx.table.self.id,
      target: target.id,
    };
    sendPacket(ctx, target.address, [ping, ...buddyNotice(ctx, target)]);
  }
}

/** The driver's verdict on a host check: nothing at `address` answered in time. */
export function onHostSilent(ctx: SwimContext, address: GossipAddress): void {
  ctx.counters.hostsSilent += 1;
  const probe = ctx.probe;
  if (probe === null) return;
  const target = ctx.table.get(probe.target);
  if (target === undefined || target.address !== address) return;
  probe.hostSilent = true;
  concludeIfHopeless(ctx, probe);
}

/**
 * The target's host is silent and every relay has nacked: nothing is left that could still
 * answer within the period, so the verdict need not wait for the period to end.
 */
function concludeIfHopeless(ctx: SwimContext, probe: ActiveProbe): void {
  const allNacked = probe.expectedNacks > 0 && probe.nacks >= probe.expectedNacks;
  if (probe.hostSilent && allNacked) onProbePeriodEnd(ctx, probe);
}

export function onPing(ctx: SwimContext, fromAddress: GossipAddress, message: PingMessage): void {
  const self = ctx.table.self;
  if (message.target !== self.id) {
    // Meant for whoever held this address before us; answering would hide its death.
    ctx.counters.pingsMisdirected += 1;
    return;
  }
  const known = ctx.table.get(message.from) !== undefined;
  const ack: AckMessage = known
    ? { type: "ack", seq: message.seq, from: self.id }
    : { type: "ack", seq: message.seq, from: self.id, unknownSender: true };
  sendPacket(ctx, fromAddress, [ack, ...newsForSender(ctx, message)]);
}

/**
 * A pinger we believe dead or suspect is told so in the ack itself, so a node back from a
 * pause or a partition refutes on its first exchange instead of waiting for gossip.
 */
function newsForSender(ctx: SwimContext, message: PingMessage): SwimMessage[] {
  const sender = ctx.table.get(message.from);
  if (sender === undefined) return [];
  if (sender.state === "dead") {
    const from = ctx.table.self.id;
    return [{ type: "dead", id: sender.id, incarnation: sender.incarnation, from }];
  }
  return buddyNotice(ctx, sender);
}

export function onAck(ctx: SwimContext, fromAddress: GossipAddress, message: AckMessage): void {
  if (message.unknownSender === true && !ctx.leaving) {
    sendPacket(ctx, fromAddress, [aliveMessageOf(ctx.table.self)], false);
  }
  const probe = ctx.probe;
  if (probe !== null && message.seq === probe.seq) {
    // Only a direct answer shows we are healthy; an indirect one shows a path problem.
    if (!probe.indirect) ctx.awareness.applyDelta(-1);
    noteRoundTrip(ctx, ctx.nowMs - probe.sentMs);
    ctx.probe = null;
    return;
  }
  const relay = ctx.relays.get(message.seq);
  if (relay === undefined) return;
  ctx.relays.delete(message.seq);
  const forwarded: AckMessage = { type: "ack", seq: relay.originSeq, from: ctx.table.self.id };
  sendPacket(ctx, relay.originAddress, [forwarded]);
}

export function onNack(ctx: SwimContext, message: NackMessage): void {
  const probe = ctx.probe;
  if (probe === null || message.seq !== probe.seq) return;
  probe.nacks += 1;
  concludeIfHopeless(ctx, probe);
}

export function onPingReq(
  ctx: SwimContext,
  fromAddress: GossipAddress,
  message: PingReqMessage,
): void {
  if (ctx.relays.size >= SWIM_RELAYS_IN_FLIGHT_MAX) {
    ctx.counters.relaysDropped += 1;
    return;
  }
  const seq = nextSeq(ctx);
  const ping: PingMessage = { type: "ping", seq, from: ctx.table.self.id, target: message.target };
  ctx.relays.set(seq, {
    originSeq: message.seq,
    originAddress: fromAddress,
    ping,
    targetAddress: message.targetAddress,
    resendMs: ctx.nowMs + Math.floor(ctx.config.relayNackTimeoutMs / 2),
    deadlineMs: ctx.nowMs + ctx.config.relayNackTimeoutMs,
  });
  sendRelayPing(ctx, ping, message.targetAddress);
}

function sendRelayPing(ctx: SwimContext, ping: PingMessage, targetAddress: GossipAddress): void {
  sendPacket(ctx, targetAddress, [ping, ...buddyNotice(ctx, ctx.table.get(ping.target))]);
}

/**
 * A relay pings again halfway to its nack (one lost datagram on the relay's leg must not fail
 * the whole indirect path); relays that heard nothing in time send a nack: "I am reachable;
 * the target is not".
 */
export function expireRelays(ctx: SwimContext): void {
  for (const [seq, relay] of ctx.relays) {
    if (relay.resendMs !== null && ctx.nowMs >= relay.resendMs) {
      relay.resendMs = null;
      sendRelayPing(ctx, relay.ping, relay.targetAddress);
    }
    if (ctx.nowMs < relay.deadlineMs) continue;
    ctx.relays.delete(seq);
    const nack: NackMessage = { type: "nack", seq: relay.originSeq, from: ctx.table.self.id };
    sendPacket(ctx, relay.originAddress, [nack]);
  }
}
