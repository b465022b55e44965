/**
 * `bun run bench:files`: one client uploads and reads back a large file through a real cluster
 * (1 directory node, 1 storage group of 3 replicas, real processes), using the real `ftfs`
 * binary. Reports MiB/s as ratios of the machine's limits measured in the same run (a write
 * lands on 3 replicas of one disk, so the upload's ceiling is disk ÷ 3), and the peak RSS of
 * every process while a bigger file goes up and comes back (memory must stay bounded by chunks
 * in flight, not by file size: the target is < 256 MiB per process).
 *
 *   bun run bench:files [--size-mib 1024] [--memory-size-mib 2048] [--runs 3]
 */

import { mkdtemp, rm } from "node:fs/promises";
import { openSync, closeSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FTFS_MAIN, startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import { measureMachineLimitsMedian, median, type MachineLimits } from "../machine/limits.ts";
import { peakRssBytes, trackPeakRss } from "../common/process-memory.ts";

const MIB = 1024 * 1024;
const GENERATE_BLOCK_BYTES = 4 * MIB;
const RSS_SAMPLE_INTERVAL_MS = 100;
const RSS_TARGET_BYTES = 256 * MIB;
const LIMITS_PROBE_BYTES = 512 * MIB;
const LIMITS_PROBE_RUNS = 3;
const REPLICAS = 3;

interface Options {
  readonly sizeMiB: number;
  readonly memorySizeMiB: number;
  readonly runs: number;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string, fallback: number): number => {
    const index = argv.indexOf(flag);
    const raw = index >= 0 ? argv[index + 1] : undefined;
    const parsed = raw === undefined ? fallback : Number(raw);
    if (!Number.isSafeInteger(parsed) || parsed <= 0)
      throw new Error(`${flag} needs a positive integer`);
    return parsed;
  };
  return {
    sizeMiB: value("--size-mib", 1024),
    memorySizeMiB: value("--memory-size-mib", 2048),
    runs: value("--runs", 3),
  };
}

/** A file whose every 4 MiB block differs (chunks are content-addressed: equal blocks dedupe). */
function writeTestFile(path: string, bytes: number, seed: number): void {
  const block = new Uint8Array(GENERATE_BLOCK_BYTES);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < block.length; index += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    block[index] = state & 0xff;
  }
  const fd = openSync(path, "w");
  const stamp = new DataView(block.buffer);
  for (let offset = 0, blockIndex = 0; offset < bytes; offset += block.length, blockIndex += 1) {
    stamp.setUint32(0, blockIndex);
    stamp.setUint32(4, seed);
    writeSync(fd, block, 0, Math.min(block.length, bytes - offset));
  }
  closeSync(fd);
}

interface Transfer {
  readonly seconds: number;
  readonly clientPeakRssBytes: number | null;
}

async function runFtfsTimed(
  args: readonly string[],
  env: Record<string, string>,
): Promise<Transfer> {
  const start = performance.now();
  const child = Bun.spawn([process.execPath, FTFS_MAIN, ...args], {
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const tracker = trackPeakRss(child.pid, RSS_SAMPLE_INTERVAL_MS);
  const [exitCode, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  const clientPeakRssBytes = await tracker.stop();
  if (exitCode !== 0)
    throw new Error(`ftfs ${args.join(" ")} failed (${exitCode}): ${stderr.trim()}`);
  return { seconds: (performance.now() - start) / 1000, clientPeakRssBytes };
}

function mib(bytes: number | null): string {
  return bytes === null ? "?" : `${(bytes / MIB).toFixed(0)} MiB`;
}

async function uploadAndRead(
  cluster: LocalCluster,
  workDir: string,
  sizeMiB: number,
  run: number,
): Promise<{ up: Transfer; down: Transfer }> {
  const local = join(workDir, `file-${sizeMiB}-${run}.bin`);
  writeTestFile(local, sizeMiB * MIB, run + 1);
  const env = { FTFS_CLUSTER: cluster.directoryAddresses.join(","), FTFS_CONFIG_DIR: workDir };
  await runFtfsTimed(["bench", "c"], env);
  const up = await runFtfsTimed(["bench", "a", local], env);
  const down = await runFtfsTimed(
    ["get", `file-${sizeMiB}-${run}.bin`, "--user", "bench", "-o", join(workDir, "readback.bin")],
    env,
  );
  const same = await sameBytes(local, join(workDir, "readback.bin"));
  if (!same) throw new Error("read-back bytes differ from the uploaded file");
  await rm(local, { force: true });
  await rm(join(workDir, "readback.bin"), { force: true });
  return { up, down };
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const hash = async (path: string): Promise<string> => {
    const hasher = new Bun.CryptoHasher("sha256");
    for await (const part of Bun.file(path).stream()) hasher.update(part);
    return hasher.digest("hex");
  };
  return (await hash(a)) === (await hash(b));
}

async function main(): Promise<void> {
  const options = parseOptions(Bun.argv.slice(2));
  const workDir = await mkdtemp(join(tmpdir(), "ftfs-bench-files-"));
  console.log(
    `measuring machine limits (median of ${LIMITS_PROBE_RUNS} probes of ${LIMITS_PROBE_BYTES / MIB} MiB)…`,
  );
  const limits: MachineLimits = (
    await measureMachineLimitsMedian(join(workDir, "limits"), LIMITS_PROBE_BYTES, LIMITS_PROBE_RUNS)
  ).median;
  const cluster = await startCluster({
    directories: 1,
    groups: [{ name: "s1", size: REPLICAS }],
    dataRoot: join(workDir, "cluster"),
  });
  try {
    const ups: number[] = [];
    const downs: number[] = [];
    for (let run = 0; run < options.runs; run += 1) {
      const { up, down } = await uploadAndRead(cluster, workDir, options.sizeMiB, run);
      ups.push(options.sizeMiB / up.seconds);
      downs.push(options.sizeMiB / down.seconds);
      console.log(
        `run ${run + 1}: upload ${(options.sizeMiB / up.seconds).toFixed(0)} MiB/s, read ${(options.sizeMiB / down.seconds).toFixed(0)} MiB/s`,
      );
    }
    console.log(`measuring peak RSS with a ${options.memorySizeMiB} MiB file…`);
    const memoryRun = await uploadAndRead(cluster, workDir, options.memorySizeMiB, options.runs);
    const serverPeaks = await Promise.all(
      cluster.nodes.map(async (node) => ({
        node: node.id,
        peak: node.pid === null ? null : await peakRssBytes(node.pid),
      })),
    );
    report(options, limits, ups, downs, memoryRun, serverPeaks);
  } finally {
    await cluster.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

function report(
  options: Options,
  limits: MachineLimits,
  ups: readonly number[],
  downs: readonly number[],
  memoryRun: { up: Transfer; down: Transfer },
  serverPeaks: ReadonlyArray<{ node: string; peak: number | null }>,
): void {
  const up = median(ups);
  const down = median(downs);
  const uploadCeiling = limits.diskChunkFilesFsyncMiBps / REPLICAS;
  console.log("");
  console.log(
    `== large files: ${options.sizeMiB} MiB, one client, ${REPLICAS} replicas on one disk, median of ${options.runs} ==`,
  );
  console.log(
    `machine: disk write+fsync ${limits.diskWriteFsyncMiBps.toFixed(0)} MiB/s (4 MiB files each fsynced ${limits.diskChunkFilesFsyncMiBps.toFixed(0)}), disk read ${limits.diskReadMiBps.toFixed(0)} MiB/s, loopback TCP ${limits.loopbackTcpMiBps.toFixed(0)} MiB/s`,
  );
  console.log(
    `upload ${up.toFixed(0)} MiB/s = ${(up / uploadCeiling).toFixed(2)} × (chunk-file disk limit ÷ ${REPLICAS}), ${(up / limits.loopbackTcpMiBps).toFixed(3)} × loopback`,
  );
  console.log(
    `read   ${down.toFixed(0)} MiB/s = ${(down / limits.diskReadMiBps).toFixed(2)} × disk read, ${(down / limits.loopbackTcpMiBps).toFixed(3)} × loopback`,
  );
  console.log(
    `peak RSS with a ${options.memorySizeMiB} MiB file (target < ${mib(RSS_TARGET_BYTES)} each):`,
  );
  console.log(
    `  ftfs upload ${mib(memoryRun.up.clientPeakRssBytes)}, ftfs read ${mib(memoryRun.down.clientPeakRssBytes)}`,
  );
  for (const { node, peak } of serverPeaks) console.log(`  ${node.padEnd(6)} ${mib(peak)}`);
  const over = [
    memoryRun.up.clientPeakRssBytes,
    memoryRun.down.clientPeakRssBytes,
    ...serverPeaks.map((entry) => entry.peak),
  ].filter((peak) => peak !== null && peak >= RSS_TARGET_BYTES);
  console.log(
    over.length === 0
      ? "memory: every process under target"
      : `memory: ${over.length} process(es) over target`,
  );
}

await main();
