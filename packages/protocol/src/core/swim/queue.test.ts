/**
 * The rumor queue sends the least-sent rumors first (newest first among equals), keeps one
 * rumor per member (the newest news wins), stops after the retransmit limit, stays within
 * its capacity by dropping the most-sent oldest rumor, and never overfills a packet.
 */
import { describe, expect, test } from "bun:test";
import { PacketBuilder } from "./codec.ts";
import { GOSSIP_PAYLOAD_BYTES_MAX } from "./config.ts";
import type { RumorMessage } from "./messages.ts";
import { RumorQueue } from "./queue.ts";
import { memberId } from "./types.ts";

const FROM = memberId("observer");

function suspect(name: string, incarnation = 1): RumorMessage {
  return { type: "suspect", id: memberId(name), incarnation, from: FROM };
}

function ids(queue: RumorQueue): string[] {
  return queue.orderedView().map((entry) => `${entry.message.id}:${entry.transmits}`);
}

/** Takes one packet's worth of rumors: which ones went out. */
function send(queue: RumorQueue, limit: number, bytes = GOSSIP_PAYLOAD_BYTES_MAX): string[] {
  const packet = new PacketBuilder(bytes);
  queue.fill(packet, limit);
  return packet.messages.map((message) => (message.type === "suspect" ? message.id : "?"));
}

describe("RumorQueue", () => {
  test("newest first among rumors sent equally often", () => {
    const queue = new RumorQueue(100);
    for (const name of ["a", "b", "c"]) queue.enqueue(suspect(name));
    expect(ids(queue)).toEqual(["c:0", "b:0", "a:0"]);
  });

  test("least-sent first: a fresh rumor overtakes ones already sent", () => {
    const queue = new RumorQueue(100);
    queue.enqueue(suspect("a"));
    queue.enqueue(suspect("b"));
    expect(send(queue, 10)).toEqual(["b", "a"]);
    queue.enqueue(suspect("c"));
    expect(ids(queue)).toEqual(["c:0", "b:1", "a:1"]);
  });

  test("newer news about a member replaces the older, and starts its count afresh", () => {
    const queue = new RumorQueue(100);
    queue.enqueue(suspect("a", 1));
    queue.enqueue(suspect("b", 1));
    send(queue, 10);
    queue.enqueue(suspect("a", 2));
    expect(queue.size).toBe(2);
    expect(queue.about(memberId("a"))).toEqual(suspect("a", 2));
    expect(ids(queue)).toEqual(["a:0", "b:1"]);
  });

  test("a rumor goes out at most `limit` times, then leaves the queue", () => {
    const queue = new RumorQueue(100);
    queue.enqueue(suspect("a"));
    const sent = Array.from({ length: 6 }, () => send(queue, 4).length);
    expect(sent).toEqual([1, 1, 1, 1, 0, 0]);
    expect(queue.size).toBe(0);
  });

  test("a full queue drops its most-sent, oldest rumor and counts it", () => {
    const queue = new RumorQueue(3);
    queue.enqueue(suspect("a"));
    queue.enqueue(suspect("b"));
    send(queue, 10);
    queue.enqueue(suspect("c"));
    queue.enqueue(suspect("d"));
    expect(queue.size).toBe(3);
    expect(queue.dropped).toBe(1);
    expect(queue.about(memberId("a"))).toBeUndefined();
    expect(ids(queue)).toEqual(["d:0", "c:0", "b:1"]);
  });

  test("a packet takes only what fits; the rest waits untouched", () => {
    const queue = new RumorQueue(1000);
    for (let i = 0; i < 200; i += 1) queue.enqueue(suspect(`member-${i}`));
    const first = send(queue, 10, 300);
    expect(first.length).toBeGreaterThan(1);
    expect(first.length).toBeLessThan(10);
    expect(queue.orderedView().filter((entry) => entry.transmits === 0)).toHaveLength(
      200 - first.length,
    );
  });
});
