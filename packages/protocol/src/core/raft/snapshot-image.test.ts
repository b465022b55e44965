/**
 * The snapshot-image descriptor round-trips and refuses anything else; ImagePull asks for one
 * part at a time, resumes from whole durable parts, and refuses a part that does not fit.
 */
import { describe, expect, test } from "bun:test";
import { decodeSnapshotImage, encodeSnapshotImage, ImagePull } from "./snapshot-image.ts";

const SHA = "ab".repeat(32);
const encoder = new TextEncoder();

describe("snapshot image descriptor", () => {
  test("round-trips", () => {
    const image = { bytes: 5 * 2 ** 40, sha256: SHA };
    expect(decodeSnapshotImage(encodeSnapshotImage(image))).toEqual(image);
  });

  test("inline snapshot data (an older node's gzipped export, JSON of anything else) is not one", () => {
    expect(decodeSnapshotImage(new Uint8Array([0x1f, 0x8b, 8, 0]))).toBeNull();
    expect(decodeSnapshotImage(new Uint8Array(0))).toBeNull();
    expect(decodeSnapshotImage(encoder.encode('{"users":[]}'))).toBeNull();
    expect(decodeSnapshotImage(encoder.encode("{not json"))).toBeNull();
    const bad = (fields: object) => decodeSnapshotImage(encoder.encode(JSON.stringify(fields)));
    expect(bad({ ftfsSnapshotImage: 2, bytes: 1, sha256: SHA })).toBeNull();
    expect(bad({ ftfsSnapshotImage: 1, bytes: -1, sha256: SHA })).toBeNull();
    expect(bad({ ftfsSnapshotImage: 1, bytes: 1.5, sha256: SHA })).toBeNull();
    expect(bad({ ftfsSnapshotImage: 1, bytes: 1, sha256: "AB".repeat(32) })).toBeNull();
  });
});

describe("ImagePull", () => {
  const image = { bytes: 25, sha256: SHA };

  test("one part in flight; moves on only once a part is durable", () => {
    const pull = new ImagePull(image, 0, 10);
    expect(pull.nextRequest()).toEqual({ offset: 0, bytes: 10 });
    expect(pull.nextRequest()).toBeNull();
    expect(pull.received(0, 10, true)).toEqual({ kind: "write", offset: 0, bytes: 10 });
    expect(pull.nextRequest()).toBeNull();
    pull.durable(0);
    expect(pull.nextRequest()).toEqual({ offset: 10, bytes: 10 });
    expect(pull.received(10, 10, true).kind).toBe("write");
    pull.durable(10);
    expect(pull.nextRequest()).toEqual({ offset: 20, bytes: 5 });
    expect(pull.received(20, 5, true).kind).toBe("write");
    pull.durable(20);
    expect(pull.complete).toBe(true);
    expect(pull.nextRequest()).toBeNull();
  });

  test("resumes from the whole parts on disk, not a torn tail", () => {
    expect(new ImagePull(image, 17, 10).resumeOffset).toBe(10);
    expect(new ImagePull(image, 20, 10).resumeOffset).toBe(20);
    expect(new ImagePull(image, 25, 10).complete).toBe(true);
    expect(new ImagePull(image, 99, 10).resumeOffset).toBe(25);
  });

  test("a torn, misplaced, late or duplicated part is never written", () => {
    const pull = new ImagePull(image, 0, 10);
    pull.nextRequest();
    expect(pull.received(0, 10, false).kind).toBe("refused");
    expect(pull.received(0, 10, true).kind).toBe("stale");
    expect(pull.nextRequest()).toEqual({ offset: 0, bytes: 10 });
    expect(pull.received(10, 10, true).kind).toBe("stale");
    expect(pull.received(0, 9, true).kind).toBe("refused");
    expect(pull.refused).toBe(2);
  });

  test("a dropped link asks again; a failed write asks again", () => {
    const pull = new ImagePull(image, 0, 10);
    pull.nextRequest();
    pull.linkLost();
    expect(pull.nextRequest()).toEqual({ offset: 0, bytes: 10 });
    pull.received(0, 10, true);
    pull.writeFailed(0);
    expect(pull.nextRequest()).toEqual({ offset: 0, bytes: 10 });
  });
});
