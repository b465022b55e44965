/**
 * The write side of a frame channel: frames sent in one turn leave in one write, in order, a
 * payload of file bytes (64 KiB and up) is written as it is, never copied into a joined buffer,
 * and a socket that takes a few bytes at a time still gets every byte once, in order.
 */
import { expect, test } from "bun:test";
import type { Socket } from "bun";
import { FRAME_KIND, FrameDecoder } from "../core/index.ts";
import { FrameChannel, type ChannelSlot } from "./frame-channel.ts";

const LARGE_BYTES = 1024 * 1024;
const CHUNK_64_KIB = 64 * 1024;
/** What the trickling socket takes per write: less than one small frame. */
const TRICKLE_BYTES_PER_WRITE = 37;

/** A socket that takes every byte at once and remembers each write. */
function recordingSocket(): { socket: Socket<ChannelSlot>; writes: Uint8Array[] } {
  const writes: Uint8Array[] = [];
  const fake = {
    data: { channel: null } as ChannelSlot,
    remoteAddress: "127.0.0.1",
    write: (bytes: Uint8Array) => {
      writes.push(bytes.slice());
      return bytes.length;
    },
    end: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
  };
  return { socket: fake as unknown as Socket<ChannelSlot>, writes };
}

/** A socket that takes at most `bytesPerWrite` per call; `drain` is the kernel making room. */
function tricklingSocket(bytesPerWrite: number): {
  socket: Socket<ChannelSlot>;
  received: Uint8Array[];
} {
  const received: Uint8Array[] = [];
  const fake = {
    data: { channel: null } as ChannelSlot,
    remoteAddress: "127.0.0.1",
    write: (bytes: Uint8Array) => {
      const taken = Math.min(bytes.length, bytesPerWrite);
      received.push(bytes.slice(0, taken));
      return taken;
    },
    end: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
  };
  return { socket: fake as unknown as Socket<ChannelSlot>, received };
}

function channelOn(socket: Socket<ChannelSlot>): FrameChannel {
  return new FrameChannel(socket, {
    onFrame: () => undefined,
    onDecodeError: () => undefined,
    onClose: () => undefined,
  });
}

function decodeAll(writes: readonly Uint8Array[]) {
  const decoder = new FrameDecoder();
  return writes.flatMap((bytes) => decoder.push(bytes).frames);
}

test("frames sent in one turn leave in one write, in the order they were sent", async () => {
  const { socket, writes } = recordingSocket();
  const channel = channelOn(socket);
  for (let id = 1; id <= 20; id += 1) {
    void channel.send(FRAME_KIND.request, id, { op: "getChunk", n: id });
  }
  await Promise.resolve();
  expect(writes).toHaveLength(1);
  expect(decodeAll(writes).map((frame) => frame.requestId)).toEqual(
    Array.from({ length: 20 }, (_, index) => index + 1),
  );
});

test("a large payload is written as it is, between its frame's small pieces", async () => {
  const { socket, writes } = recordingSocket();
  const channel = channelOn(socket);
  const payload = new Uint8Array(LARGE_BYTES).fill(7);
  void channel.send(FRAME_KIND.request, 1, { small: true });
  void channel.send(FRAME_KIND.response, 2, { large: true }, payload);
  void channel.send(FRAME_KIND.request, 3, { small: true });
  await Promise.resolve();
  expect(writes.map((bytes) => bytes.length > LARGE_BYTES / 2)).toEqual([false, true, false]);
  const frames = decodeAll(writes);
  expect(frames.map((frame) => frame.requestId)).toEqual([1, 2, 3]);
  expect(frames[1]?.payload).toEqual(payload);
});

test("a 64 KiB chunk's bytes are written as they are, not joined with the small pieces", async () => {
  const { socket, writes } = recordingSocket();
  const channel = channelOn(socket);
  const payload = new Uint8Array(CHUNK_64_KIB).fill(9);
  void channel.send(FRAME_KIND.response, 1, { chunk: 1 }, payload);
  void channel.send(FRAME_KIND.response, 2, { chunk: 2 }, payload);
  await Promise.resolve();
  expect(writes.filter((bytes) => bytes.length === CHUNK_64_KIB)).toHaveLength(2);
  expect(decodeAll(writes).map((frame) => frame.payload.length)).toEqual([
    CHUNK_64_KIB,
    CHUNK_64_KIB,
  ]);
});

test("sockets taking a few bytes per write get every frame whole and in order", async () => {
  // Two channels drained in turn: each write stages its joined pieces in the shared buffer.
  const sides = [
    tricklingSocket(TRICKLE_BYTES_PER_WRITE),
    tricklingSocket(TRICKLE_BYTES_PER_WRITE),
  ];
  const channels = sides.map((side) => channelOn(side.socket));
  const payload = new Uint8Array(5_000).map((_, index) => index % 251);
  const ids = Array.from({ length: 30 }, (_, index) => index + 1);
  for (const [which, channel] of channels.entries()) {
    for (const id of ids) {
      const small = { n: id, side: which };
      void channel.send(FRAME_KIND.request, id, small, id % 3 === 0 ? payload : undefined);
    }
  }
  await Promise.resolve();
  for (let round = 0; round < 100_000; round += 1) {
    const before = sides.map((side) => side.received.length);
    for (const channel of channels) channel.drained();
    if (sides.every((side, index) => side.received.length === before[index])) break;
  }
  for (const [which, side] of sides.entries()) {
    const frames = decodeAll(side.received);
    expect(frames.map((frame) => frame.requestId)).toEqual(ids);
    for (const frame of frames) {
      expect(frame.header).toEqual({ n: frame.requestId, side: which });
      expect(frame.payload).toEqual(frame.requestId % 3 === 0 ? payload : new Uint8Array(0));
    }
  }
});
