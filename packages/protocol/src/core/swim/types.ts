/**
 * The vocabulary of membership: who a member is, what state we believe it is in, and the small
 * versioned metadata it publishes. Types only, plus the two rules every module shares (how
 * states rank, how to copy a view). Owns no state and does no I/O.
 */

/** A member's stable name (a node id from `--id`); survives restarts, unlike its incarnation. */
export type MemberId = string & { readonly __brand: "MemberId" };

/** `host:port` of a member's gossip (UDP) socket. */
export type GossipAddress = string;

export function memberId(value: string): MemberId {
  return value as MemberId;
}

/**
 * What we believe about a member. `left` is a graceful exit and is never reported as a failure;
 * `dead` is a failure. Both are final for their incarnation: only a higher incarnation revives.
 */
export const MEMBER_STATES = ["alive", "suspect", "dead", "left"] as const;
export type MemberState = (typeof MEMBER_STATES)[number];

export type MemberRole = "directory" | "storage";

/**
 * What a member publishes about itself. `metaVersion` grows by one on every update the member
 * makes, so an app can tell which edition it holds; ordering between conflicting reports is by
 * incarnation (an update bumps the incarnation too, as memberlist's UpdateNode does).
 */
export interface MemberMeta {
  readonly role: MemberRole;
  /** Storage group the member serves, or null for directory nodes and unassigned storage. */
  readonly group: string | null;
  /** `host:port` of the member's TCP service. */
  readonly address: string;
  readonly primary: boolean;
  readonly epoch: number;
  readonly usedBytes: number;
  readonly capacityBytes: number;
  readonly metaVersion: number;
}

/** The fields an app sets; `metaVersion` is the core's to bump. */
export type MemberMetaFields = Omit<MemberMeta, "metaVersion">;

/** One member as some node sees it: what `members()` returns and events carry. */
export interface MemberView {
  readonly id: MemberId;
  readonly address: GossipAddress;
  readonly state: MemberState;
  readonly incarnation: number;
  readonly meta: MemberMeta;
}

export const MEMBER_EVENT_KINDS = [
  "joined",
  "updated",
  "suspect",
  "alive",
  "dead",
  "left",
] as const;
export type MemberEventKind = (typeof MEMBER_EVENT_KINDS)[number];

/**
 * A change the app may act on. `joined`: first seen, or back from dead/left. `alive`: a suspect
 * refuted. `updated`: new metadata while the state stayed the same.
 */
export interface MemberEvent {
  readonly kind: MemberEventKind;
  readonly atMs: number;
  readonly member: MemberView;
}

export function sameMeta(a: MemberMeta, b: MemberMeta): boolean {
  return (
    a.role === b.role &&
    a.group === b.group &&
    a.address === b.address &&
    a.primary === b.primary &&
    a.epoch === b.epoch &&
    a.usedBytes === b.usedBytes &&
    a.capacityBytes === b.capacityBytes &&
    a.metaVersion === b.metaVersion
  );
}

/** True for the states that count as a member still taking part (probed, gossiped to). */
export function isActive(state: MemberState): boolean {
  return state === "alive" || state === "suspect";
}
