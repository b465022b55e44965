/**
 * Free loopback ports for tests: a port both TCP and UDP can bind (nodes use one port for
 * both), released at once for the caller to use.
 *
 * The port is drawn from below the kernel's ephemeral range. A port the kernel chose for a bind
 * to port 0 lies inside that range, and so may be handed to any outgoing connection (a client's
 * source port) between our release and the node's bind: under load that race made a node fail
 * to start now and then. Below the range only an explicit bind can take it.
 */
import { readFileSync } from "node:fs";

/** The lowest port handed out; below are well-known and registered services. */
const FREE_PORT_MIN = 20_000;
/** Linux's default first ephemeral port, used when /proc does not say. */
const EPHEMERAL_PORT_MIN_DEFAULT = 32_768;
const FREE_PORT_ATTEMPTS = 200;

function ephemeralPortMin(): number {
  try {
    const range = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8");
    const low = Number.parseInt(range.trim().split(/\s+/)[0] ?? "", 10);
    return Number.isInteger(low) && low > FREE_PORT_MIN + 1_000 ? low : EPHEMERAL_PORT_MIN_DEFAULT;
  } catch {
    return EPHEMERAL_PORT_MIN_DEFAULT; // not Linux: assume its default range
  }
}

const PORT_CEILING = ephemeralPortMin();
/** Ports this process already handed out: a node not yet bound must not get a twin. */
const handedOut = new Set<number>();

async function bindsBoth(port: number): Promise<boolean> {
  try {
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
  } catch {
    return false; // taken over TCP
  }
  try {
    const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port });
    udp.close();
    return true;
  } catch {
    return false; // taken over UDP
  }
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < FREE_PORT_ATTEMPTS; attempt += 1) {
    const port = FREE_PORT_MIN + Math.floor(Math.random() * (PORT_CEILING - FREE_PORT_MIN));
    if (handedOut.has(port) || !(await bindsBoth(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free loopback port found after ${FREE_PORT_ATTEMPTS} attempts`);
}
