/**
 * Plays a churn schedule against a running cluster: each event at its second after t0, its
 * target resolved from the directory's view at that moment, the actual time and the node hit
 * recorded. `heal` undoes whatever is still down so the end-of-run check reads from a whole
 * cluster. Owns the signals it sends, not the cluster.
 */

import { assertNever } from "@ftfs/protocol/core";
import type { LocalCluster, NodeProcess } from "@ftfs/protocol/testing";
import { clusterView, resolveTarget } from "@ftfs/protocol/testing";
import { isUndo, type ChurnAction, type ChurnEvent } from "./schedule.ts";

/** A role may be briefly unheld (an election in progress): look again for this long. */
const RESOLVE_DEADLINE_MS = 5_000;
const RESOLVE_POLL_MS = 200;
/** A SIGKILLed process is reaped within milliseconds; this only bounds a stuck wait. */
const EXIT_WAIT_MS = 5_000;

export interface ChurnRecord {
  /** Milliseconds after t0 the signal was sent. */
  readonly atMs: number;
  readonly action: ChurnAction;
  readonly target: string;
  readonly node: string | null;
  /** The storage group of the node hit; null for a directory node or when none was hit. */
  readonly group: string | null;
  readonly note: string;
}

export class ChurnPlayer {
  readonly records: ChurnRecord[] = [];
  private readonly cluster: LocalCluster;
  private readonly hit = new Map<string, NodeProcess>();
  private readonly paused = new Set<NodeProcess>();
  private stopped = false;

  constructor(cluster: LocalCluster) {
    this.cluster = cluster;
  }

  async play(events: readonly ChurnEvent[], t0Ms: number, endMs: number): Promise<void> {
    for (const event of events) {
      const atMs = event.atS * 1000;
      if (atMs >= endMs) break;
      const waitMs = t0Ms + atMs - performance.now();
      if (waitMs > 0) await Bun.sleep(waitMs);
      if (this.stopped) return;
      this.records.push(await this.apply(event, t0Ms));
    }
  }

  stop(): void {
    this.stopped = true;
  }

  private async resolve(event: ChurnEvent): Promise<NodeProcess | null> {
    if (isUndo(event.action)) return this.hit.get(event.target) ?? null;
    const deadlineMs = performance.now() + RESOLVE_DEADLINE_MS;
    for (;;) {
      const node = resolveTarget(this.cluster, await clusterView(this.cluster), event.target);
      if (node !== null || performance.now() > deadlineMs) return node;
      await Bun.sleep(RESOLVE_POLL_MS);
    }
  }

  private async apply(event: ChurnEvent, t0Ms: number): Promise<ChurnRecord> {
    const node = await this.resolve(event);
    const atMs = performance.now() - t0Ms;
    const base = {
      atMs,
      action: event.action,
      target: event.target,
      node: node?.id ?? null,
      group: node?.group ?? null,
    };
    if (node === null) return { ...base, note: "skipped: target not found" };
    this.hit.set(event.target, node);
    await this.signal(node, event.action);
    return { ...base, note: "" };
  }

  private async signal(node: NodeProcess, action: ChurnAction): Promise<void> {
    switch (action) {
      case "kill":
        node.kill("SIGKILL");
        await Promise.race([node.exited(), Bun.sleep(EXIT_WAIT_MS)]);
        return;
      case "restart":
      case "join":
        if (!node.running) node.start();
        return;
      case "pause":
        node.kill("SIGSTOP");
        this.paused.add(node);
        return;
      case "resume":
        node.kill("SIGCONT");
        this.paused.delete(node);
        return;
      case "leave":
        await node.stop();
        return;
      default:
        return assertNever(action, "churn action");
    }
  }

  /** Resume paused nodes and start stopped ones. */
  heal(): string[] {
    const healed: string[] = [];
    for (const node of this.paused) {
      node.kill("SIGCONT");
      healed.push(`${node.id} resumed`);
    }
    this.paused.clear();
    for (const node of this.cluster.nodes) {
      if (node.running) continue;
      node.start();
      healed.push(`${node.id} started`);
    }
    return healed;
  }
}

/** Pairs each fault with its undo: the intervals a node was out, for the chart's shading. */
export function outages(
  records: readonly ChurnRecord[],
  endMs: number,
): Array<{
  fromMs: number;
  toMs: number;
  label: string;
}> {
  const open = new Map<string, ChurnRecord>();
  const spans: Array<{ fromMs: number; toMs: number; label: string }> = [];
  for (const record of records) {
    if (record.node === null) continue;
    if (!isUndo(record.action)) {
      open.set(record.target, record);
      continue;
    }
    const start = open.get(record.target);
    if (start === undefined) continue;
    open.delete(record.target);
    spans.push({ fromMs: start.atMs, toMs: record.atMs, label: `${start.node} ${start.action}` });
  }
  for (const start of open.values()) {
    spans.push({ fromMs: start.atMs, toMs: endMs, label: `${start.node} ${start.action}` });
  }
  return spans;
}
