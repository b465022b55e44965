/**
 * The dissemination queue (memberlist's queue.go idea, our own structure): rumors waiting to be
 * piggybacked. It owns three rules: (1) at most one rumor per member: newer news about a member
 * replaces older; (2) rumors sent fewer times go first, and among equals the newest first; (3) a
 * rumor is dropped after `transmitLimit` sends, the R(n) of config.ts. Bounded: past `capacity`
 * the most-sent, oldest rumor is dropped (it has had the most chances already).
 */

import { assert } from "../assert.ts";
import type { PacketBuilder } from "./codec.ts";
import { encodeMessage, utf8Length } from "./codec.ts";
import type { RumorMessage } from "./messages.ts";
import type { MemberId } from "./types.ts";

/** No rumor encodes shorter than this; below it a packet is full for our purposes. */
const RUMOR_BYTES_MIN = 24;
/**
 * Rumors in a row that did not fit before a packet counts as full: bounds the work per packet
 * when a long queue of big rumors meets a nearly full packet (what is skipped goes next time).
 */
const MISFITS_BEFORE_FULL = 32;

interface QueuedRumor {
  readonly about: MemberId;
  readonly message: RumorMessage;
  readonly encoded: string;
  readonly bytes: number;
  /** Increasing stamp: higher is newer. */
  readonly stamp: number;
  transmits: number;
}

export class RumorQueue {
  /** tiers[t] holds rumors sent t times, sorted by stamp ascending (newest last). */
  private readonly tiers: QueuedRumor[][] = [];
  private readonly byMember = new Map<MemberId, QueuedRumor>();
  private readonly capacity: number;
  private nextStamp = 1;
  private droppedCount = 0;

  constructor(capacity: number) {
    assert(capacity >= 1, "rumor queue capacity must be ≥ 1");
    this.capacity = capacity;
  }

  get size(): number {
    return this.byMember.size;
  }

  /** Rumors dropped because the queue was full (not those that reached their limit). */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Queues `message`, replacing whatever was queued about the same member. */
  enqueue(message: RumorMessage): void {
    const old = this.byMember.get(message.id);
    if (old !== undefined) this.remove(old);
    const encoded = encodeMessage(message);
    const rumor: QueuedRumor = {
      about: message.id,
      message,
      encoded,
      bytes: utf8Length(encoded),
      stamp: this.nextStamp,
      transmits: 0,
    };
    this.nextStamp += 1;
    this.insert(rumor);
    if (this.byMember.size > this.capacity) this.dropMostSent();
  }

  /** The rumor queued about `id`, if any (for tests and for deciding what to re-gossip). */
  about(id: MemberId): RumorMessage | undefined {
    return this.byMember.get(id)?.message;
  }

  /**
   * Adds to `packet` as many rumors as fit, in priority order, and counts a send for each.
   * Returns how many were added.
   */
  fill(packet: PacketBuilder, transmitLimit: number): number {
    const promoted: QueuedRumor[] = [];
    let added = 0;
    let misfits = 0;
    for (let tier = 0; tier < this.tiers.length; tier += 1) {
      const rumors = this.tiers[tier] ?? [];
      for (let i = rumors.length - 1; i >= 0; i -= 1) {
        if (packet.freeBytes < RUMOR_BYTES_MIN || misfits >= MISFITS_BEFORE_FULL) break;
        const rumor = rumors[i] as QueuedRumor;
        if (
          rumor.bytes > packet.freeBytes ||
          !packet.tryAdd(rumor.message, rumor.encoded, rumor.bytes)
        ) {
          misfits += 1;
          continue;
        }
        misfits = 0;
        added += 1;
        rumors.splice(i, 1);
        rumor.transmits += 1;
        // Promoted rumors are reinserted after the walk so this walk does not see them twice.
        if (rumor.transmits >= transmitLimit) this.byMember.delete(rumor.about);
        else promoted.push(rumor);
      }
    }
    for (const rumor of promoted) this.insertIntoTier(rumor);
    return added;
  }

  /** Rumors in send order, for tests: fewest sends first, newest first among equals. */
  orderedView(): Array<{ message: RumorMessage; transmits: number }> {
    const out: Array<{ message: RumorMessage; transmits: number }> = [];
    for (const rumors of this.tiers) {
      for (let i = rumors.length - 1; i >= 0; i -= 1) {
        const rumor = rumors[i] as QueuedRumor;
        out.push({ message: rumor.message, transmits: rumor.transmits });
      }
    }
    return out;
  }

  private insert(rumor: QueuedRumor): void {
    this.byMember.set(rumor.about, rumor);
    this.insertIntoTier(rumor);
  }

  private insertIntoTier(rumor: QueuedRumor): void {
    while (this.tiers.length <= rumor.transmits) this.tiers.push([]);
    const rumors = this.tiers[rumor.transmits] as QueuedRumor[];
    let low = 0;
    let high = rumors.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((rumors[mid] as QueuedRumor).stamp < rumor.stamp) low = mid + 1;
      else high = mid;
    }
    rumors.splice(low, 0, rumor);
  }

  private remove(rumor: QueuedRumor): void {
    this.byMember.delete(rumor.about);
    const rumors = this.tiers[rumor.transmits];
    const index = rumors === undefined ? -1 : rumors.indexOf(rumor);
    assert(rumors !== undefined && index >= 0, "queued rumor must sit in its tier");
    rumors.splice(index, 1);
  }

  private dropMostSent(): void {
    for (let tier = this.tiers.length - 1; tier >= 0; tier -= 1) {
      const oldest = this.tiers[tier]?.[0];
      if (oldest === undefined) continue;
      this.remove(oldest);
      this.droppedCount += 1;
      return;
    }
  }
}

/** Exposed for tests that check the queue never wastes a packet's tail. */
export function rumorBytes(message: RumorMessage): number {
  return utf8Length(encodeMessage(message));
}
