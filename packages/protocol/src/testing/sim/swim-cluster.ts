/**
 * A cluster of real SwimNodes on the simulator: real codec bytes on a fake network. It owns the
 * test-side bookkeeping (who runs, who crashed, what each node reported) and the questions
 * properties ask (does everyone see X as Y yet?). Nodes exchange encoded datagrams, so every
 * packet is also checked to decode and to fit GOSSIP_PAYLOAD_BYTES_MAX.
 */

import { assert } from "../../core/assert.ts";
import type { Prng } from "../../core/prng.ts";
import {
  GOSSIP_PAYLOAD_BYTES_MAX,
  HOST_CHECK_ATTEMPTS,
  SWIM_LAN_CONFIG,
  type SwimConfig,
} from "../../core/swim/config.ts";
import { SwimNode } from "../../core/swim/node.ts";
import type {
  MemberEvent,
  MemberEventKind,
  MemberId,
  MemberMetaFields,
  MemberState,
  MemberView,
} from "../../core/swim/types.ts";
import { memberId } from "../../core/swim/types.ts";
import type { PathOptions } from "./network.ts";
import { Simulator, type SimProcess } from "./simulator.ts";

export interface SwimClusterOptions {
  readonly seed: number;
  readonly size: number;
  readonly config?: SwimConfig;
  readonly path?: PathOptions;
  readonly tickIntervalMs?: number;
  readonly unreachableProbability?: number;
  readonly pausedInbox?: "queue" | "drop";
  /** How many of the first nodes serve as seeds for everyone's join. */
  readonly seedNodes?: number;
}

/** One event some node reported, tagged with who reported it. */
export interface TraceEntry {
  readonly atMs: number;
  readonly observer: MemberId;
  readonly kind: MemberEventKind;
  readonly member: MemberId;
  readonly incarnation: number;
}

const TICK_INTERVAL_MS_DEFAULT = 50;
const SEED_NODES_DEFAULT = 3;
const GOSSIP_PORT = 7946;
const SERVICE_PORT = 7000;
const CAPACITY_BYTES = 1_000_000_000_000;

class SwimProcess implements SimProcess<string, Uint8Array> {
  readonly node: SwimNode;
  private readonly record: (events: MemberEvent[]) => void;

  constructor(node: SwimNode, record: (events: MemberEvent[]) => void) {
    this.node = node;
    this.record = record;
  }

  tick(nowMs: number): void {
    this.node.tick(nowMs);
    this.record(this.node.takeEvents());
  }

  receive(nowMs: number, from: string, payload: Uint8Array): void {
    const result = this.node.receiveDatagram(nowMs, from, payload);
    // Every datagram in the simulation was encoded by a node: failing to decode is our bug.
    assert(
      result.ok,
      `a node's own datagram failed to decode: ${result.ok ? "" : result.error.message}`,
    );
    this.record(this.node.takeEvents());
  }

  takeHostChecks(): string[] {
    return this.node.takeHostChecks();
  }

  hostSilent(nowMs: number, about: string): void {
    this.node.hostSilent(nowMs, about);
    this.record(this.node.takeEvents());
  }

  unreachable(nowMs: number, to: string): void {
    this.node.unreachable(nowMs, to);
    this.record(this.node.takeEvents());
  }

  takeOutgoing(): Array<{ to: string; payload: Uint8Array }> {
    return this.node.takeOutbox().map((packet) => {
      assert(packet.bytes.length <= GOSSIP_PAYLOAD_BYTES_MAX, "a packet exceeds the payload limit");
      return { to: packet.to, payload: packet.bytes };
    });
  }
}

export class SwimCluster {
  readonly sim: Simulator<string, Uint8Array>;
  readonly config: SwimConfig;
  readonly ids: readonly MemberId[];
  readonly trace: TraceEntry[] = [];
  private readonly addressOf = new Map<MemberId, string>();
  private readonly metaOf = new Map<MemberId, MemberMetaFields>();
  private readonly seedAddresses: string[];

  constructor(options: SwimClusterOptions) {
    this.config = options.config ?? SWIM_LAN_CONFIG;
    this.sim = new Simulator<string, Uint8Array>({
      seed: options.seed,
      tickIntervalMs: options.tickIntervalMs ?? TICK_INTERVAL_MS_DEFAULT,
      ...(options.path === undefined ? {} : { path: options.path }),
      payloadBytes: (payload) => payload.length,
      pausedInbox: options.pausedInbox ?? "queue",
      unreachableProbability: options.unreachableProbability ?? 0,
      hostCheck: { attempts: HOST_CHECK_ATTEMPTS, timeoutMs: this.config.hostCheckTimeoutMs },
    });
    const ids: MemberId[] = [];
    for (let index = 0; index < options.size; index += 1) {
      const id = memberId(`node-${String(index).padStart(4, "0")}`);
      ids.push(id);
      const host = `10.0.${index >> 8}.${index & 255}`;
      this.addressOf.set(id, `${host}:${GOSSIP_PORT}`);
      this.metaOf.set(id, {
        role: index < 3 ? "directory" : "storage",
        group: index < 3 ? null : `g${index % 4}`,
        address: `${host}:${SERVICE_PORT}`,
        primary: false,
        epoch: 0,
        usedBytes: 0,
        capacityBytes: CAPACITY_BYTES,
      });
    }
    this.ids = ids;
    const seedCount = Math.min(options.size, options.seedNodes ?? SEED_NODES_DEFAULT);
    this.seedAddresses = ids.slice(0, seedCount).map((id) => this.address(id));
  }

  get prng(): Prng {
    return this.sim.prng;
  }

  get nowMs(): number {
    return this.sim.nowMs;
  }

  address(id: MemberId): string {
    const address = this.addressOf.get(id);
    assert(address !== undefined, `unknown member ${id}`);
    return address;
  }

  /** Starts every node; each joins through the seed nodes. */
  startAll(): void {
    for (const id of this.ids) this.boot(id);
  }

  /** A fresh process for `id`: incarnation 0, empty view, joining through the seeds. */
  boot(id: MemberId): void {
    const node = new SwimNode({
      id,
      address: this.address(id),
      meta: this.meta(id),
      config: this.config,
      prng: this.sim.prng.fork(),
      nowMs: this.nowMs,
    });
    const process = new SwimProcess(node, (events) => this.record(id, events));
    this.sim.start(this.address(id), process);
    this.sim.act(this.address(id), () => node.join(this.nowMs, this.seedAddresses));
  }

  crash(id: MemberId): void {
    this.sim.crash(this.address(id));
  }

  pause(id: MemberId): void {
    this.sim.pause(this.address(id));
  }

  resume(id: MemberId): void {
    this.sim.resume(this.address(id));
  }

  leave(id: MemberId): void {
    this.sim.act(this.address(id), () => this.node(id).leave(this.nowMs));
  }

  updateMeta(id: MemberId, change: Partial<MemberMetaFields>): void {
    const meta = { ...this.meta(id), ...change };
    this.metaOf.set(id, meta);
    this.sim.act(this.address(id), () => this.node(id).updateMeta(this.nowMs, meta));
  }

  isRunning(id: MemberId): boolean {
    return this.sim.status(this.address(id)) !== "down";
  }

  /** The node running as `id` (paused or not). */
  node(id: MemberId): SwimNode {
    const process = this.sim.process(this.address(id));
    assert(process instanceof SwimProcess, `${id} is not running`);
    return process.node;
  }

  /** What `observer` believes of `member`: its state, or "unknown" if it never heard of it. */
  stateAt(observer: MemberId, member: MemberId): MemberState | "unknown" {
    return this.node(observer).member(member)?.state ?? "unknown";
  }

  viewAt(observer: MemberId, member: MemberId): MemberView | undefined {
    return this.node(observer).member(member);
  }

  /** Every running node among `observers` holds every member of `members` in `state`. */
  allSee(
    observers: readonly MemberId[],
    members: readonly MemberId[],
    state: MemberState,
  ): boolean {
    for (const observer of observers) {
      if (!this.isRunning(observer)) continue;
      for (const member of members) {
        if (member !== observer && this.stateAt(observer, member) !== state) return false;
      }
    }
    return true;
  }

  /** Runs until `predicate` holds (checked every `stepMs`) or `timeoutMs` passes: time taken. */
  runUntilTrue(predicate: () => boolean, timeoutMs: number, stepMs = 50): number | null {
    const startMs = this.nowMs;
    for (;;) {
      if (predicate()) return this.nowMs - startMs;
      if (this.nowMs - startMs >= timeoutMs) return null;
      this.sim.runFor(stepMs);
    }
  }

  runFor(durationMs: number): void {
    this.sim.runFor(durationMs);
  }

  /** Trace entries where someone declared `member` to be `kind`, from `sinceMs` on. */
  reports(kind: MemberEventKind, member: MemberId, sinceMs = 0): TraceEntry[] {
    return this.trace.filter((e) => e.kind === kind && e.member === member && e.atMs >= sinceMs);
  }

  private meta(id: MemberId): MemberMetaFields {
    const meta = this.metaOf.get(id);
    assert(meta !== undefined, `unknown member ${id}`);
    return meta;
  }

  private record(observer: MemberId, events: readonly MemberEvent[]): void {
    for (const event of events) {
      this.trace.push({
        atMs: event.atMs,
        observer,
        kind: event.kind,
        member: event.member.id,
        incarnation: event.member.incarnation,
      });
    }
  }
}
