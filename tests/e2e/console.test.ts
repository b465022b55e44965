/**
 * The web console, as an operator uses it: in Debian's headless Chromium (driven by
 * puppeteer-core), an admin logs in to a directory node's console with the uid and secret the
 * CLI uses, sees all 9 members alive and the cluster healthy; a storage node killed with
 * kill -9 turns dead and its group degraded within seconds, and both recover after a restart.
 * Nothing is readable without logging in; a user who is not an admin, or a wrong secret, is
 * refused with one clear message; a removed admin is logged out at once; a backup directory's
 * console shows the primary's view. `ftfs status --watch`, read from a pipe, reports the same
 * changes as they happen, one line each, until stopped. Screenshots of each step are kept in
 * .ftfs/artifacts/console (FTFS_ARTIFACTS_DIR overrides). .ci/run installs chromium; without it
 * this fails under CI=true.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { FtfsClient } from "@ftfs/client";
import { Keyring } from "@ftfs/protocol/io";
import { spawnFtfs, startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { E2E_CHUNK_BYTES, E2E_TEST_TIMEOUT_MS, POLL_INTERVAL_MS } from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const CHROMIUM = "/usr/bin/chromium";
const chromiumMissing = !existsSync(CHROMIUM);
const ARTIFACTS_DIR =
  process.env.FTFS_ARTIFACTS_DIR === undefined
    ? resolve(import.meta.dir, "../../.ftfs/artifacts/console")
    : join(process.env.FTFS_ARTIFACTS_DIR, "console");
/** "Within seconds": gossip declares a killed process dead in about one; the page polls each. */
const DEATH_SEEN_DEADLINE_MS = 10_000;
/** A restarted node catches up an almost empty group, then joins: well under this. */
const RECOVERY_SEEN_DEADLINE_MS = 45_000;
const VIEWPORT = { width: 1400, height: 1100 } as const;

let cluster: LocalCluster;
let admin: FtfsClient;
let adminSecret: string;
let browser: Browser;

beforeAll(async () => {
  cluster = await startCluster({
    directories: 3,
    groups: [
      { name: "s1", size: 3 },
      { name: "s2", size: 3 },
    ],
    chunkBytes: E2E_CHUNK_BYTES,
    statusHttp: true,
    secure: true,
  });
  admin = new FtfsClient({
    directories: cluster.directoryAddresses,
    credentials: { kind: "node", node: "console-test", keyring: Keyring.parse(clusterKey()) },
  });
  adminSecret = (await admin.userAdd("root", { admin: true })).secret;
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  if (!chromiumMissing) {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
  }
});

afterAll(async () => {
  await browser?.close();
  admin?.close();
  await cluster?.stop();
});

function clusterKey(): string {
  if (cluster.clusterKey === null) throw new Error("the cluster was started without a key");
  return cluster.clusterKey;
}

function consoleUrl(node: string, path = "/"): string {
  const address = cluster.node(node).httpAddress;
  if (address === null) throw new Error(`${node} serves no HTTP`);
  return `http://${address}${path}`;
}

async function login(node: string, uid: string, secret: string): Promise<Response> {
  return fetch(consoleUrl(node, "/console/api/login"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ uid, secret }),
  });
}

async function until<T>(deadlineMs: number, what: string, probe: () => Promise<T | null>) {
  const startedMs = performance.now();
  for (;;) {
    const value = await probe();
    if (value !== null) return { value, afterMs: performance.now() - startedMs };
    if (performance.now() - startedMs > deadlineMs) {
      throw new Error(`not seen within ${deadlineMs} ms: ${what}`);
    }
    await Bun.sleep(POLL_INTERVAL_MS);
  }
}

interface PageView {
  readonly level: string;
  readonly states: Record<string, string>;
  readonly inSync: Record<string, string>;
}

async function pageView(page: Page): Promise<PageView> {
  const attributes = (selector: string, names: readonly string[]) =>
    page.$$eval(
      selector,
      (elements, wanted) => elements.map((element) => wanted.map((n) => element.getAttribute(n))),
      names,
    );
  const members = await attributes("#members tr", ["data-node", "data-state"]);
  const groups = await attributes("#groups tr", ["data-group", "data-in-sync", "data-factor"]);
  const [health] = await attributes("#health", ["data-level"]);
  return {
    level: health?.[0] ?? "",
    states: Object.fromEntries(members.map(([node, state]) => [node ?? "", state ?? ""])),
    inSync: Object.fromEntries(
      groups.map(([group, inSync, factor]) => [group ?? "", `${inSync} of ${factor}`]),
    ),
  };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`), fullPage: true });
}

test("nothing is readable without a login; a non-admin and a wrong secret are refused", async () => {
  const page = await fetch(consoleUrl("d1"));
  expect(page.status).toBe(200);
  expect(await page.text()).toContain("FTFS console");
  const script = await fetch(consoleUrl("d1", "/console/app.js"));
  expect(script.status).toBe(200);
  expect(script.headers.get("content-type")).toContain("text/javascript");
  const state = await fetch(consoleUrl("d1", "/console/api/state"));
  expect(state.status).toBe(401);
  expect(await state.text()).not.toContain("s1a");

  const userSecret = (await admin.userAdd("carol", { admin: false })).secret;
  const notAdmin = await login("d1", "carol", userSecret);
  expect(notAdmin.status).toBe(403);
  expect(((await notAdmin.json()) as { message: string }).message).toBe(
    "the console is for admin users, and carol is not one",
  );
  expect(notAdmin.headers.get("set-cookie")).toBeNull();
  const wrong = await login("d1", "root", "not-the-secret");
  expect(wrong.status).toBe(401);
  expect(wrong.headers.get("set-cookie")).toBeNull();
  const forged = await fetch(consoleUrl("d1", "/console/api/state"), {
    headers: { cookie: "ftfs_console=made-up" },
  });
  expect(forged.status).toBe(401);
});

test("in Chromium: log in, 9 members alive; kill -9 a storage node: dead and degraded within seconds; restart: whole again", async () => {
  if (chromiumMissing) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const page = await browser.newPage();
  await page.setViewport(VIEWPORT);
  await page.goto(consoleUrl("d1"));
  await page.waitForSelector("#uid", { visible: true });
  await shot(page, "1-login");
  await page.type("#uid", "root");
  await page.type("#secret", adminSecret);
  await page.click("#login-submit");

  const whole = await until(RECOVERY_SEEN_DEADLINE_MS, "9 members alive, healthy", async () => {
    const view = await pageView(page);
    const alive = Object.values(view.states).filter((state) => state === "alive").length;
    return alive === 9 && view.level === "healthy" ? view : null;
  });
  expect(Object.keys(whole.value.states).sort()).toEqual(
    ["d1", "d2", "d3", "s1a", "s1b", "s1c", "s2a", "s2b", "s2c"].sort(),
  );
  expect(whole.value.inSync).toEqual({ s1: "3 of 3", s2: "3 of 3" });
  await shot(page, "2-healthy");

  cluster.node("s2b").kill("SIGKILL");
  const dead = await until(DEATH_SEEN_DEADLINE_MS, "s2b dead, s2 degraded", async () => {
    const view = await pageView(page);
    return view.states.s2b === "dead" && view.inSync.s2 === "2 of 3" && view.level === "degraded"
      ? view
      : null;
  });
  console.log(`console: s2b seen dead and s2 degraded ${dead.afterMs.toFixed(0)} ms after kill -9`);
  expect(await page.$eval("#health-reasons", (list) => list.textContent)).toContain(
    "s2 has 2 of 3 in-sync replicas",
  );
  expect(await page.$eval("#events", (list) => list.textContent)).toContain("s2b is dead");
  await shot(page, "3-degraded");

  await cluster.node("s2b").restart();
  const back = await until(RECOVERY_SEEN_DEADLINE_MS, "s2b back, s2 whole", async () => {
    const view = await pageView(page);
    return view.states.s2b === "alive" && view.inSync.s2 === "3 of 3" && view.level === "healthy"
      ? view
      : null;
  });
  console.log(`console: s2b back and s2 whole ${back.afterMs.toFixed(0)} ms after restart`);
  expect(await page.$eval("#events", (list) => list.textContent)).toContain("s2b is alive again");
  await shot(page, "4-recovered");
  await page.close();
});

test("a backup directory's console shows the primary's view; a removed admin is out at once", async () => {
  const status = await admin.status();
  const backup = status.members.find(
    (member) => member.role === "directory" && !member.primary && member.state === "alive",
  );
  const primary = status.members.find((member) => member.role === "directory" && member.primary);
  if (backup === undefined || primary === undefined) throw new Error("no backup and primary");
  const secret = (await admin.userAdd("dave", { admin: true })).secret;
  const answer = await login(backup.node, "dave", secret);
  expect(answer.status).toBe(200);
  const cookie = (answer.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  expect(cookie).toStartWith("ftfs_console=");
  const read = () => fetch(consoleUrl(backup.node, "/console/api/state"), { headers: { cookie } });
  const seen = await until(RECOVERY_SEEN_DEADLINE_MS, "the primary's view", async () => {
    const body = (await (await read()).json()) as { answeredBy: string | null; members: unknown[] };
    return body.answeredBy === primary.node && body.members.length === 9 ? body : null;
  });
  expect(seen.value.answeredBy).toBe(primary.node);

  await admin.userRemove("dave");
  await until(RECOVERY_SEEN_DEADLINE_MS, "dave logged out", async () =>
    (await read()).status === 401 ? true : null,
  );
});

test("ftfs status --watch in a pipe: the verdict, then a kill -9 and the recovery, one line each", async () => {
  const watch = await spawnFtfs(["status", "--watch"], {
    env: { FTFS_CLUSTER: cluster.directoryAddresses.join(","), FTFS_CLUSTER_KEY: clusterKey() },
  });
  const lines: string[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of watch.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      const complete = pending.split("\n");
      pending = complete.pop() ?? "";
      lines.push(...complete);
    }
  })();
  const seen = (pattern: RegExp) => async () =>
    lines.some((line) => pattern.test(line)) ? true : null;
  try {
    await until(
      RECOVERY_SEEN_DEADLINE_MS,
      "the first verdict",
      seen(/watching: the cluster is healthy$/),
    );
    cluster.node("s1c").kill("SIGKILL");
    await until(DEATH_SEEN_DEADLINE_MS * 2, "s1c dead", seen(/ s1c is dead \(was alive\)$/));
    await cluster.node("s1c").restart();
    await until(
      RECOVERY_SEEN_DEADLINE_MS,
      "s1c in sync",
      seen(/ s1: s1c in sync \(3 of 3 in sync\)$/),
    );
  } finally {
    watch.kill("SIGINT");
    await watch.exited;
    await reading;
  }
  for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z \S/);
  expect(lines.some((line) => line.includes("the cluster is degraded"))).toBe(true);
  expect(new Set(lines).size).toBe(lines.length); // each change once, not once per refresh
});
