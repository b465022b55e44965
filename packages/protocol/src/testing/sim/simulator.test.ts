/**
 * The simulator does what tests rely on: delays within the path's range, loss, duplicates and
 * reordering on demand, symmetric and one-way partitions, paused processes that read their
 * waiting packets before they tick, crashed ports that bounce "unreachable", and the same
 * seed giving the same history.
 */
import { describe, expect, test } from "bun:test";
import { PATH_LAN, type PathOptions } from "./network.ts";
import { Simulator, type SimProcess } from "./simulator.ts";

/** Records what it hears; sends whatever a test queues. */
class Probe implements SimProcess<string, string> {
  readonly heard: string[] = [];
  readonly outgoing: Array<{ to: string; payload: string }> = [];

  tick(nowMs: number): void {
    this.heard.push(`tick@${nowMs}`);
  }

  receive(nowMs: number, from: string, payload: string): void {
    this.heard.push(`${payload} from ${from}@${nowMs}`);
  }

  unreachable(nowMs: number, to: string): void {
    this.heard.push(`unreachable ${to}@${nowMs}`);
  }

  takeOutgoing(): Array<{ to: string; payload: string }> {
    return this.outgoing.splice(0, this.outgoing.length);
  }
}

function world(seed: number, path: Partial<PathOptions> = {}, unreachableProbability = 0) {
  const sim = new Simulator<string, string>({
    seed,
    tickIntervalMs: 1000,
    path: { ...PATH_LAN, ...path },
    payloadBytes: (payload) => payload.length,
    unreachableProbability,
  });
  const a = new Probe();
  const b = new Probe();
  sim.start("a", a);
  sim.start("b", b);
  return { sim, a, b };
}

function send(
  sim: Simulator<string, string>,
  from: Probe,
  address: string,
  to: string,
  payload: string,
) {
  sim.act(address, () => from.outgoing.push({ to, payload }));
}

const messages = (probe: Probe) => probe.heard.filter((line) => !line.startsWith("tick"));

describe("Simulator network", () => {
  test("a packet arrives after a delay within the path's range", () => {
    const { sim, a, b } = world(1, { delayMinMs: 5, delayMaxMs: 9 });
    send(sim, a, "a", "b", "hello");
    sim.runFor(4);
    expect(messages(b)).toEqual([]);
    sim.runFor(5);
    expect(messages(b)).toHaveLength(1);
    expect(sim.traffic("a")).toMatchObject({ packetsSent: 1, bytesSent: 5 });
  });

  test("certain loss loses everything; certain duplication doubles it", () => {
    const lossy = world(1, { lossProbability: 1 });
    send(lossy.sim, lossy.a, "a", "b", "x");
    lossy.sim.runFor(100);
    expect(messages(lossy.b)).toEqual([]);
    const doubled = world(1, { duplicateProbability: 1 });
    send(doubled.sim, doubled.a, "a", "b", "x");
    doubled.sim.runFor(100);
    expect(messages(doubled.b)).toHaveLength(2);
  });

  test("reordering lets later packets overtake earlier ones", () => {
    const { sim, a, b } = world(3, {
      delayMinMs: 1,
      delayMaxMs: 1,
      reorderProbability: 0.5,
      reorderDelayMs: 50,
    });
    for (let i = 0; i < 40; i += 1) send(sim, a, "a", "b", String(i).padStart(2, "0"));
    sim.runFor(200);
    const order = messages(b).map((line) => line.slice(0, 2));
    expect(order).toHaveLength(40);
    expect(order).not.toEqual([...order].sort());
  });

  test("a symmetric partition blocks both ways, a one-way cut one way, heal restores", () => {
    const { sim, a, b } = world(1);
    sim.network.partition([["a"], ["b"]]);
    send(sim, a, "a", "b", "ab");
    send(sim, b, "b", "a", "ba");
    sim.runFor(100);
    expect([...messages(a), ...messages(b)]).toEqual([]);
    sim.network.heal();
    sim.network.cutOneWay("a", "b");
    send(sim, a, "a", "b", "ab");
    send(sim, b, "b", "a", "ba");
    sim.runFor(100);
    expect(messages(b)).toEqual([]);
    expect(messages(a)).toHaveLength(1);
    sim.network.heal();
    send(sim, a, "a", "b", "ab");
    sim.runFor(100);
    expect(messages(b)).toHaveLength(1);
  });
});

describe("Simulator processes", () => {
  test("a paused process neither ticks nor hears; on resume it reads first, then ticks", () => {
    const { sim, a, b } = world(1);
    sim.runFor(1000);
    sim.pause("b");
    const ticksBefore = b.heard.length;
    send(sim, a, "a", "b", "while-paused");
    sim.runFor(5000);
    expect(b.heard).toHaveLength(ticksBefore);
    sim.resume("b");
    sim.runFor(0);
    expect(b.heard.slice(ticksBefore)).toEqual([
      `while-paused from a@${sim.nowMs}`,
      `tick@${sim.nowMs}`,
    ]);
  });

  test("a crashed port bounces unreachable reports; stale ticks of the old life stay void", () => {
    const { sim, a, b } = world(1, {}, 1);
    sim.runFor(500);
    sim.crash("b");
    send(sim, a, "a", "b", "anyone?");
    sim.runFor(100);
    expect(messages(a)).toEqual([expect.stringMatching(/^unreachable b@/)]);
    const reborn = new Probe();
    sim.start("b", reborn);
    sim.runFor(3000);
    expect(reborn.heard.filter((line) => line.startsWith("tick")).length).toBe(3);
    expect(b.heard.every((line) => Number(line.split("@")[1]) < 600)).toBe(true);
  });

  test("the same seed gives the same history; another seed another", () => {
    const history = (seed: number): string => {
      const { sim, a, b } = world(seed, { delayMinMs: 1, delayMaxMs: 30, lossProbability: 0.3 });
      for (let i = 0; i < 50; i += 1) send(sim, a, "a", "b", `m${i}`);
      sim.runFor(5000);
      return JSON.stringify([a.heard, b.heard]);
    };
    expect(history(7)).toBe(history(7));
    expect(history(7)).not.toBe(history(8));
  });
});
