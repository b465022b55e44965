/**
 * A storage node's background maintenance, wired: the repairer (listening to the chunk store's
 * damage reports), the scrubber, garbage collection and segment compaction. storage-node.ts starts it once the
 * node serves and stops it before the references database closes. Settings come from flags.
 */

import type { GroupView } from "@ftfs/protocol/core";
import type { ConnectOptions, Logger } from "@ftfs/protocol/io";
import {
  learnerSince,
  GC_GRACE_MS_DEFAULT,
  SCRUB_BYTES_PER_SECOND_DEFAULT,
  SCRUB_PASS_PAUSE_MS_DEFAULT,
} from "../core/index.ts";
import type { ChunkStore } from "./chunk-store.ts";
import { type CompactionStats, Compactor } from "./compactor.ts";
import { GarbageCollector, type ConfirmGarbage, type GcStats } from "./gc.ts";
import type { RefsStore } from "./refs-store.ts";
import { Repairer, type RepairStats } from "./repairer.ts";
import { Scrubber, type ScrubStats } from "./scrubber.ts";

export interface MaintenanceSettings {
  /** Scrub read rate; 0 turns the scrubber off. Default SCRUB_BYTES_PER_SECOND_DEFAULT. */
  readonly scrubBytesPerSecond?: number;
  /** Pause between scrub passes. Default SCRUB_PASS_PAUSE_MS_DEFAULT. */
  readonly scrubPassPauseMs?: number;
  /** How long garbage waits before it is collected. Default GC_GRACE_MS_DEFAULT. */
  readonly gcGraceMs?: number;
}

export interface MaintenanceDeps {
  readonly node: string;
  readonly chunks: ChunkStore;
  readonly refs: RefsStore;
  readonly view: () => GroupView | null;
  /** This node's group (null: a spare not assigned one). */
  readonly group: () => string | null;
  /** Asks the directory primary which garbage candidates may go. */
  readonly confirmGarbage: ConfirmGarbage;
  readonly logger: Logger;
  readonly nowMs: () => number;
  readonly monotonicMs: () => number;
  /** How this node proves itself to other nodes (the cluster key). */
  readonly connect?: ConnectOptions;
}

export interface MaintenanceStats {
  readonly scrub: Readonly<ScrubStats>;
  readonly repair: Readonly<RepairStats>;
  readonly gc: Readonly<GcStats>;
  readonly compaction: Readonly<CompactionStats>;
  /** Repairs waiting or running now. */
  readonly repairBacklog: number;
}

export class Maintenance {
  readonly repairer: Repairer;
  readonly scrubber: Scrubber;
  readonly gc: GarbageCollector;
  readonly compactor: Compactor;
  private readonly chunks: ChunkStore;

  private constructor(deps: MaintenanceDeps, settings: MaintenanceSettings) {
    const { chunks, refs, logger, monotonicMs } = deps;
    this.chunks = chunks;
    this.repairer = new Repairer({
      node: deps.node,
      chunks,
      refs,
      view: deps.view,
      logger,
      ...(deps.connect === undefined ? {} : { connect: deps.connect }),
    });
    this.scrubber = new Scrubber({
      chunks,
      refs,
      repairer: this.repairer,
      logger,
      monotonicMs,
      bytesPerSecond: settings.scrubBytesPerSecond ?? SCRUB_BYTES_PER_SECOND_DEFAULT,
      passPauseMs: settings.scrubPassPauseMs ?? SCRUB_PASS_PAUSE_MS_DEFAULT,
      learning: () => learnerSince(deps.view(), deps.node) !== null,
    });
    this.gc = new GarbageCollector({
      chunks,
      refs,
      logger,
      group: deps.group,
      confirm: deps.confirmGarbage,
      nowMs: deps.nowMs,
      monotonicMs,
      graceMs: settings.gcGraceMs ?? GC_GRACE_MS_DEFAULT,
    });
    this.compactor = new Compactor(chunks, logger);
  }

  static start(deps: MaintenanceDeps, settings: MaintenanceSettings = {}): Maintenance {
    const maintenance = new Maintenance(deps, settings);
    deps.chunks.onDamage = maintenance.repairer.onDamage;
    maintenance.scrubber.start();
    maintenance.gc.start();
    maintenance.compactor.start();
    return maintenance;
  }

  get stats(): MaintenanceStats {
    return {
      scrub: this.scrubber.stats,
      repair: this.repairer.stats,
      gc: this.gc.stats,
      compaction: this.compactor.stats,
      repairBacklog: this.repairer.backlog,
    };
  }

  /** Stop every loop and wait for the work under way; the stores may close after this. */
  async stop(): Promise<void> {
    this.chunks.onDamage = null;
    await Promise.all([
      this.scrubber.stop(),
      this.gc.stop(),
      this.repairer.stop(),
      this.compactor.stop(),
    ]);
  }
}
