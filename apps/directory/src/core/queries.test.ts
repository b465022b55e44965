/**
 * A bucket's listing in S3's order: the home bucket's keys come from file names and "/ftfs/"
 * names merged by key; pages follow one another with nothing lost or repeated; prefixes and
 * other buckets' names stay apart.
 */
import { describe, expect, test } from "bun:test";
import { HOME_BUCKET, storedNameOf } from "@ftfs/protocol/core";
import { applyOk, chunk, commit, seedBasics, T0_MS } from "../testing/fixtures.ts";
import { MemoryMetadataStore } from "./memory-store.ts";
import { listBucketObjects } from "./queries.ts";

function storeWith(objects: ReadonlyArray<readonly [string, string]>): MemoryMetadataStore {
  const store = new MemoryMetadataStore();
  seedBasics(store);
  applyOk(store, { type: "bucketCreate", uid: "alice", bucket: "photos", atMs: T0_MS });
  for (const [index, [bucket, key]] of objects.entries()) {
    applyOk(store, commit("alice", storedNameOf({ bucket, key }), `u${index}`, [chunk(index, 3)]));
  }
  return store;
}

function keys(
  store: MemoryMetadataStore,
  bucket: string,
  prefix: string,
  after: string | null,
  count: number,
): { keys: string[]; truncated: boolean } {
  const page = listBucketObjects(store, "alice", bucket, prefix, after, count);
  if (!page.ok) throw page.error;
  return { keys: page.value.objects.map((object) => object.key), truncated: page.value.truncated };
}

describe("listBucketObjects", () => {
  const objects = [
    [HOME_BUCKET, "notes.txt"],
    [HOME_BUCKET, "a/deep/key"],
    [HOME_BUCKET, "b"],
    [HOME_BUCKET, "a"],
    [HOME_BUCKET, "z/last"],
    ["photos", "2026/cat.jpg"],
    ["photos", "2025/dog.jpg"],
  ] as const;

  test("the home bucket merges file names and '/ftfs/' keys in key order", () => {
    const store = storeWith(objects);
    expect(keys(store, HOME_BUCKET, "", null, 100)).toEqual({
      keys: ["a", "a/deep/key", "b", "notes.txt", "z/last"],
      truncated: false,
    });
    expect(keys(store, "photos", "", null, 100).keys).toEqual(["2025/dog.jpg", "2026/cat.jpg"]);
    expect(keys(store, HOME_BUCKET, "a", null, 100).keys).toEqual(["a", "a/deep/key"]);
    expect(keys(store, "photos", "2026/", null, 100).keys).toEqual(["2026/cat.jpg"]);
  });

  test("pages of any size walk every key once, in order", () => {
    const store = storeWith(objects);
    const all = keys(store, HOME_BUCKET, "", null, 100).keys;
    for (const size of [1, 2, 3]) {
      const walked: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page = keys(store, HOME_BUCKET, "", after, size);
        walked.push(...page.keys);
        if (!page.truncated) break;
        after = page.keys.at(-1) ?? null;
      }
      expect({ size, walked }).toEqual({ size, walked: all });
    }
  });

  test("an unknown bucket or user is an answer, not an empty list", () => {
    const store = storeWith(objects);
    const missing = listBucketObjects(store, "alice", "nope", "", null, 10);
    expect(missing.ok ? "" : missing.error.code).toBe("NO_SUCH_BUCKET");
    const nobody = listBucketObjects(store, "nobody", HOME_BUCKET, "", null, 10);
    expect(nobody.ok ? "" : nobody.error.code).toBe("NO_SUCH_USER");
  });
});
