/**
 * Every node serves /metrics, /healthz and /readyz when started with --http-listen. What they
 * serve passes Debian's `promtool check metrics` (the Prometheus project's own linter), counts
 * the requests a real upload made, shows each storage node's bytes and the one primary, its
 * disk space, fsyncs, catch-up, scrub and GC, every node's gossip and refusals, a directory's
 * apply lag, snapshots and group counts, and follows a failure: a storage backup killed with
 * kill -9 leaves its group's in-sync count, and the count of under-replicated groups, at the
 * directory, and the dead node's endpoint stops answering. .ci/run installs prometheus
 * (for promtool); without it this fails under CI=true. The Prometheus config and alert rules
 * shipped in deploy/prometheus pass promtool's checks and its rule unit tests.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  startCluster,
  type LocalCluster,
  type NodeProcess,
} from "@ftfs/protocol/testing";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  POLL_DEADLINE_MS,
  POLL_INTERVAL_MS,
  workspace,
  type Workspace,
} from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const PROMTOOL = "/usr/bin/promtool";

let cluster: LocalCluster;
let ws: Workspace;

test("Debian's promtool and prometheus are installed (.ci/run installs them)", () => {
  expect([existsSync(PROMTOOL), existsSync("/usr/bin/prometheus")]).toEqual([true, true]);
});

beforeAll(async () => {
  cluster = await startCluster({
    directories: 1,
    groups: [{ name: "s1", size: 3 }],
    chunkBytes: E2E_CHUNK_BYTES,
    statusHttp: true,
  });
  ws = await workspace();
});

afterAll(async () => {
  await cluster?.stop();
  await rm(ws.folder, { recursive: true, force: true });
});

async function scrape(node: NodeProcess): Promise<string> {
  const response = await fetch(`http://${node.httpAddress}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  return response.text();
}

/** The value of one sample (name and labels exactly as rendered), or null if absent. */
function sample(text: string, series: string): number | null {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

/** A storage node of s1 that is not its primary, as their own metrics say. */
async function storageBackup(): Promise<string> {
  const views = await Promise.all(
    ["s1a", "s1b", "s1c"].map(async (id) => ({ id, text: await scrape(cluster.node(id)) })),
  );
  const backup = views.find(({ text }) => sample(text, "ftfs_storage_primary") === 0)?.id;
  if (backup === undefined) throw new Error("no backup in s1");
  return backup;
}

interface PromResult {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** How long a restarted storage node may take to be in sync again. */
const REJOIN_DEADLINE_MS = 60_000;

/** Scrapes often, so the test waits seconds, not minutes. */
const PROMETHEUS_SCRAPE_INTERVAL = "1s";

async function until<T>(
  what: string,
  probe: () => Promise<T | null>,
  deadlineMs = POLL_DEADLINE_MS,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(POLL_INTERVAL_MS);
  }
}

test("every node's /metrics passes promtool, counts an upload, and shows the group; healthz and readyz answer", async () => {
  const env = { FTFS_CLUSTER: cluster.directoryAddresses.join(",") };
  const bytes = crypto.getRandomValues(new Uint8Array(3 * E2E_CHUNK_BYTES + 5));
  const file = await ws.file("metrics.bin", bytes);
  expectOk(await ws.ftfs(["alice", "c"], { env }));
  expectOk(await ws.ftfs(["alice", "a", file], { env }));
  for (const node of cluster.nodes) {
    const text = await scrape(node);
    const lint = Bun.spawnSync([PROMTOOL, "check", "metrics"], { stdin: Buffer.from(text) });
    expect({ node: node.id, code: lint.exitCode, problems: lint.stderr.toString() }).toEqual({
      node: node.id,
      code: 0,
      problems: "",
    });
    expect((await fetch(`http://${node.httpAddress}/healthz`)).status).toBe(200);
    const ready = await until(`${node.id} ready`, async () => {
      const response = await fetch(`http://${node.httpAddress}/readyz`);
      return response.status === 200 ? response : null;
    });
    expect(await ready.text()).toBe("ready\n");
    expect(sample(text, "ftfs_process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(sample(text, 'ftfs_rpc_refused_total{reason="auth_failed"}')).toBe(0);
    expect(sample(text, "ftfs_gossip_probes_total")).not.toBeNull();
    expect(sample(text, "ftfs_gossip_suspicions_total")).not.toBeNull();
  }
  const directory = await scrape(cluster.node("d1"));
  expect(sample(directory, "ftfs_raft_leader")).toBe(1);
  expect(sample(directory, 'ftfs_rpc_requests_total{op="commitUpload",code="ok"}')).toBe(1);
  expect(sample(directory, 'ftfs_storage_group_in_sync_replicas{group="s1"}')).toBe(3);
  expect(sample(directory, 'ftfs_gossip_members{state="alive"}')).toBe(4);
  expect(sample(directory, "ftfs_storage_groups_under_replicated")).toBe(0);
  expect(sample(directory, "ftfs_storage_groups_unavailable")).toBe(0);
  expect(sample(directory, "ftfs_raft_apply_lag_entries")).toBeGreaterThanOrEqual(0);
  expect(sample(directory, "ftfs_raft_snapshots_taken_total")).not.toBeNull();
  const storage = await Promise.all(
    ["s1a", "s1b", "s1c"].map(async (id) => scrape(cluster.node(id))),
  );
  for (const text of storage) {
    expect(sample(text, "ftfs_storage_used_bytes")).toBeGreaterThanOrEqual(3 * E2E_CHUNK_BYTES);
    expect(sample(text, 'ftfs_rpc_payload_bytes_total{direction="in"}')).toBeGreaterThan(0);
    const freeBytes = sample(text, "ftfs_disk_free_bytes") ?? 0;
    expect(freeBytes).toBeGreaterThan(0);
    expect(sample(text, "ftfs_disk_size_bytes")).toBeGreaterThanOrEqual(freeBytes);
    // The 4 small chunks are records of a segment file: its fsyncs (shared by writes arriving
    // together) count as file fsyncs; the segment's creation fsynced its folder; references
    // were committed and fsynced too.
    const fsyncs = (target: string) =>
      sample(text, `ftfs_fsync_duration_seconds_count{target="${target}"}`);
    expect(fsyncs("file")).toBeGreaterThanOrEqual(2);
    expect(fsyncs("folder")).toBeGreaterThanOrEqual(1);
    expect(fsyncs("references")).toBeGreaterThanOrEqual(1);
    expect(sample(text, "ftfs_segment_files")).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'ftfs_segment_bytes{state="live"}')).toBeGreaterThanOrEqual(
      3 * E2E_CHUNK_BYTES,
    );
    expect(sample(text, "ftfs_catch_up_remaining_bytes")).not.toBeNull();
    expect(sample(text, "ftfs_scrub_checked_chunks_total")).not.toBeNull();
    expect(sample(text, "ftfs_gc_freed_bytes_total")).not.toBeNull();
  }
  expect(storage.map((text) => sample(text, "ftfs_storage_primary")).sort()).toEqual([0, 0, 1]);
});

const PROMETHEUS = "/usr/bin/prometheus";

test("Debian's Prometheus scrapes every node; after a kill -9 it answers which group is under-replicated", async () => {
  const folder = await mkdtemp(join(tmpdir(), "ftfs-prometheus-"));
  const targets = cluster.nodes.map((node) => `"${node.httpAddress}"`).join(", ");
  await writeFile(
    join(folder, "prometheus.yml"),
    [
      "global:",
      `  scrape_interval: ${PROMETHEUS_SCRAPE_INTERVAL}`,
      "scrape_configs:",
      "  - job_name: ftfs",
      "    static_configs:",
      `      - targets: [${targets}]`,
      "",
    ].join("\n"),
  );
  const web = `127.0.0.1:${await freePort()}`;
  const server = Bun.spawn(
    [
      PROMETHEUS,
      `--config.file=${join(folder, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(folder, "data")}`,
      `--web.listen-address=${web}`,
    ],
    {
      stdout: Bun.file(join(folder, "prometheus.log")),
      stderr: Bun.file(join(folder, "prometheus.log")),
    },
  );
  const query = async (expression: string): Promise<PromResult[]> => {
    const url = `http://${web}/api/v1/query?query=${encodeURIComponent(expression)}`;
    const answer = (await (await fetch(url)).json()) as { data: { result: PromResult[] } };
    return answer.data.result;
  };
  try {
    await until("Prometheus scraping every node", async () => {
      const up = await query("sum(up)");
      return Number(up[0]?.value[1] ?? 0) === cluster.nodes.length ? up : null;
    });
    const underReplicated =
      "max by (group) (ftfs_storage_group_in_sync_replicas)" +
      " < max by (group) (ftfs_storage_group_replication_factor)";
    expect(await query(underReplicated)).toEqual([]);
    const backup = await storageBackup();
    cluster.node(backup).kill("SIGKILL");
    const found = await until("Prometheus to see s1 under-replicated", async () => {
      const result = await query(underReplicated);
      return result.length > 0 ? result : null;
    });
    expect(found.map((series) => series.metric.group)).toEqual(["s1"]);
    const counted = await query("max(ftfs_storage_groups_under_replicated)");
    expect(counted.map((series) => Number(series.value[1]))).toEqual([1]);
    cluster.node(backup).start();
    // A restarted node catches up before it is in sync again: allow a loaded machine longer.
    await until(
      "s1 whole again in Prometheus",
      async () => ((await query(underReplicated)).length === 0 ? true : null),
      REJOIN_DEADLINE_MS,
    );
  } finally {
    server.kill("SIGTERM");
    await server.exited;
    await rm(folder, { recursive: true, force: true });
  }
});

test("a storage node killed with kill -9 leaves its group's in-sync count at the directory", async () => {
  const backup = await storageBackup();
  const before = await scrape(cluster.node("d1"));
  expect(sample(before, 'ftfs_storage_group_in_sync_replicas{group="s1"}')).toBe(3);
  const killed = cluster.node(backup);
  killed.kill("SIGKILL");
  const after = await until("s1 at 2 in-sync replicas", async () => {
    const text = await scrape(cluster.node("d1"));
    return sample(text, 'ftfs_storage_group_in_sync_replicas{group="s1"}') === 2 ? text : null;
  });
  expect(sample(after, "ftfs_storage_groups_under_replicated")).toBe(1);
  const gone = await fetch(`http://${killed.httpAddress}/healthz`).then(
    () => "answered",
    () => "refused",
  );
  expect(gone).toBe("refused");
});

test("the shipped Prometheus config and alert rules pass promtool, and the alerts fire when they should", () => {
  const folder = join(import.meta.dir, "..", "..", "deploy", "prometheus");
  for (const args of [
    ["check", "config", "prometheus.yml"],
    ["check", "rules", "ftfs-alerts.yml"],
    ["test", "rules", "ftfs-alerts.test.yml"],
  ]) {
    const run = Bun.spawnSync([PROMTOOL, ...args], { cwd: folder });
    expect({ args, code: run.exitCode, err: run.stderr.toString() }).toEqual({
      args,
      code: 0,
      err: "",
    });
  }
});
