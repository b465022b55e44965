/**
 * A deterministic discrete-event simulator for sans-I/O cores (TigerBeetle's VOPR and
 * FoundationDB's simulation, in miniature). One seed drives every random choice: network
 * delays, losses and duplicates, tick phases, and the PRNG each process is given. Simulated
 * time jumps from event to event, so a minute of cluster life costs milliseconds.
 *
 * Processes crash (state lost: the driver makes a new one on restart), pause (no ticks, no
 * receives; arriving packets wait in a bounded inbox or are dropped, like a SIGSTOPped
 * process's socket buffer) and resume. A packet to an address where nothing runs may bounce
 * back as an "unreachable" report, as ICMP port-unreachable does for a killed process. A
 * process may ask whether another's host answers at all (a TCP connection attempt): a running
 * or paused process's host does, a crashed one's only as often as it bounces (a killed process
 * on a live host, not a cut link), each attempt subject to the paths' loss both ways. Generic
 * over the address and payload types: gossip uses datagrams, a Raft core could use its messages.
 */

import { assert, assertNever } from "../../core/assert.ts";
import { Prng } from "../../core/prng.ts";
import { EventQueue } from "./event-queue.ts";
import { PATH_LAN, SimNetwork, type PathOptions } from "./network.ts";

/** What the simulator needs from a process: the inputs of a sans-I/O core and its outbox. */
export interface SimProcess<A extends string, P> {
  tick(nowMs: number): void;
  receive(nowMs: number, from: A, payload: P): void;
  /** The network reports that nothing listens at `to` any more. */
  unreachable(nowMs: number, to: A): void;
  takeOutgoing(): Array<{ readonly to: A; readonly payload: P }>;
  /** Addresses whose host the process wants checked (optional: not every core asks). */
  takeHostChecks?(): A[];
  /** No attempt of a host check of `about` was answered within the check's timeout. */
  hostSilent?(nowMs: number, about: A): void;
}

/** How the simulator plays a host check: attempts in parallel, each answered or not. */
export interface HostCheckOptions {
  readonly attempts: number;
  readonly timeoutMs: number;
}

export type ProcessStatus = "up" | "paused" | "down";

export interface SimulatorOptions<P> {
  readonly seed: number;
  readonly tickIntervalMs: number;
  readonly path?: PathOptions;
  /** Size of a payload on the wire, for the traffic counters. */
  readonly payloadBytes: (payload: P) => number;
  /** A paused process's arriving packets wait ("queue") or are lost ("drop"). */
  readonly pausedInbox?: "queue" | "drop";
  readonly pausedInboxPacketsMax?: number;
  /** Chance a packet to a dead address yields an unreachable report to its sender. */
  readonly unreachableProbability?: number;
  readonly hostCheck?: HostCheckOptions;
}

export interface TrafficStats {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  packetsDropped: number;
}

type SimEvent<A extends string, P> =
  | { readonly kind: "tick"; readonly address: A; readonly token: number }
  | { readonly kind: "deliver"; readonly from: A; readonly to: A; readonly payload: P }
  | {
      readonly kind: "unreachable";
      readonly reporter: A;
      readonly about: A;
      readonly life: number;
    }
  | {
      readonly kind: "host-silent";
      readonly reporter: A;
      readonly about: A;
      readonly life: number;
    };

interface Slot<A extends string, P> {
  process: SimProcess<A, P> | null;
  status: ProcessStatus;
  /** Bumped on crash and restart: events aimed at an earlier life are void. */
  life: number;
  /** Bumped whenever ticks are rescheduled, so only one tick chain runs. */
  tickToken: number;
  inbox: Array<{ from: A; payload: P }>;
  readonly traffic: TrafficStats;
}

/** A paused process's socket buffer: about what a default Linux UDP receive buffer holds. */
const PAUSED_INBOX_PACKETS_MAX_DEFAULT = 256;

export class Simulator<A extends string, P> {
  readonly network: SimNetwork<A>;
  /** Randomness for the scenario and the processes; the network has its own stream. */
  readonly prng: Prng;
  private readonly events = new EventQueue<SimEvent<A, P>>();
  private readonly slots = new Map<A, Slot<A, P>>();
  private readonly options: SimulatorOptions<P>;
  private unreachableProbability: number;
  private now = 0;

  constructor(options: SimulatorOptions<P>) {
    const root = new Prng(options.seed);
    this.network = new SimNetwork<A>(root.fork(), options.path ?? PATH_LAN);
    this.prng = root.fork();
    this.options = options;
    this.unreachableProbability = options.unreachableProbability ?? 0;
  }

  /** Changes how often packets to dead addresses bounce (0: a cut link; 1: a killed process). */
  setUnreachableProbability(probability: number): void {
    this.unreachableProbability = probability;
  }

  get nowMs(): number {
    return this.now;
  }

  status(address: A): ProcessStatus {
    return this.slots.get(address)?.status ?? "down";
  }

  process(address: A): SimProcess<A, P> | null {
    return this.slots.get(address)?.process ?? null;
  }

  traffic(address: A): TrafficStats {
    return { ...this.slot(address).traffic };
  }

  /** Starts a process at `address` (first start or restart after a crash). */
  start(address: A, process: SimProcess<A, P>): void {
    const existing = this.slots.get(address);
    assert(existing === undefined || existing.status === "down", `${address} is already running`);
    const slot: Slot<A, P> = existing ?? {
      process: null,
      status: "down",
      life: 0,
      tickToken: 0,
      inbox: [],
      traffic: { packetsSent: 0, bytesSent: 0, packetsReceived: 0, packetsDropped: 0 },
    };
    slot.process = process;
    slot.status = "up";
    slot.life += 1;
    this.slots.set(address, slot);
    this.scheduleTicks(address, slot, this.prng.intBelow(this.options.tickIntervalMs));
  }

  /** Kills the process: its state is gone, its port closed. */
  crash(address: A): void {
    const slot = this.slot(address);
    slot.process = null;
    slot.status = "down";
    slot.life += 1;
    slot.inbox = [];
  }

  pause(address: A): void {
    const slot = this.slot(address);
    assert(slot.status === "up", `only a running process pauses (${address} is ${slot.status})`);
    slot.status = "paused";
  }

  /** Wakes the process: it first reads what waited in its socket, then ticks, as a driver would. */
  resume(address: A): void {
    const slot = this.slot(address);
    assert(slot.status === "paused", `${address} is not paused`);
    slot.status = "up";
    const waiting = slot.inbox;
    slot.inbox = [];
    for (const packet of waiting) this.deliverTo(address, slot, packet.from, packet.payload);
    this.scheduleTicks(address, slot, 0);
  }

  /** Lets `address` act outside the event loop (a test calling leave(), updateMeta()...). */
  act(address: A, action: (process: SimProcess<A, P>, nowMs: number) => void): void {
    const slot = this.slot(address);
    assert(slot.process !== null && slot.status === "up", `${address} is not running`);
    action(slot.process, this.now);
    this.flush(address, slot);
  }

  /** Runs every event up to and including `endMs`, then sets the clock to `endMs`. */
  runUntil(endMs: number): void {
    assert(endMs >= this.now, "simulated time only moves forward");
    for (;;) {
      const nextMs = this.events.peekTimeMs();
      if (nextMs === undefined || nextMs > endMs) break;
      const event = this.events.pop();
      assert(event !== undefined, "a peeked event must pop");
      this.now = event.atMs;
      this.handle(event.value);
    }
    this.now = endMs;
  }

  runFor(durationMs: number): void {
    this.runUntil(this.now + durationMs);
  }

  private slot(address: A): Slot<A, P> {
    const slot = this.slots.get(address);
    assert(slot !== undefined, `no process was ever started at ${address}`);
    return slot;
  }

  private scheduleTicks(address: A, slot: Slot<A, P>, delayMs: number): void {
    slot.tickToken += 1;
    this.events.push(this.now + delayMs, { kind: "tick", address, token: slot.tickToken });
  }

  private handle(event: SimEvent<A, P>): void {
    switch (event.kind) {
      case "tick":
        return this.onTick(event.address, event.token);
      case "deliver":
        return this.onDeliver(event.from, event.to, event.payload);
      case "unreachable":
        return this.onUnreachable(event.reporter, event.about, event.life);
      case "host-silent":
        return this.onHostSilent(event.reporter, event.about, event.life);
      default:
        return assertNever(event, "simulator event");
    }
  }

  private onTick(address: A, token: number): void {
    const slot = this.slot(address);
    if (token !== slot.tickToken || slot.status !== "up" || slot.process === null) return;
    slot.process.tick(this.now);
    this.flush(address, slot);
    this.events.push(this.now + this.options.tickIntervalMs, { kind: "tick", address, token });
  }

  private onDeliver(from: A, to: A, payload: P): void {
    // A link cut while the packet was in flight loses it too.
    if (this.network.isBlocked(from, to)) return;
    const slot = this.slots.get(to);
    if (slot === undefined || slot.status === "down") {
      this.bounce(from, to);
      return;
    }
    if (slot.status === "paused") {
      const max = this.options.pausedInboxPacketsMax ?? PAUSED_INBOX_PACKETS_MAX_DEFAULT;
      if (this.options.pausedInbox === "drop" || slot.inbox.length >= max) {
        slot.traffic.packetsDropped += 1;
      } else {
        slot.inbox.push({ from, payload });
      }
      return;
    }
    this.deliverTo(to, slot, from, payload);
  }

  private deliverTo(to: A, slot: Slot<A, P>, from: A, payload: P): void {
    assert(slot.process !== null, "a running slot has a process");
    slot.traffic.packetsReceived += 1;
    slot.process.receive(this.now, from, payload);
    this.flush(to, slot);
  }

  /** Nothing listens at `to`: maybe tell the sender, after the return trip's delay. */
  private bounce(from: A, to: A): void {
    const sender = this.slots.get(from);
    if (sender === undefined || sender.status === "down") return;
    if (!this.prng.chance(this.unreachableProbability)) return;
    if (this.network.isBlocked(to, from)) return;
    const atMs = this.now + this.network.delayMs(this.network.pathOptions(to, from));
    this.events.push(atMs, { kind: "unreachable", reporter: from, about: to, life: sender.life });
  }

  private onUnreachable(reporter: A, about: A, life: number): void {
    const slot = this.slots.get(reporter);
    if (slot === undefined || slot.life !== life || slot.status !== "up" || slot.process === null) {
      return;
    }
    slot.process.unreachable(this.now, about);
    this.flush(reporter, slot);
  }

  private onHostSilent(reporter: A, about: A, life: number): void {
    const slot = this.slots.get(reporter);
    if (slot === undefined || slot.life !== life || slot.status !== "up" || slot.process === null) {
      return;
    }
    slot.process.hostSilent?.(this.now, about);
    this.flush(reporter, slot);
  }

  /** Whether `about`'s host answers one connection attempt from `from` (both ways delivered). */
  private hostAnswers(from: A, about: A): boolean {
    const target = this.slots.get(about);
    const hostUp =
      target !== undefined &&
      (target.status !== "down" || this.prng.chance(this.unreachableProbability));
    if (!hostUp) return false;
    return this.network.delivers(from, about) && this.network.delivers(about, from);
  }

  private runHostChecks(address: A, slot: Slot<A, P>): void {
    const options = this.options.hostCheck;
    const checks = slot.process?.takeHostChecks?.() ?? [];
    if (options === undefined) return;
    for (const about of checks) {
      let answered = false;
      for (let attempt = 0; attempt < options.attempts; attempt += 1) {
        if (this.hostAnswers(address, about)) answered = true;
      }
      if (answered) continue;
      const atMs = this.now + options.timeoutMs;
      this.events.push(atMs, { kind: "host-silent", reporter: address, about, life: slot.life });
    }
  }

  private flush(address: A, slot: Slot<A, P>): void {
    if (slot.process === null) return;
    this.runHostChecks(address, slot);
    for (const { to, payload } of slot.process.takeOutgoing()) {
      slot.traffic.packetsSent += 1;
      slot.traffic.bytesSent += this.options.payloadBytes(payload);
      for (const atMs of this.network.plan(this.now, address, to)) {
        this.events.push(atMs, { kind: "deliver", from: address, to, payload });
      }
    }
  }
}
