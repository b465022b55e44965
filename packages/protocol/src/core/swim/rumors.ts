/**
 * The membership state rules: what alive, suspect, dead and leave news does to our view, how we
 * refute news about ourselves, and when a suspicion becomes a death. SWIM's ordering holds
 * throughout: news at a higher incarnation beats news at a lower one; at equal incarnations
 * suspect beats alive and dead/left beat both; dead and left are final for their incarnation.
 * Every accepted change is re-gossiped (queued) and reported as an event.
 */

import { emitEvent, gossipSoon, sendPacket, setSuspicion, type SwimContext } from "./context.ts";
import {
  SWIM_DEATH_NOTICE_MEMBERS_MAX,
  suspicionConfirmationsWanted,
  suspicionTimeoutMaxMs,
  suspicionTimeoutMinMs,
} from "./config.ts";
import type { MemberRecord } from "./member-table.ts";
import type { AliveMessage, DeadMessage, LeaveMessage, SuspectMessage } from "./messages.ts";
import { Suspicion } from "./suspicion.ts";
import type { MemberId } from "./types.ts";
import { isActive, sameMeta } from "./types.ts";

export function aliveMessageOf(record: MemberRecord): AliveMessage {
  return {
    type: "alive",
    id: record.id,
    incarnation: record.incarnation,
    address: record.address,
    meta: record.meta,
  };
}

/**
 * Someone says we are not what we are: claim a higher incarnation and say so loudly. Being
 * suspected is also a hint that we are slow (Lifeguard), so it may raise our health score.
 */
export function refute(ctx: SwimContext, incarnationSeen: number, penalize: boolean): void {
  const self = ctx.table.self;
  self.incarnation = Math.max(self.incarnation, incarnationSeen) + 1;
  ctx.queue.enqueue(aliveMessageOf(self));
  ctx.counters.refutations += 1;
  if (penalize) ctx.awareness.applyDelta(1);
  gossipSoon(ctx);
}

export function onAlive(ctx: SwimContext, message: AliveMessage): void {
  const self = ctx.table.self;
  if (message.id === self.id) {
    onAliveAboutSelf(ctx, message);
    return;
  }
  const record = ctx.table.get(message.id);
  if (record === undefined) {
    addMember(ctx, message);
    return;
  }
  if (message.incarnation <= record.incarnation) return;
  const before = record.state;
  const metaChanged = !sameMeta(record.meta, message.meta);
  record.incarnation = message.incarnation;
  record.meta = message.meta;
  if (record.address !== message.address) ctx.table.setAddress(record, message.address);
  setSuspicion(ctx, record, null);
  ctx.table.setState(record, "alive", ctx.nowMs);
  ctx.queue.enqueue(message);
  if (before === "dead" || before === "left") {
    emitEvent(ctx, "joined", record);
    return;
  }
  if (before === "suspect") emitEvent(ctx, "alive", record);
  if (metaChanged) emitEvent(ctx, "updated", record);
}

function addMember(ctx: SwimContext, message: AliveMessage): void {
  const record: MemberRecord = {
    id: message.id,
    address: message.address,
    state: "alive",
    incarnation: message.incarnation,
    meta: message.meta,
    stateChangeMs: ctx.nowMs,
    suspicion: null,
  };
  if (!ctx.table.add(record)) {
    ctx.counters.membersRejected += 1;
    return;
  }
  ctx.queue.enqueue(message);
  emitEvent(ctx, "joined", record);
}

/**
 * News of ourselves from our past (a restart begins at incarnation 0, but the cluster may
 * remember a higher one, or older metadata): outbid it so our current self wins.
 */
function onAliveAboutSelf(ctx: SwimContext, message: AliveMessage): void {
  const self = ctx.table.self;
  if (ctx.leaving) return;
  const newer = message.incarnation > self.incarnation;
  const conflicting =
    message.incarnation === self.incarnation &&
    (!sameMeta(message.meta, self.meta) || message.address !== self.address);
  if (newer || conflicting) refute(ctx, message.incarnation, false);
}

/**
 * Someone still holds old news (a suspicion or death at an incarnation already refuted): queue
 * the newer alive again, so the correction reaches the holder (often in the very ack we are
 * about to send it) instead of waiting for a push-pull. Gossip budgets are finite; this is
 * what keeps a refutation from being lost under heavy packet loss.
 */
function correctStaleNews(ctx: SwimContext, record: MemberRecord, incarnation: number): void {
  if (incarnation >= record.incarnation || record.state !== "alive") return;
  const queued = ctx.queue.about(record.id);
  if (queued?.type === "alive" && queued.incarnation === record.incarnation) return;
  ctx.queue.enqueue(aliveMessageOf(record));
}

/**
 * What suspect and dead news share: news about ourselves is refuted (or, if stale, corrected);
 * stale news about another is corrected. Returns the record the news applies to, or null when
 * it was answered here.
 */
function accusedRecord(
  ctx: SwimContext,
  message: SuspectMessage | DeadMessage,
  penalize: boolean,
): MemberRecord | null {
  const self = ctx.table.self;
  if (message.id === self.id) {
    if (ctx.leaving) return null;
    if (message.incarnation >= self.incarnation) refute(ctx, message.incarnation, penalize);
    else correctStaleNews(ctx, self, message.incarnation);
    return null;
  }
  const record = ctx.table.get(message.id);
  if (record === undefined) return null;
  if (message.incarnation < record.incarnation) {
    correctStaleNews(ctx, record, message.incarnation);
    return null;
  }
  return record;
}

export function onSuspect(ctx: SwimContext, message: SuspectMessage): void {
  const record = accusedRecord(ctx, message, true);
  if (record === null) return;
  if (record.state === "left") {
    // Someone missed the leave and is about to accuse a departed member: remind everyone.
    if (ctx.queue.about(record.id) === undefined) ctx.queue.enqueue(leaveMessageOf(record));
    return;
  }
  if (record.state === "dead") return;
  const open = record.suspicion;
  if (record.state === "suspect" && open !== null && message.incarnation === open.incarnation) {
    // An independent confirmation shortens the timer; pass it on so others count it too.
    if (open.confirm(message.from)) ctx.queue.enqueue(message);
    return;
  }
  const wasAlive = record.state === "alive";
  record.incarnation = message.incarnation;
  startSuspicion(ctx, record, message.from);
  ctx.table.setState(record, "suspect", ctx.nowMs);
  ctx.queue.enqueue(message);
  if (!wasAlive) return;
  ctx.counters.suspicions += 1;
  emitEvent(ctx, "suspect", record);
}

function startSuspicion(ctx: SwimContext, record: MemberRecord, from: MemberId): void {
  const members = ctx.table.activeCount;
  const suspicion = new Suspicion({
    incarnation: record.incarnation,
    startMs: ctx.nowMs,
    from,
    wanted: suspicionConfirmationsWanted(ctx.config, members),
    minMs: suspicionTimeoutMinMs(ctx.config, members),
    maxMs: suspicionTimeoutMaxMs(ctx.config, members),
  });
  setSuspicion(ctx, record, suspicion);
}

export function onDead(ctx: SwimContext, message: DeadMessage, penalize = true): void {
  const record = accusedRecord(ctx, message, penalize);
  if (record === null) return;
  if (!isActive(record.state)) return;
  record.incarnation = message.incarnation;
  setSuspicion(ctx, record, null);
  ctx.table.setState(record, "dead", ctx.nowMs);
  ctx.queue.enqueue(message);
  emitEvent(ctx, "dead", record);
}

export function leaveMessageOf(record: MemberRecord): LeaveMessage {
  return { type: "leave", id: record.id, incarnation: record.incarnation };
}

export function onLeave(ctx: SwimContext, message: LeaveMessage): void {
  const self = ctx.table.self;
  if (message.id === self.id) {
    // A leave from our previous life (we restarted): we are back, so outbid it.
    if (!ctx.leaving && message.incarnation >= self.incarnation)
      refute(ctx, message.incarnation, false);
    return;
  }
  const record = ctx.table.get(message.id);
  if (record === undefined || message.incarnation < record.incarnation) return;
  if (record.state === "left") return;
  record.incarnation = message.incarnation;
  setSuspicion(ctx, record, null);
  ctx.table.setState(record, "left", ctx.nowMs);
  ctx.queue.enqueue(message);
  emitEvent(ctx, "left", record);
}

/** Our own verdict: we suspect `record` (a failed probe, or its port reported unreachable). */
export function suspectLocally(ctx: SwimContext, record: MemberRecord): void {
  const self = ctx.table.self;
  onSuspect(ctx, {
    type: "suspect",
    id: record.id,
    incarnation: record.incarnation,
    from: self.id,
  });
}

/** Suspicions whose time has come become deaths we declare and gossip. */
export function expireSuspicions(ctx: SwimContext): void {
  const self = ctx.table.self;
  for (const id of [...ctx.suspects]) {
    const record = ctx.table.get(id);
    const suspicion = record?.suspicion ?? null;
    if (record === undefined || suspicion === null) {
      ctx.suspects.delete(id);
      continue;
    }
    if (ctx.nowMs < suspicion.deadlineMs) continue;
    const dead: DeadMessage = {
      type: "dead",
      id,
      incarnation: suspicion.incarnation,
      from: self.id,
    };
    onDead(ctx, dead);
    announceDeath(ctx, dead);
    gossipSoon(ctx);
  }
}

/**
 * A death we declare goes straight to up to SWIM_DEATH_NOTICE_MEMBERS_MAX live members, not
 * only into the gossip queue: every survivor should stop using the member as soon as one of
 * us is sure (issue 20). The rumor is still queued, so anyone these datagrams miss hears it
 * by gossip; a wrongly declared member refutes as it would anyway.
 */
function announceDeath(ctx: SwimContext, dead: DeadMessage): void {
  const told = ctx.table.sample(
    SWIM_DEATH_NOTICE_MEMBERS_MAX,
    (record) => isActive(record.state) && record.id !== dead.id,
  );
  for (const member of told) sendPacket(ctx, member.address, [dead], false);
}
