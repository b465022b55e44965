/**
 * A streamed body (an S3 PUT) read once, in order: the bytes come out whole across any split
 * of the stream, digests are those of every byte, and a short, long or re-read body, or one
 * its verifier refuses, stops the commit.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localFileSha256, streamSource, type StreamDigests } from "./byte-source.ts";

function streamOf(parts: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(part);
      controller.close();
    },
  });
}

const BODY = new Uint8Array(1000).map((_, at) => (at * 7) % 251);
const EXPECTED: StreamDigests = {
  md5Hex: createHash("md5").update(BODY).digest("hex"),
  sha256Hex: createHash("sha256").update(BODY).digest("hex"),
};

describe("streamSource", () => {
  test("any split of the stream reads back whole, with the body's digests", async () => {
    for (const cuts of [[1000], [1, 999], [333, 333, 334], [0, 500, 0, 500]]) {
      const parts: Uint8Array[] = [];
      let at = 0;
      for (const length of cuts) {
        parts.push(BODY.subarray(at, at + length));
        at += length;
      }
      const seen: StreamDigests[] = [];
      const source = streamSource("body", BODY.length, streamOf(parts), (digests) => {
        seen.push(digests);
      });
      const out = new Uint8Array(BODY.length);
      for (let offset = 0; offset < BODY.length; offset += 300) {
        const length = Math.min(300, BODY.length - offset);
        out.set(await source.read(offset, length, new Uint8Array(300)), offset);
      }
      await source.checkUnchanged();
      expect(out).toEqual(BODY);
      expect(seen).toEqual([EXPECTED]);
      expect(source.digests()).toEqual(EXPECTED);
    }
  });

  test("short, long, re-read or refused bodies never pass the check", async () => {
    const short = streamSource("s", 1000, streamOf([BODY.subarray(0, 10)]), () => undefined);
    await expect(short.read(0, 1000, new Uint8Array(1000))).rejects.toThrow(/ended before/);
    const long = streamSource("l", 999, streamOf([BODY]), () => undefined);
    await long.read(0, 999, new Uint8Array(999));
    await expect(long.checkUnchanged()).rejects.toThrow(/longer than/);
    const again = streamSource("a", 1000, streamOf([BODY]), () => undefined);
    await again.read(0, 500, new Uint8Array(500));
    await expect(again.read(0, 500, new Uint8Array(500))).rejects.toThrow(/read only once/);
    const refused = streamSource("r", 1000, streamOf([BODY]), () => {
      throw new Error("Content-MD5 does not match");
    });
    await refused.read(0, 1000, new Uint8Array(1000));
    await expect(refused.checkUnchanged()).rejects.toThrow(/Content-MD5/);
  });
});

describe("localFileSha256", () => {
  test("a file's hash, an empty one's, and a missing file as a LOCAL_FILE error", async () => {
    const folder = await mkdtemp(join(tmpdir(), "ftfs-hash-"));
    const path = join(folder, "body");
    await writeFile(path, BODY);
    expect(await localFileSha256(path)).toBe(EXPECTED.sha256Hex);
    await writeFile(path, "");
    expect(await localFileSha256(path)).toBe(createHash("sha256").digest("hex"));
    await expect(localFileSha256(join(folder, "gone"))).rejects.toMatchObject({
      code: "LOCAL_FILE",
    });
  });
});
