/**
 * One standalone FTFS gossip member for bench/src/gossip/main.ts: the real driver (GossipDriver) on
 * `--listen`, joined through `--join`, printing one JSON line per membership event and one
 * stats line every STATS_INTERVAL_MS on stdout, so the bench can time detections and load.
 * Usage: bun bench/src/gossip/node.ts ID HOST:PORT [SEED,SEED…] [BASE64-KEY]
 */

import { GossipDriver, Keyring, createLogger } from "@ftfs/protocol/io";

const STATS_INTERVAL_MS = 1_000;

const [id = "n1", listen = "127.0.0.1:7946", seeds = "", key = ""] = process.argv.slice(2);
const driver = await GossipDriver.start({
  id,
  listen,
  meta: {
    role: "storage",
    group: "bench",
    address: listen,
    primary: false,
    epoch: 0,
    usedBytes: 0,
    capacityBytes: 1,
  },
  keyring: Keyring.parse(key),
  logger: createLogger(id),
});
driver.subscribe((event) => {
  const line = {
    type: "event",
    kind: event.kind,
    atMs: event.atMs,
    member: event.member.id,
    incarnation: event.member.incarnation,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
});
setInterval(() => {
  const stats = driver.stats();
  const alive = driver.members().filter((member) => member.state === "alive").length;
  const line = {
    type: "stats",
    atMs: Date.now(),
    alive,
    datagramsOut: stats.datagramsOut,
    bytesOut: stats.bytesOut,
    datagramsIn: stats.datagramsIn,
    bytesIn: stats.bytesIn,
    awarenessScore: stats.awarenessScore,
    stalls: stats.stalls,
    hostChecks: stats.hostChecks,
    hostsSilent: stats.hostsSilent,
    silentHostSuspicions: stats.silentHostSuspicions,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}, STATS_INTERVAL_MS);
driver.join(seeds.split(",").filter((seed) => seed !== ""));
process.once("SIGTERM", () => void driver.leave().then(() => process.exit(0)));
