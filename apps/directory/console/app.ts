/**
 * The console's page script: logs in (when the cluster is secure), then asks the directory
 * node for the cluster's state once a second and draws it: the health line, the charts of the
 * last minutes, the groups with their catch-ups, the members, the recent events. It only
 * reads. Bundled by the directory node with `bun build` when first asked for; no network
 * but the node that served it. Text from the cluster goes in as text, never as markup.
 */

import type { CatchUpProgress, TimelineSample } from "@ftfs/client/core";
import { formatBytes } from "@ftfs/protocol/core";

/** How often the page asks for the state. */
const REFRESH_INTERVAL_MS = 1_000;
const CHART_WIDTH_PX = 600;
const CHART_HEIGHT_PX = 150;
const CHART_MARGIN_LEFT_PX = 46;
const CHART_MARGIN_BOTTOM_PX = 18;
const CHART_MARGIN_TOP_PX = 8;
const CHART_Y_TICKS = 3;
const BYTES_PER_MIB = 1024 * 1024;
const SVG_NS = "http://www.w3.org/2000/svg";

interface Verdict {
  readonly level: "healthy" | "degraded" | "unavailable";
  readonly reasons: readonly string[];
}
interface Member {
  readonly node: string;
  readonly role: string;
  readonly group: string | null;
  readonly address: string;
  readonly state: string;
  readonly incarnation: number;
  readonly primary: boolean;
  readonly usedBytes: number;
  readonly capacityBytes: number;
}
interface Replica {
  readonly node: string;
}
interface Group {
  readonly group: string;
  readonly epoch: number;
  readonly primaryNode: string | null;
  readonly replicas: readonly Replica[];
  readonly learners?: readonly Replica[];
  readonly replicationFactor?: number;
}
interface ConsoleState {
  readonly servedBy: string;
  readonly answeredBy: string | null;
  readonly verdict: Verdict | null;
  readonly members: readonly Member[];
  readonly groups: readonly Group[];
  readonly unreachable: readonly string[];
  readonly catchUps: readonly CatchUpProgress[];
  readonly samples: readonly TimelineSample[];
  readonly events: ReadonlyArray<{ atMs: number; kind: string; text: string }>;
  readonly lastError: { atMs: number; message: string } | null;
}

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

function cell(row: HTMLTableRowElement, text: string, className = ""): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className !== "") td.className = className;
  return td;
}

let refreshTimer: ReturnType<typeof setInterval> | null = null;

async function start(): Promise<void> {
  byId("login").addEventListener("submit", (event) => {
    event.preventDefault();
    void logIn();
  });
  byId("logout").addEventListener("click", () => void logOut());
  const session = (await (await fetch("/console/api/session")).json()) as {
    secure: boolean;
    uid: string | null;
  };
  if (session.secure && session.uid === null) showLogin();
  else showDashboard(session.uid);
}

function showLogin(): void {
  if (refreshTimer !== null) clearInterval(refreshTimer);
  refreshTimer = null;
  byId("dashboard").hidden = true;
  byId("logout").hidden = true;
  byId("who").textContent = "";
  byId("login").hidden = false;
  byId<HTMLInputElement>("uid").focus();
}

function showDashboard(uid: string | null): void {
  byId("login").hidden = true;
  byId("dashboard").hidden = false;
  byId("who").textContent = uid === null ? "insecure cluster: no login" : `logged in as ${uid}`;
  byId("logout").hidden = uid === null;
  void refresh();
  refreshTimer ??= setInterval(() => void refresh(), REFRESH_INTERVAL_MS);
}

async function logIn(): Promise<void> {
  const uid = byId<HTMLInputElement>("uid").value.trim();
  const secret = byId<HTMLInputElement>("secret").value;
  const error = byId("login-error");
  error.textContent = "logging in…";
  const answer = await fetch("/console/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ uid, secret }),
  });
  const body = (await answer.json()) as { uid?: string; message?: string };
  if (!answer.ok) {
    error.textContent = body.message ?? `login failed (${answer.status})`;
    return;
  }
  error.textContent = "";
  byId<HTMLInputElement>("secret").value = "";
  showDashboard(body.uid ?? uid);
}

async function logOut(): Promise<void> {
  await fetch("/console/api/logout", { method: "POST" });
  showLogin();
}

async function refresh(): Promise<void> {
  let answer: Response;
  try {
    answer = await fetch("/console/api/state");
  } catch {
    showStale("this directory node does not answer");
    return;
  }
  if (answer.status === 401) {
    showLogin();
    return;
  }
  if (!answer.ok) {
    showStale(`this directory node answered ${answer.status}`);
    return;
  }
  render((await answer.json()) as ConsoleState);
}

function showStale(message: string): void {
  const stale = byId("stale");
  stale.hidden = false;
  stale.textContent = `${message}; what you see may be old`;
}

function render(state: ConsoleState): void {
  byId("served-by").textContent =
    `served by ${state.servedBy}` +
    (state.answeredBy === null ? "" : `, status from ${state.answeredBy}`);
  renderHealth(state);
  renderGroups(state);
  renderMembers(state.members);
  renderCharts(state.samples);
  renderEvents(state.events);
}

function renderHealth(state: ConsoleState): void {
  const health = byId("health");
  const reasons = byId("health-reasons");
  reasons.replaceChildren();
  if (state.verdict === null) {
    health.dataset.level = "";
    health.textContent = "waiting for the first status…";
  } else {
    health.dataset.level = state.verdict.level;
    health.textContent = state.verdict.level;
    for (const reason of state.verdict.reasons) {
      const item = document.createElement("li");
      item.textContent = reason;
      reasons.append(item);
    }
  }
  const stale = byId("stale");
  stale.hidden = state.lastError === null;
  stale.textContent =
    state.lastError === null ? "" : `the cluster did not answer: ${state.lastError.message}`;
}

function renderGroups(state: ConsoleState): void {
  const body = byId<HTMLTableSectionElement>("groups");
  body.replaceChildren();
  for (const group of state.groups) {
    const row = body.insertRow();
    const factor = group.replicationFactor ?? group.replicas.length;
    row.dataset.group = group.group;
    row.dataset.inSync = String(group.replicas.length);
    row.dataset.factor = String(factor);
    cell(row, group.group);
    cell(row, String(group.epoch));
    cell(row, group.primaryNode ?? "none", group.primaryNode === null ? "state-dead" : "");
    cell(
      row,
      `${group.replicas.length} of ${factor}`,
      group.replicas.length < factor ? "state-suspect" : "state-alive",
    );
    cell(row, group.replicas.map((replica) => replica.node).join(", "));
    const catchUps = state.catchUps.filter((catchUp) => catchUp.group === group.group);
    cell(row, catchUps.map(describeCatchUp).join("; ") || "-");
  }
}

function describeCatchUp(catchUp: CatchUpProgress): string {
  const share =
    catchUp.targetBytes === 0
      ? 100
      : Math.min(100, (catchUp.heldBytes * 100) / catchUp.targetBytes);
  const rate =
    catchUp.bytesPerS === null ? "" : `, ${formatBytes(Math.round(catchUp.bytesPerS))}/s`;
  const eta = catchUp.etaS === null ? "" : `, about ${Math.ceil(catchUp.etaS)} s left`;
  return `${catchUp.node} ${share.toFixed(0)}% (${formatBytes(catchUp.heldBytes)} of ${formatBytes(catchUp.targetBytes)}${rate}${eta})`;
}

function renderMembers(members: readonly Member[]): void {
  const body = byId<HTMLTableSectionElement>("members");
  body.replaceChildren();
  const sorted = [...members].sort((a, b) => a.node.localeCompare(b.node));
  for (const member of sorted) {
    const row = body.insertRow();
    row.dataset.node = member.node;
    row.dataset.state = member.state;
    cell(row, member.node);
    cell(row, member.role);
    cell(row, member.group ?? "-");
    cell(row, member.state, `state-${member.state}`);
    cell(row, String(member.incarnation));
    cell(row, member.primary ? "primary" : "");
    cell(row, member.address);
    const disk = cell(row, "");
    if (member.capacityBytes > 0) {
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = `${Math.min(100, (member.usedBytes * 100) / member.capacityBytes)}%`;
      bar.append(fill);
      disk.append(bar, `${formatBytes(member.usedBytes)} of ${formatBytes(member.capacityBytes)}`);
    } else {
      disk.textContent = "-";
    }
  }
}

function renderEvents(events: ConsoleState["events"]): void {
  const list = byId("events");
  list.replaceChildren();
  for (const event of events) {
    const item = document.createElement("li");
    item.dataset.kind = event.kind;
    const time = document.createElement("time");
    time.textContent = new Date(event.atMs).toLocaleTimeString();
    item.append(time, event.text);
    list.append(item);
  }
}

interface Line {
  readonly color: string;
  readonly values: ReadonlyArray<number | null>;
}

function renderCharts(samples: readonly TimelineSample[]): void {
  const times = samples.map((sample) => sample.atMs);
  drawChart(byId("chart-requests"), times, [
    { color: "#4e79a7", values: samples.map((s) => s.requestsPerS) },
    { color: "#c62828", values: samples.map((s) => s.failedPerS) },
  ]);
  drawChart(byId("chart-latency"), times, [
    { color: "#59a14f", values: samples.map((s) => s.latencyP50Ms) },
    { color: "#f28e2b", values: samples.map((s) => s.latencyP99Ms) },
  ]);
  const mib = (value: number | null) => (value === null ? null : value / BYTES_PER_MIB);
  drawChart(byId("chart-bytes"), times, [
    { color: "#4e79a7", values: samples.map((s) => mib(s.bytesInPerS)) },
    { color: "#b07aa1", values: samples.map((s) => mib(s.bytesOutPerS)) },
  ]);
}

function svgElement(name: string, attributes: Record<string, string | number>): SVGElement {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

/** A line chart over the samples' times; gaps where a value is unknown. */
function drawChart(svg: HTMLElement, times: readonly number[], lines: readonly Line[]): void {
  svg.setAttribute("viewBox", `0 0 ${CHART_WIDTH_PX} ${CHART_HEIGHT_PX}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.replaceChildren();
  const plotWidth = CHART_WIDTH_PX - CHART_MARGIN_LEFT_PX;
  const plotHeight = CHART_HEIGHT_PX - CHART_MARGIN_BOTTOM_PX - CHART_MARGIN_TOP_PX;
  const known = lines.flatMap((line) => line.values.filter((v): v is number => v !== null));
  const top = niceCeiling(Math.max(1e-9, ...known));
  const first = times[0] ?? 0;
  const span = Math.max(1, (times.at(-1) ?? 0) - first);
  const x = (atMs: number) => CHART_MARGIN_LEFT_PX + ((atMs - first) / span) * plotWidth;
  const y = (value: number) => CHART_MARGIN_TOP_PX + plotHeight - (value / top) * plotHeight;
  for (let tick = 0; tick <= CHART_Y_TICKS; tick += 1) {
    const value = (top * tick) / CHART_Y_TICKS;
    svg.append(
      svgElement("line", {
        x1: CHART_MARGIN_LEFT_PX,
        x2: CHART_WIDTH_PX,
        y1: y(value),
        y2: y(value),
        stroke: "#eaeef2",
      }),
    );
    const label = svgElement("text", {
      x: CHART_MARGIN_LEFT_PX - 4,
      y: y(value) + 4,
      "text-anchor": "end",
      "font-size": 11,
      fill: "#57606a",
    });
    label.textContent = formatTick(value);
    svg.append(label);
  }
  for (const line of lines) {
    let path = "";
    let pen = "M";
    for (const [index, value] of line.values.entries()) {
      const atMs = times[index];
      if (value === null || atMs === undefined) {
        pen = "M";
        continue;
      }
      path += `${pen}${x(atMs).toFixed(1)},${y(value).toFixed(1)}`;
      pen = "L";
    }
    svg.append(
      svgElement("path", { d: path, fill: "none", stroke: line.color, "stroke-width": 1.5 }),
    );
  }
  const caption = svgElement("text", {
    x: CHART_WIDTH_PX,
    y: CHART_HEIGHT_PX - 4,
    "text-anchor": "end",
    "font-size": 11,
    fill: "#57606a",
  });
  caption.textContent = times.length < 2 ? "collecting…" : `${Math.round(span / 1000)} s`;
  svg.append(caption);
}

function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function formatTick(value: number): string {
  if (value >= 100 || value === 0) return value.toFixed(0);
  if (value >= 1) return value.toFixed(1);
  return value.toPrecision(1);
}

void start();
