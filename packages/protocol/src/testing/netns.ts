/**
 * A private network namespace for bench/src/gossip/main.ts: the measurements plain loopback cannot
 * do (a silent cut link, random packet loss) need firewall rules, and rules on the host's own
 * loopback would touch everything else on the machine. Inside a fresh namespace the whole
 * 127.0.0.0/8 is on `lo`, so members get their own addresses (127.0.0.11…) that rules can name,
 * and nothing leaves the namespace. Loss and cuts are nftables rules on the `input` hook: a drop
 * there is silent (no ICMP, unlike `reject`) and the sender's `send` still succeeds (a drop on
 * `output` would fail the send with EPERM, a local hint a real silent link never gives).
 * Owns the namespace and every process in it: `destroy` kills them by pid and deletes it.
 */

/** Members live on 127.0.0.(ADDRESS_OFFSET + i), i = 1…n, as the Serf anchor scripts do. */
const ADDRESS_OFFSET = 10;
/** nftables tables this module creates; deleting a table drops all of its rules at once. */
const CUT_TABLE = "ftfs_bench_cut";
const LOSS_TABLE = "ftfs_bench_loss";
/** Random drops come from `numgen random mod 100`, so a loss rate is a whole percent. */
const PERCENT = 100;

export interface LossCounters {
  /** Gossip packets that reached the input hook while the loss rules were in place. */
  readonly seen: number;
  readonly dropped: number;
}

export class Netns {
  readonly name: string;
  private destroyed = false;

  private constructor(name: string) {
    this.name = name;
  }

  /** Why the namespace measurements cannot run here, or null when they can. */
  static unavailableReason(): string | null {
    if (process.platform !== "linux")
      return `network namespaces need Linux (this is ${process.platform})`;
    if (process.getuid?.() !== 0) return "creating a network namespace needs root";
    if (Bun.which("ip") === null)
      return "`ip` (iproute2) is not installed: apt-get install -y iproute2";
    if (Bun.which("nft") === null) return "`nft` is not installed: apt-get install -y nftables";
    return null;
  }

  /** Creates `ftfs-gossip-bench-<pid>` with `lo` up; throws with `ip`'s message on failure. */
  static create(): Netns {
    const ns = new Netns(`ftfs-gossip-bench-${process.pid}`);
    runCommand(["ip", "netns", "add", ns.name]);
    try {
      runCommand(ns.exec(["ip", "link", "set", "lo", "up"]));
    } catch (error) {
      ns.destroy();
      throw error;
    }
    return ns;
  }

  static host(i: number): string {
    return `127.0.0.${ADDRESS_OFFSET + i}`;
  }

  /**
   * The command run inside the namespace. `ip netns exec` execs the command itself (no fork),
   * so the pid Bun.spawn returns is the member's own pid and signals reach it directly.
   */
  exec(cmd: readonly string[]): string[] {
    return ["ip", "netns", "exec", this.name, ...cmd];
  }

  /** Silences one host: every packet from or to it is dropped, in both directions. */
  cut(host: string): void {
    this.nft(`
      add table inet ${CUT_TABLE}
      add chain inet ${CUT_TABLE} input { type filter hook input priority 0; policy accept; }
      add rule inet ${CUT_TABLE} input ip saddr ${host} drop
      add rule inet ${CUT_TABLE} input ip daddr ${host} drop
    `);
  }

  heal(): void {
    this.nft(`delete table inet ${CUT_TABLE}`);
  }

  /**
   * Drops `percent` % of the packets to and from `port` (the members' gossip port, UDP and TCP,
   * as serf/measure.sh does), counting what it saw so the applied rate can be checked.
   */
  startLoss(port: number, percent: number): void {
    const gossip = `meta l4proto { tcp, udp } th dport ${port}`;
    // Replies to a TCP client's ephemeral port (Serf's push-pull) are gossip too.
    const replies = `meta l4proto { tcp, udp } th sport ${port} th dport != ${port}`;
    const drop = `numgen random mod ${PERCENT} lt ${percent} counter drop`;
    this.nft(`
      add table inet ${LOSS_TABLE}
      add chain inet ${LOSS_TABLE} input { type filter hook input priority 0; policy accept; }
      add rule inet ${LOSS_TABLE} input ${gossip} counter
      add rule inet ${LOSS_TABLE} input ${replies} counter
      add rule inet ${LOSS_TABLE} input ${gossip} ${drop}
      add rule inet ${LOSS_TABLE} input ${replies} ${drop}
    `);
  }

  /** Removes the loss rules and returns their counters (rules in the order startLoss added). */
  stopLoss(): LossCounters {
    const listing = runCommand(this.exec(["nft", "list", "table", "inet", LOSS_TABLE]));
    this.nft(`delete table inet ${LOSS_TABLE}`);
    const packets = [...listing.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    const [seenIn = 0, seenReplies = 0, droppedIn = 0, droppedReplies = 0] = packets;
    return { seen: seenIn + seenReplies, dropped: droppedIn + droppedReplies };
  }

  /**
   * Kills every process still in the namespace (all of them were started by this bench: the
   * namespace is ours and fresh) and deletes it. Synchronous so a signal handler can call it.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const pids = Bun.spawnSync(["ip", "netns", "pids", this.name]).stdout.toString();
    for (const pid of pids.split(/\s+/).filter((p) => p !== "")) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // Already gone between listing and kill: nothing to clean.
      }
    }
    Bun.spawnSync(["ip", "netns", "del", this.name]);
  }

  private nft(script: string): void {
    runCommand(this.exec(["nft", "-f", "-"]), script);
  }
}

/** Runs a short command to completion; throws with its stderr when it fails. */
export function runCommand(cmd: readonly string[], stdin = ""): string {
  const result = Bun.spawnSync([...cmd], {
    stdin: new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (result.exitCode !== 0) {
    throw new Error(
      `${cmd.join(" ")} failed (exit ${result.exitCode}): ${result.stderr.toString().trim()}`,
    );
  }
  return result.stdout.toString();
}
