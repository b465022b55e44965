/**
 * The chaos harness's private network: a Linux bridge in the host namespace with a private /24,
 * and per node a network namespace joined to it by a veth pair, so each node has its own address
 * that firewall rules can name. The host side of the bridge holds .1: the harness's clients run
 * in this process (the history must be recorded in one place, with one clock) and reach every
 * node over the bridge. Namespaces get no default route, so nothing they send can leave the
 * subnet; the host only gains a connected route to that /24.
 *
 * Faults are nftables rules in a node's own namespace, on the input hook (a silent drop, as a
 * cut cable or a lossy link gives) and a tmpfs mounted as a node's data folder (a disk that can
 * fill up). Everything created carries this process's pid in its name; `sweepLeftovers` deletes
 * what dead runs left behind, and `destroy` (synchronous, safe from a signal handler) deletes
 * what this one made.
 */

import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { processAlive } from "@ftfs/protocol/io";
import { Netns, runCommand } from "@ftfs/protocol/testing";

/** Namespaces are `ftfs-chaos-<pid>-<node>`; bridges `ftc-<pid>`; host veth ends `ftc<pid>v<i>`. */
const NS_PREFIX = "ftfs-chaos-";
const LINK_PREFIX = "ftc";
/** Linux limits interface names to 15 bytes: `ftc` + a 7-digit pid + `v` + 2 digits fits. */
const IFNAME_BYTES_MAX = 15;
/** Private subnets 10.199.<octet>.0/24; the first free octet from a pid-derived start is taken. */
const SUBNET_BASE = "10.199";
const SUBNET_OCTET_FIRST = 20;
const SUBNET_OCTET_SPAN = 200;
const HOST_OCTET = 1;
const NODE_OCTET_FIRST = 10;
/** The table every fault rule lives in; deleting it heals the namespace at once. */
const FAULT_TABLE = "ftfs_chaos";
/** Random drops are `numgen random mod 100`: a loss rate is a whole percent. */
const PERCENT = 100;
/** Filler writes: big ones until the disk refuses, then page-sized ones for the last bytes. */
const FILL_WRITE_BYTES = [1024 * 1024, 4096] as const;
/** Data folders on tmpfs are mounted under this root name, so a sweep can find them by pid. */
export const CHAOS_ROOT_PREFIX = "ftfs-chaos-";

export interface FaultRules {
  /** Addresses whose packets this namespace silently drops. */
  readonly dropFrom: readonly string[];
  /** Percent of all packets arriving on the bridge side that are dropped (0: none). */
  readonly lossPercent: number;
}

interface NodeLink {
  readonly ns: string;
  readonly hostEnd: string;
  readonly ip: string;
}

const live = new Set<ChaosNet>();
let handlersInstalled = false;

/** Everything still alive is destroyed on exit, on SIGINT/SIGTERM and on an uncaught error. */
function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const destroyAll = (): void => {
    for (const net of live) net.destroy();
  };
  process.on("exit", destroyAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      destroyAll();
      process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
  process.on("uncaughtException", (error) => {
    destroyAll();
    console.error(error);
    process.exit(1);
  });
}

/** For cleanup: a failure is reported as a result (the thing may already be gone), not thrown. */
function attempt(cmd: readonly string[]): boolean {
  return Bun.spawnSync([...cmd], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

function killNamespace(ns: string): void {
  const pids = Bun.spawnSync(["ip", "netns", "pids", ns]).stdout.toString();
  for (const pid of pids.split(/\s+/).filter((p) => p !== "")) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Gone between the listing and the kill: nothing left to end.
    }
  }
  attempt(["ip", "netns", "del", ns]);
}

/**
 * Deletes namespaces, links and mounts whose owning run is dead (its pid is in their names).
 * Returns what it removed, so the caller can say so.
 */
export function sweepLeftovers(): string[] {
  const removed: string[] = [];
  for (const line of Bun.spawnSync(["ip", "netns", "list"]).stdout.toString().split("\n")) {
    const name = line.split(/\s+/)[0] ?? "";
    const match = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(name);
    if (match !== null && !processAlive(Number(match[1]))) {
      killNamespace(name);
      removed.push(`netns ${name}`);
    }
  }
  for (const line of Bun.spawnSync(["ip", "-o", "link", "show"]).stdout.toString().split("\n")) {
    const name = (line.split(":")[1] ?? "").trim().split("@")[0] ?? "";
    const match = new RegExp(`^${LINK_PREFIX}-?(\\d+)(v\\d+)?$`).exec(name);
    if (match !== null && !processAlive(Number(match[1]))) {
      attempt(["ip", "link", "del", name]);
      removed.push(`link ${name}`);
    }
  }
  for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
    const mountpoint = line.split(" ")[1] ?? "";
    const match = new RegExp(`/${CHAOS_ROOT_PREFIX}(\\d+)-`).exec(mountpoint);
    if (match !== null && !processAlive(Number(match[1]))) {
      attempt(["umount", "-l", mountpoint]);
      removed.push(`mount ${mountpoint}`);
    }
  }
  return removed;
}

function freeSubnetOctet(): number {
  const used = runCommand(["ip", "-4", "-o", "addr", "show"]);
  for (let step = 0; step < SUBNET_OCTET_SPAN; step += 1) {
    const octet = SUBNET_OCTET_FIRST + ((process.pid + step) % SUBNET_OCTET_SPAN);
    if (!used.includes(` ${SUBNET_BASE}.${octet}.`)) return octet;
  }
  throw new Error(`no free ${SUBNET_BASE}.x.0/24 subnet for the chaos bridge`);
}

export class ChaosNet {
  readonly bridge: string;
  readonly hostIp: string;
  private readonly octet: number;
  private readonly nodes = new Map<string, NodeLink>();
  private readonly mounts: string[] = [];
  private destroyed = false;

  private constructor(octet: number) {
    this.octet = octet;
    this.bridge = `${LINK_PREFIX}-${process.pid}`;
    this.hostIp = `${SUBNET_BASE}.${octet}.${HOST_OCTET}`;
  }

  /**
   * Why the harness cannot run here, or null when it can: the static checks of the gossip
   * bench's namespace, then a real namespace created and deleted (a container may lack the
   * capability even as root).
   */
  static unavailableReason(): string | null {
    const reason = Netns.unavailableReason();
    if (reason !== null) return reason;
    const probe = `${NS_PREFIX}${process.pid}-probe`;
    const made = Bun.spawnSync(["ip", "netns", "add", probe], { stdout: "ignore", stderr: "pipe" });
    if (made.exitCode !== 0)
      return `cannot create a network namespace: ${made.stderr.toString().trim()}`;
    attempt(["ip", "netns", "del", probe]);
    const link = `${LINK_PREFIX}-${process.pid}`;
    const bridge = Bun.spawnSync(["ip", "link", "add", link, "type", "bridge"], {
      stdout: "ignore",
      stderr: "pipe",
    });
    if (bridge.exitCode !== 0) return `cannot create a bridge: ${bridge.stderr.toString().trim()}`;
    attempt(["ip", "link", "del", link]);
    return null;
  }

  /** Sweeps dead runs' leftovers, then creates the bridge with the host's address on it. */
  static create(): ChaosNet {
    installCleanupHandlers();
    sweepLeftovers();
    const net = new ChaosNet(freeSubnetOctet());
    live.add(net);
    try {
      runCommand(["ip", "link", "add", net.bridge, "type", "bridge"]);
      runCommand(["ip", "addr", "add", `${net.hostIp}/24`, "dev", net.bridge]);
      runCommand(["ip", "link", "set", net.bridge, "up"]);
    } catch (error) {
      net.destroy();
      throw error;
    }
    return net;
  }

  /** Creates node `id`'s namespace on the bridge; returns its address. */
  addNode(id: string): string {
    const index = this.nodes.size;
    const ns = `${NS_PREFIX}${process.pid}-${id}`;
    const hostEnd = `${LINK_PREFIX}${process.pid}v${index}`;
    if (hostEnd.length > IFNAME_BYTES_MAX) throw new Error(`interface name ${hostEnd} is too long`);
    const ip = `${SUBNET_BASE}.${this.octet}.${NODE_OCTET_FIRST + index}`;
    this.nodes.set(id, { ns, hostEnd, ip });
    runCommand(["ip", "netns", "add", ns]);
    runCommand(["ip", "link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    runCommand(["ip", "link", "set", hostEnd, "master", this.bridge, "up"]);
    runCommand(["ip", "-n", ns, "addr", "add", `${ip}/24`, "dev", "eth0"]);
    runCommand(["ip", "-n", ns, "link", "set", "eth0", "up"]);
    runCommand(["ip", "-n", ns, "link", "set", "lo", "up"]);
    return ip;
  }

  private link(id: string): NodeLink {
    const link = this.nodes.get(id);
    if (link === undefined) throw new Error(`no namespace for node ${id}`);
    return link;
  }

  ipOf(id: string): string {
    return this.link(id).ip;
  }

  /** `ip netns exec` execs its command: the spawned pid is the node's own. */
  wrap(id: string): string[] {
    return ["ip", "netns", "exec", this.link(id).ns];
  }

  /** Replaces node `id`'s fault rules with these (drops by source, random loss). */
  setRules(id: string, rules: FaultRules): void {
    const lines = [
      `add table inet ${FAULT_TABLE}`,
      `delete table inet ${FAULT_TABLE}`,
      `add table inet ${FAULT_TABLE}`,
      `add chain inet ${FAULT_TABLE} input { type filter hook input priority 0; policy accept; }`,
    ];
    if (rules.dropFrom.length > 0) {
      lines.push(
        `add rule inet ${FAULT_TABLE} input ip saddr { ${rules.dropFrom.join(", ")} } drop`,
      );
    }
    if (rules.lossPercent > 0) {
      lines.push(
        `add rule inet ${FAULT_TABLE} input iifname "eth0" numgen random mod ${PERCENT} lt ${rules.lossPercent} drop`,
      );
    }
    runCommand(["ip", "netns", "exec", this.link(id).ns, "nft", "-f", "-"], lines.join("\n"));
  }

  clearRules(id: string): void {
    runCommand(
      ["ip", "netns", "exec", this.link(id).ns, "nft", "-f", "-"],
      `add table inet ${FAULT_TABLE}\ndelete table inet ${FAULT_TABLE}\n`,
    );
  }

  /** Mounts a tmpfs of `bytes` at `dir` (a node's data folder): a disk that can be filled. */
  mountSmallDisk(dir: string, bytes: number): void {
    mkdirSync(dir, { recursive: true });
    runCommand(["mount", "-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir]);
    this.mounts.push(dir);
  }

  /**
   * Fills the disk at `dir` to the last byte with one file; returns its path and size. The node
   * keeps writing meanwhile, so the free space measured a moment ago may already be gone: the
   * file is appended to until the disk refuses, not allocated at a size measured in advance.
   */
  fillDisk(dir: string): { path: string; bytes: number } {
    const path = join(dir, "chaos-filler");
    const fd = openSync(path, "a");
    let bytes = 0;
    try {
      for (const size of FILL_WRITE_BYTES) {
        const zeros = new Uint8Array(size);
        for (;;) {
          try {
            bytes += writeSync(fd, zeros);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
            break;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    return { path, bytes };
  }

  unfillDisk(path: string): void {
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  /**
   * Kills every process in our namespaces, deletes them, the veths, the bridge, and unmounts
   * our disks. Synchronous and idempotent, so exit and signal handlers can call it.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const link of this.nodes.values()) killNamespace(link.ns);
    for (const link of this.nodes.values()) attempt(["ip", "link", "del", link.hostEnd]);
    attempt(["ip", "link", "del", this.bridge]);
    for (const dir of this.mounts) {
      if (!attempt(["umount", dir])) attempt(["umount", "-l", dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
