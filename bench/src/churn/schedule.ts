/**
 * Churn schedules: what happens to which node when. A target names a role resolved at the
 * moment of the event (`storage-primary:s1`, `storage-backup:s2`, `directory-primary`,
 * `directory-backup`) or a node id (`s1b`); an undo action (restart, resume, join) on the same
 * target string acts on the node its earlier event hit. Pure: parsing and the defaults.
 */

export type ChurnAction = "kill" | "restart" | "pause" | "resume" | "leave" | "join";
const ACTIONS: readonly ChurnAction[] = ["kill", "restart", "pause", "resume", "leave", "join"];

export interface ChurnEvent {
  readonly atS: number;
  readonly action: ChurnAction;
  readonly target: string;
}

/** Undo actions act on the node an earlier event resolved, not on whoever holds the role now. */
export function isUndo(action: ChurnAction): boolean {
  return action === "restart" || action === "resume" || action === "join";
}

/**
 * Every event of the issue, each followed by its undo, with ~10 s between kills so every
 * recovery shows on the chart before the next fault.
 */
export const DEFAULT_SCHEDULE: readonly ChurnEvent[] = [
  { atS: 10, action: "kill", target: "storage-primary:s1" },
  { atS: 20, action: "restart", target: "storage-primary:s1" },
  { atS: 30, action: "kill", target: "storage-backup:s2" },
  { atS: 38, action: "restart", target: "storage-backup:s2" },
  { atS: 48, action: "kill", target: "directory-primary" },
  { atS: 56, action: "restart", target: "directory-primary" },
  { atS: 66, action: "pause", target: "storage-primary:s2" },
  { atS: 70, action: "resume", target: "storage-primary:s2" },
  { atS: 78, action: "leave", target: "storage-backup:s1" },
  { atS: 86, action: "join", target: "storage-backup:s1" },
];

/** What CI needs to see survive in ~20 s: a storage-primary and a directory-primary kill. */
export const QUICK_SCHEDULE: readonly ChurnEvent[] = [
  { atS: 3, action: "kill", target: "storage-primary:s1" },
  { atS: 7, action: "restart", target: "storage-primary:s1" },
  { atS: 10, action: "kill", target: "directory-primary" },
  { atS: 14, action: "restart", target: "directory-primary" },
];

/**
 * What the progress line says of the churn: the next event played before `endMs` and how far
 * off it is, "churn: done" once every one has passed, "churn: none" for an empty schedule.
 */
export function describeNextEvent(
  events: readonly ChurnEvent[],
  elapsedMs: number,
  endMs: number,
): string {
  if (events.length === 0) return "churn: none";
  const next = events.find((event) => event.atS * 1000 >= elapsedMs && event.atS * 1000 < endMs);
  if (next === undefined) return "churn: done";
  const inS = Math.max(0, Math.ceil((next.atS * 1000 - elapsedMs) / 1000));
  return `next: ${next.action} ${next.target} in ${inS} s`;
}

function parseAction(text: string): ChurnAction {
  const action = ACTIONS.find((candidate) => candidate === text);
  if (action === undefined) throw new Error(`bad churn action '${text}' (${ACTIONS.join(", ")})`);
  return action;
}

function checkEvent(event: ChurnEvent): ChurnEvent {
  if (!(event.atS >= 0)) throw new Error(`bad churn time ${event.atS}`);
  if (event.target.length === 0) throw new Error("churn event without a target");
  return event;
}

/** JSON `[{"atS": 5, "action": "kill", "target": "directory-primary"}]`, or lines. */
export function parseSchedule(text: string): ChurnEvent[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    const parsed: unknown = JSON.parse(trimmed);
    if (!Array.isArray(parsed)) throw new Error("a JSON churn schedule is an array");
    return parsed
      .map((item: unknown) => {
        const record = (item ?? {}) as Record<string, unknown>;
        return checkEvent({
          atS: Number(record.atS),
          action: parseAction(String(record.action)),
          target: String(record.target ?? ""),
        });
      })
      .sort((a, b) => a.atS - b.atS);
  }
  const events: ChurnEvent[] = [];
  for (const raw of trimmed.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const [at, action, target] = line.split(/\s+/);
    events.push(
      checkEvent({ atS: Number(at), action: parseAction(action ?? ""), target: target ?? "" }),
    );
  }
  return events.sort((a, b) => a.atS - b.atS);
}
