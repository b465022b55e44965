/**
 * The member list one node keeps: records by id and by address, the randomized round-robin
 * probe order (shuffled each round; newcomers inserted at random positions, so a new member is
 * not always probed last), and random sampling for ping-req helpers and gossip targets. Knows
 * nothing of messages; the node decides every state change and calls setState.
 */

import { assert } from "../assert.ts";
import type { Random } from "../prng.ts";
import type { Suspicion } from "./suspicion.ts";
import type { GossipAddress, MemberId, MemberMeta, MemberState, MemberView } from "./types.ts";
import { isActive } from "./types.ts";

export interface MemberRecord {
  readonly id: MemberId;
  address: GossipAddress;
  state: MemberState;
  incarnation: number;
  meta: MemberMeta;
  /** When the state last changed, for reclaim and gossip-to-the-dead. */
  stateChangeMs: number;
  suspicion: Suspicion | null;
}

export function viewOf(record: MemberRecord): MemberView {
  return {
    id: record.id,
    address: record.address,
    state: record.state,
    incarnation: record.incarnation,
    meta: record.meta,
  };
}

/** Extra random draws tried before sampling falls back to a full scan. */
const SAMPLE_ATTEMPTS_PER_PICK = 8;

export class MemberTable {
  readonly self: MemberRecord;
  private readonly records = new Map<MemberId, MemberRecord>();
  private readonly idByAddress = new Map<GossipAddress, MemberId>();
  /** Every known id, in no order, for O(1) random picks; `slot` finds an id's index. */
  private readonly ids: MemberId[] = [];
  private readonly slot = new Map<MemberId, number>();
  private ring: MemberId[] = [];
  private ringIndex = 0;
  private activeMembers = 0;
  private readonly prng: Random;
  private readonly capacity: number;

  constructor(self: MemberRecord, prng: Random, capacity: number) {
    this.self = self;
    this.prng = prng;
    this.capacity = capacity;
    this.add(self);
  }

  get size(): number {
    return this.records.size;
  }

  /** Alive or suspect members, self included: the n of every formula in config.ts. */
  get activeCount(): number {
    return this.activeMembers;
  }

  get(id: MemberId): MemberRecord | undefined {
    return this.records.get(id);
  }

  byAddress(address: GossipAddress): MemberRecord | undefined {
    const id = this.idByAddress.get(address);
    return id === undefined ? undefined : this.records.get(id);
  }

  all(): IterableIterator<MemberRecord> {
    return this.records.values();
  }

  /** Adds a member the node has decided to track; false when the table is full. */
  add(record: MemberRecord): boolean {
    assert(!this.records.has(record.id), `member ${record.id} is already tracked`);
    if (this.records.size >= this.capacity) return false;
    this.records.set(record.id, record);
    this.idByAddress.set(record.address, record.id);
    this.slot.set(record.id, this.ids.length);
    this.ids.push(record.id);
    if (isActive(record.state)) this.activeMembers += 1;
    if (record.id !== this.self.id) this.insertIntoRing(record.id);
    return true;
  }

  /** Forgets a member (reclaim). Its ring entry is skipped and dropped at the next shuffle. */
  remove(id: MemberId): void {
    const record = this.records.get(id);
    assert(record !== undefined && id !== this.self.id, "only a tracked other member is removed");
    if (isActive(record.state)) this.activeMembers -= 1;
    this.records.delete(id);
    if (this.idByAddress.get(record.address) === id) this.idByAddress.delete(record.address);
    const index = this.slot.get(id) as number;
    const last = this.ids.pop() as MemberId;
    if (last !== id) {
      this.ids[index] = last;
      this.slot.set(last, index);
    }
    this.slot.delete(id);
  }

  setState(record: MemberRecord, state: MemberState, nowMs: number): void {
    if (record.state === state) return;
    this.activeMembers += (isActive(state) ? 1 : 0) - (isActive(record.state) ? 1 : 0);
    record.state = state;
    record.stateChangeMs = nowMs;
  }

  setAddress(record: MemberRecord, address: GossipAddress): void {
    if (this.idByAddress.get(record.address) === record.id) this.idByAddress.delete(record.address);
    record.address = address;
    this.idByAddress.set(address, record.id);
  }

  /** The next member to probe: round-robin over a shuffled order, reshuffled every round. */
  nextProbeTarget(): MemberRecord | null {
    for (let reshuffles = 0; reshuffles < 2; ) {
      if (this.ringIndex >= this.ring.length) {
        this.reshuffle();
        reshuffles += 1;
        if (this.ring.length === 0) return null;
      }
      const id = this.ring[this.ringIndex] as MemberId;
      this.ringIndex += 1;
      const record = this.records.get(id);
      if (record !== undefined && isActive(record.state)) return record;
    }
    return null;
  }

  /**
   * Up to `count` distinct members other than self accepted by `accept`, uniformly at random:
   * random draws first (cheap in big clusters), then a scan when candidates are scarce.
   */
  sample(count: number, accept: (record: MemberRecord) => boolean): MemberRecord[] {
    const chosen = new Map<MemberId, MemberRecord>();
    const attempts = count * SAMPLE_ATTEMPTS_PER_PICK;
    for (let i = 0; i < attempts && chosen.size < count && this.ids.length > 1; i += 1) {
      const record = this.records.get(this.ids[this.prng.intBelow(this.ids.length)] as MemberId);
      if (record === undefined || record.id === this.self.id || chosen.has(record.id)) continue;
      if (accept(record)) chosen.set(record.id, record);
    }
    if (chosen.size < count) this.sampleByScan(count, accept, chosen);
    return [...chosen.values()];
  }

  private sampleByScan(
    count: number,
    accept: (record: MemberRecord) => boolean,
    chosen: Map<MemberId, MemberRecord>,
  ): void {
    const rest: MemberRecord[] = [];
    for (const id of this.ids) {
      const record = this.records.get(id);
      if (record === undefined || record.id === this.self.id || chosen.has(id)) continue;
      if (accept(record)) rest.push(record);
    }
    this.prng.shuffle(rest);
    for (const record of rest) {
      if (chosen.size >= count) return;
      chosen.set(record.id, record);
    }
  }

  private reshuffle(): void {
    this.ring = [];
    for (const record of this.records.values()) {
      if (record.id !== this.self.id && isActive(record.state)) this.ring.push(record.id);
    }
    this.prng.shuffle(this.ring);
    this.ringIndex = 0;
  }

  private insertIntoRing(id: MemberId): void {
    const position = this.prng.intBelow(this.ring.length + 1);
    this.ring.splice(position, 0, id);
    // Keep pointing at the same next member when the newcomer lands before it.
    if (position < this.ringIndex) this.ringIndex += 1;
  }
}
