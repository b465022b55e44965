/**
 * The write side of a frame channel: frames sent in one turn leave in one write, in order, and
 * a large payload is written as it is, never copied into a joined buffer.
 */
import { expect, test } from "bun:test";
import type { Socket } from "bun";
import { FRAME_KIND, FrameDecoder } from "../core/index.ts";
import { FrameChannel, type ChannelSlot } from "./frame-channel.ts";

const LARGE_BYTES = 1024 * 1024;

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
