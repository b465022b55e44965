/**
 * What a server app needs from gossip, in one call: start the driver on the node's `--listen`
 * address (UDP, same port as TCP), join through `--join`, keep the node's published metadata in
 * step with its state, log membership changes, and leave gracefully on stop. Owns the metadata
 * publishing policy (which changes go out at once, which are rate-limited); no app logic.
 */

import type { MetricsRegistry, swim } from "../../core/index.ts";
import { UsageError } from "../cli-flags.ts";
import type { Logger } from "../logger.ts";
import { GossipDriver, GossipStartError, type GossipListener } from "./driver.ts";
import { Keyring, KeyringError } from "../security/keyring.ts";

/** How often the app's state is read for metadata changes; a primary flip shows this late. */
export const GOSSIP_META_POLL_INTERVAL_MS = 250;
/**
 * Usage-only changes (bytes) go out at most this often: every update bumps the incarnation and
 * is a rumor to every member, and used bytes change on every chunk written.
 */
export const GOSSIP_USAGE_PUBLISH_INTERVAL_MS = 10_000;
/** The app's stop waits this long for the `left` rumor to go out (SWIM_LAN: 200 ms gossip). */
export const GOSSIP_APP_LEAVE_LINGER_MS = 500;

export interface ClusterGossipOptions {
  readonly node: string;
  /** The node's TCP address as bound; gossip binds UDP on the same host and port. */
  readonly address: string;
  readonly join: readonly string[];
  readonly keyring: Keyring;
  /** The node's current metadata, read every GOSSIP_META_POLL_INTERVAL_MS. */
  readonly meta: () => swim.MemberMetaFields;
  readonly logger: Logger;
  readonly leaveLingerMs?: number;
  /** The node's /metrics registry: gossip's probes, suspicions and round trips go there. */
  readonly metrics?: MetricsRegistry;
}

/** Parses a `--cluster-key` value, turning a bad key into a UsageError naming the flag. */
export function parseClusterKeyFlag(value: string): Keyring {
  try {
    return Keyring.parse(value);
  } catch (error) {
    if (error instanceof KeyringError) throw new UsageError(`flag --cluster-key: ${error.message}`);
    throw error;
  }
}

export const CLUSTER_KEY_FLAG = {
  name: "cluster-key",
  description: "gossip keys, base64 (16-64 bytes), comma list, first signs; empty: open dev mode",
  default: "",
  secret: true,
} as const;

export class ClusterGossip {
  readonly driver: GossipDriver;
  private readonly options: ClusterGossipOptions;
  private readonly timer: ReturnType<typeof setInterval>;
  private published: swim.MemberMetaFields;
  private usagePublishedMs: number;
  private stopping: Promise<void> | null = null;

  private constructor(driver: GossipDriver, options: ClusterGossipOptions) {
    this.driver = driver;
    this.options = options;
    this.published = options.meta();
    this.usagePublishedMs = performance.now();
    this.timer = setInterval(() => this.refreshMeta(), GOSSIP_META_POLL_INTERVAL_MS);
    driver.subscribe((event) => logEvent(options.logger, event));
  }

  /**
   * Starts gossip, or returns null (logged) when the UDP port cannot be bound: the node still
   * serves, and the directory's heartbeat timeout remains the failure detector.
   */
  static async start(options: ClusterGossipOptions): Promise<ClusterGossip | null> {
    let driver: GossipDriver;
    try {
      driver = await GossipDriver.start({
        id: options.node,
        listen: options.address,
        meta: options.meta(),
        keyring: options.keyring,
        logger: options.logger,
        ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      });
    } catch (error) {
      if (!(error instanceof GossipStartError)) throw error;
      options.logger.error("gossip disabled: cannot bind UDP", {
        address: options.address,
        error: String(error.cause ?? error.message),
      });
      return null;
    }
    const gossip = new ClusterGossip(driver, options);
    driver.join(options.join.filter((address) => address !== driver.address));
    return gossip;
  }

  subscribe(listener: GossipListener): () => void {
    return this.driver.subscribe(listener);
  }

  members(): swim.MemberView[] {
    return this.driver.members();
  }

  /** Publishes the node's metadata if it changed (usage changes rate-limited). */
  refreshMeta(): void {
    if (this.stopping !== null) return;
    const next = this.options.meta();
    const nowMs = performance.now();
    const roleChanged = !sameRole(this.published, next);
    const usageChanged =
      next.usedBytes !== this.published.usedBytes ||
      next.capacityBytes !== this.published.capacityBytes;
    const usageDue = nowMs - this.usagePublishedMs >= GOSSIP_USAGE_PUBLISH_INTERVAL_MS;
    if (!roleChanged && !(usageChanged && usageDue)) return;
    this.published = next;
    this.usagePublishedMs = nowMs;
    this.driver.updateMeta(next);
  }

  /** Leaves gracefully (others record `left`, never `dead`), then closes. Idempotent. */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    clearInterval(this.timer);
    const others = this.driver
      .members()
      .filter((member) => member.id !== this.driver.id && member.state === "alive");
    // With nobody to tell, lingering would only delay the stop.
    const lingerMs =
      others.length === 0 ? 0 : (this.options.leaveLingerMs ?? GOSSIP_APP_LEAVE_LINGER_MS);
    this.stopping = this.driver.leave(lingerMs);
    return this.stopping;
  }
}

function sameRole(a: swim.MemberMetaFields, b: swim.MemberMetaFields): boolean {
  return (
    a.role === b.role &&
    a.group === b.group &&
    a.address === b.address &&
    a.primary === b.primary &&
    a.epoch === b.epoch
  );
}

function logEvent(logger: Logger, event: swim.MemberEvent): void {
  const fields = {
    member: event.member.id,
    role: event.member.meta.role,
    group: event.member.meta.group,
    address: event.member.address,
    incarnation: event.member.incarnation,
  };
  if (event.kind === "updated") logger.debug("gossip member updated", fields);
  else logger.info(`gossip member ${event.kind}`, fields);
}
