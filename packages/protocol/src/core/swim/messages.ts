/**
 * The gossip messages, as a tagged union on `type`. The list of types is append-only: a type's
 * meaning never changes, since nodes of different versions share a cluster. The wire form (short
 * keys, validation) lives in codec.ts; this file is types only.
 */

import type { GossipAddress, MemberId, MemberMeta, MemberView } from "./types.ts";

export const SWIM_MESSAGE_TYPES = [
  "ping", // direct probe: "are you `target`?"
  "ack", // answer to a ping, or forwarded by a relay for a ping-req
  "ping-req", // "please ping `target` for me" (SWIM's indirect probe)
  "nack", // a relay's "I asked, the target did not answer": proves the requester is heard
  "alive", // rumor: member at incarnation is alive, with its metadata
  "suspect", // rumor: `from` suspects member at incarnation
  "dead", // rumor: `from` declared member at incarnation dead
  "leave", // rumor: member left gracefully at incarnation
  "sync-request", // push-pull: part of the sender's state; answer with yours
  "sync-response", // push-pull: part of the responder's state
  "join", // a newcomer's hello to a seed whose id it does not know yet
] as const;

export type SwimMessageType = (typeof SWIM_MESSAGE_TYPES)[number];

export interface PingMessage {
  readonly type: "ping";
  readonly seq: number;
  readonly from: MemberId;
  /** Who the sender believes listens at this address; another member there does not answer. */
  readonly target: MemberId;
}

export interface AckMessage {
  readonly type: "ack";
  readonly seq: number;
  readonly from: MemberId;
  /**
   * Set when the pinger is unknown to us (its alive rumor never reached us): it answers with
   * its alive directly, instead of our waiting for a push-pull.
   */
  readonly unknownSender?: true;
}

export interface PingReqMessage {
  readonly type: "ping-req";
  readonly seq: number;
  readonly from: MemberId;
  readonly target: MemberId;
  readonly targetAddress: GossipAddress;
}

export interface NackMessage {
  readonly type: "nack";
  readonly seq: number;
  readonly from: MemberId;
}

export interface AliveMessage {
  readonly type: "alive";
  readonly id: MemberId;
  readonly incarnation: number;
  readonly address: GossipAddress;
  readonly meta: MemberMeta;
}

export interface SuspectMessage {
  readonly type: "suspect";
  readonly id: MemberId;
  readonly incarnation: number;
  readonly from: MemberId;
}

export interface DeadMessage {
  readonly type: "dead";
  readonly id: MemberId;
  readonly incarnation: number;
  readonly from: MemberId;
}

export interface LeaveMessage {
  readonly type: "leave";
  readonly id: MemberId;
  readonly incarnation: number;
}

/** A push-pull part. A state too big for one datagram travels as several parts of one syncId. */
export interface SyncMessage {
  readonly type: "sync-request" | "sync-response";
  readonly syncId: number;
  readonly from: MemberId;
  readonly members: readonly MemberView[];
}

export interface JoinMessage {
  readonly type: "join";
  readonly syncId: number;
  readonly member: MemberView;
}

export type RumorMessage = AliveMessage | SuspectMessage | DeadMessage | LeaveMessage;

export type SwimMessage =
  | PingMessage
  | AckMessage
  | PingReqMessage
  | NackMessage
  | RumorMessage
  | SyncMessage
  | JoinMessage;
