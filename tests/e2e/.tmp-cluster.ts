import { startCluster } from "@ftfs/protocol/testing";
const cluster = await startCluster({ directories: 1, groups: [{ name: "s1", size: 2 }, { name: "s2", size: 2 }] });
console.log(cluster.directoryAddresses.join(","), cluster.dataRoot);
process.on("SIGTERM", async () => { await cluster.stop(); process.exit(0); });
await Bun.sleep(900_000);
