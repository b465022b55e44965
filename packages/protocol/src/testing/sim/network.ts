/**
 * The simulated network's rules (TigerBeetle's packet simulator, in spirit): per-path delay,
 * loss, duplication and reordering, and partitions, symmetric or one-way. It decides the fate
 * of each packet from the simulator's seeded PRNG and holds no packets itself. Generic over the
 * address type, so any core (gossip now, Raft later) can run on it.
 */

import { assert } from "../../core/assert.ts";
import type { Random } from "../../core/prng.ts";

export interface PathOptions {
  /** One-way delay is uniform in [delayMinMs, delayMaxMs]. */
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  readonly lossProbability: number;
  readonly duplicateProbability: number;
  /** Chance a packet is held back by up to reorderDelayMs more, overtaken by later ones. */
  readonly reorderProbability: number;
  readonly reorderDelayMs: number;
}

export const PATH_LAN: PathOptions = {
  delayMinMs: 1,
  delayMaxMs: 5,
  lossProbability: 0,
  duplicateProbability: 0,
  reorderProbability: 0,
  reorderDelayMs: 0,
};

export class SimNetwork<A extends string> {
  private defaults: PathOptions;
  private readonly paths = new Map<string, PathOptions>();
  /** Side of a symmetric partition per address; addresses on different sides cannot talk. */
  private readonly side = new Map<A, number>();
  /** One-way cuts, `from→to`. */
  private readonly cuts = new Set<string>();
  private readonly prng: Random;

  constructor(prng: Random, defaults: PathOptions = PATH_LAN) {
    this.prng = prng;
    this.defaults = defaults;
  }

  setDefaults(options: PathOptions): void {
    this.defaults = options;
  }

  /** Overrides the options of the directed path `from → to`. */
  setPath(from: A, to: A, options: PathOptions): void {
    this.paths.set(pathKey(from, to), options);
  }

  pathOptions(from: A, to: A): PathOptions {
    return this.paths.get(pathKey(from, to)) ?? this.defaults;
  }

  /** Splits the listed addresses into sides that cannot reach each other (others unaffected). */
  partition(sides: ReadonlyArray<readonly A[]>): void {
    this.side.clear();
    sides.forEach((members, index) => {
      for (const address of members) this.side.set(address, index);
    });
  }

  /** Packets from `from` to `to` are lost; the other direction still works. */
  cutOneWay(from: A, to: A): void {
    this.cuts.add(pathKey(from, to));
  }

  heal(): void {
    this.side.clear();
    this.cuts.clear();
  }

  isBlocked(from: A, to: A): boolean {
    if (this.cuts.has(pathKey(from, to))) return true;
    const a = this.side.get(from);
    const b = this.side.get(to);
    return a !== undefined && b !== undefined && a !== b;
  }

  /** Delivery times of one packet sent now: none (lost or blocked), one, or two (duplicated). */
  plan(nowMs: number, from: A, to: A): number[] {
    if (this.isBlocked(from, to)) return [];
    const options = this.pathOptions(from, to);
    if (this.prng.chance(options.lossProbability)) return [];
    const times = [nowMs + this.delayMs(options)];
    if (this.prng.chance(options.duplicateProbability)) times.push(nowMs + this.delayMs(options));
    return times;
  }

  /** Whether one packet from `from` gets through to `to` now (not blocked, not lost). */
  delivers(from: A, to: A): boolean {
    if (this.isBlocked(from, to)) return false;
    return !this.prng.chance(this.pathOptions(from, to).lossProbability);
  }

  /** One-way delay of a path, for replies the network itself makes (unreachable reports). */
  delayMs(options: PathOptions): number {
    assert(options.delayMaxMs >= options.delayMinMs, "path delay range is inverted");
    let delay =
      options.delayMinMs + this.prng.intBelow(options.delayMaxMs - options.delayMinMs + 1);
    if (options.reorderDelayMs > 0 && this.prng.chance(options.reorderProbability)) {
      delay += 1 + this.prng.intBelow(options.reorderDelayMs);
    }
    return delay;
  }
}

function pathKey(from: string, to: string): string {
  return `${from}→${to}`;
}

/** A random faulty path for a seeded schedule: delay, and some loss, duplication, reordering. */
export function faultyPath(prng: Random): PathOptions {
  return {
    delayMinMs: 1,
    delayMaxMs: 1 + prng.intBelow(15),
    lossProbability: prng.intBelow(4) * 0.05,
    duplicateProbability: prng.intBelow(3) * 0.05,
    reorderProbability: prng.intBelow(3) * 0.1,
    reorderDelayMs: 40,
  };
}
