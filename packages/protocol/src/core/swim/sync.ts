/**
 * Full state exchange (push-pull), joining through seeds, and reconnecting to members we hold
 * dead. Gossip alone can lose a rumor for good (its retransmit budget runs out); a periodic full
 * exchange with a random member repairs that, and an exchange with a member we think dead is
 * how the two sides of a healed partition find each other again. A state that does not fit
 * one datagram travels as several parts of one syncId; each part merges on its own.
 */

import { buildSyncMessages } from "./codec.ts";
import { pushPullIntervalMs, SWIM_SYNC_ANSWERED_REMEMBERED } from "./config.ts";
import { sendPacket, type SwimContext } from "./context.ts";
import { viewOf } from "./member-table.ts";
import type { JoinMessage, SyncMessage } from "./messages.ts";
import { assertNever } from "../assert.ts";
import { onAlive, onDead, onLeave, onSuspect } from "./rumors.ts";
import type { GossipAddress, MemberId, MemberView } from "./types.ts";

function allViews(ctx: SwimContext): MemberView[] {
  const views: MemberView[] = [];
  for (const record of ctx.table.all()) views.push(viewOf(record));
  return views;
}

function sendSync(
  ctx: SwimContext,
  to: GossipAddress,
  type: SyncMessage["type"],
  syncId: number,
  members: readonly MemberView[],
): void {
  for (const part of buildSyncMessages(type, syncId, ctx.table.self.id, members)) {
    sendPacket(ctx, to, [part]);
  }
}

/**
 * Folds a remote view into ours, entry by entry, through the same rules as rumors. A member the
 * remote holds dead is only suspected here (memberlist's rule): we give it the chance to refute
 * that our own evidence would have given it.
 */
export function mergeRemoteState(
  ctx: SwimContext,
  members: readonly MemberView[],
  from: MemberId,
): void {
  const selfId = ctx.table.self.id;
  for (const member of members) {
    const { id, incarnation } = member;
    switch (member.state) {
      case "alive":
        onAlive(ctx, {
          type: "alive",
          id,
          incarnation,
          address: member.address,
          meta: member.meta,
        });
        break;
      case "suspect":
        onSuspect(ctx, { type: "suspect", id, incarnation, from });
        break;
      case "dead":
        if (id === selfId) onDead(ctx, { type: "dead", id, incarnation, from }, false);
        else onSuspect(ctx, { type: "suspect", id, incarnation, from });
        break;
      case "left":
        onLeave(ctx, { type: "leave", id, incarnation });
        break;
      default:
        assertNever(member.state, "member state");
    }
  }
}

/** Answers each sync request (or join) once, however many of its parts arrive. */
function answerOnce(ctx: SwimContext, fromAddress: GossipAddress, syncId: number): void {
  const key = `${fromAddress}#${syncId}`;
  if (ctx.answeredSyncs.includes(key)) return;
  ctx.answeredSyncs.push(key);
  if (ctx.answeredSyncs.length > SWIM_SYNC_ANSWERED_REMEMBERED) ctx.answeredSyncs.shift();
  // Merged first, so our own entry already carries any refutation the request provoked.
  sendSync(ctx, fromAddress, "sync-response", syncId, allViews(ctx));
}

export function onSyncRequest(
  ctx: SwimContext,
  fromAddress: GossipAddress,
  message: SyncMessage,
): void {
  mergeRemoteState(ctx, message.members, message.from);
  answerOnce(ctx, fromAddress, message.syncId);
}

export function onSyncResponse(ctx: SwimContext, message: SyncMessage): void {
  mergeRemoteState(ctx, message.members, message.from);
  ctx.joined = true;
}

export function onJoin(ctx: SwimContext, fromAddress: GossipAddress, message: JoinMessage): void {
  mergeRemoteState(ctx, [message.member], message.member.id);
  answerOnce(ctx, fromAddress, message.syncId);
}

/** Sends our hello to every seed; repeated by tick() until one answers. */
export function sendJoins(ctx: SwimContext): void {
  ctx.timers.nextJoinMs = ctx.nowMs + ctx.config.joinRetryMs;
  const member = viewOf(ctx.table.self);
  for (const seed of ctx.seeds) {
    const join: JoinMessage = { type: "join", syncId: ctx.prng.nextUint32(), member };
    sendPacket(ctx, seed, [join]);
  }
}

/** Periodic full exchange with one random alive member. */
export function onPushPullTimer(ctx: SwimContext): void {
  const members = ctx.table.activeCount;
  ctx.timers.nextPushPullMs = ctx.nowMs + pushPullIntervalMs(ctx.config, members);
  const [peer] = ctx.table.sample(1, (record) => record.state === "alive");
  if (peer === undefined) return;
  sendSync(ctx, peer.address, "sync-request", ctx.prng.nextUint32(), allViews(ctx));
}

/**
 * Knocks on one member we hold dead. The request is small (us, and what we think of it): if it
 * is alive it learns it is dead to us, refutes, and its full answer tells us the rest, including
 * that we are dead to its side, which we then refute in turn.
 */
export function onReconnectTimer(ctx: SwimContext): void {
  ctx.timers.nextReconnectMs = ctx.nowMs + ctx.config.reconnectIntervalMs;
  const [peer] = ctx.table.sample(1, (record) => record.state === "dead");
  if (peer === undefined) return;
  const members = [viewOf(ctx.table.self), viewOf(peer)];
  sendSync(ctx, peer.address, "sync-request", ctx.prng.nextUint32(), members);
}
