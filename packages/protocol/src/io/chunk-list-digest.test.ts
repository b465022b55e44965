import { expect, test } from "bun:test";
import { chunkListSha256 } from "./chunk-list-digest.ts";

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

test("the SHA-256 of the ids' bytes in order: order and every id count", () => {
  const a = "11".repeat(32);
  const b = "22".repeat(32);
  const expected = new Bun.CryptoHasher("sha256")
    .update(Buffer.concat([Buffer.from(a, "hex"), Buffer.from(b, "hex")]))
    .digest("hex");
  expect(chunkListSha256([a, b])).toBe(expected);
  expect(chunkListSha256([b, a])).not.toBe(expected);
  expect(chunkListSha256([a])).not.toBe(expected);
  expect(chunkListSha256([])).toBe(EMPTY_SHA256);
});
