/**
 * Which operation a request is: path style and virtual-host style, keys decoded once with '/'
 * and dot segments kept, bucket subresources; what is not served is named, never mistaken for
 * something else. Ranges as S3 reads them.
 */
import { describe, expect, test } from "bun:test";
import { commonPrefixOf, continuationToken, positionOfToken, urlEncodeKey } from "./listing.ts";
import { parseRange, route } from "./routing.ts";

function op(method: string, target: string, host = "127.0.0.1:7180", domain: string | null = null) {
  const question = target.indexOf("?");
  const routed = route(
    method,
    host,
    question < 0 ? target : target.slice(0, question),
    question < 0 ? "" : target.slice(question + 1),
    domain,
  );
  return routed.kind === "operation"
    ? { op: routed.operation, bucket: routed.bucket, key: routed.key }
    : { unsupported: routed.what };
}

describe("route", () => {
  test("path style", () => {
    expect(op("GET", "/")).toEqual({ op: "ListBuckets", bucket: null, key: null });
    expect(op("PUT", "/photos")).toEqual({ op: "CreateBucket", bucket: "photos", key: null });
    expect(op("PUT", "/photos/")).toEqual({ op: "CreateBucket", bucket: "photos", key: null });
    expect(op("GET", "/photos?list-type=2&prefix=a").op).toBe("ListObjectsV2");
    expect(op("GET", "/photos?prefix=a").op).toBe("ListObjects");
    expect(op("GET", "/photos?location").op).toBe("GetBucketLocation");
    expect(op("PUT", "/photos/a/../b%2Fc%20d")).toEqual({
      op: "PutObject",
      bucket: "photos",
      key: "a/../b/c d",
    });
    expect(op("HEAD", "/photos/dir/")).toEqual({ op: "HeadObject", bucket: "photos", key: "dir/" });
    expect(op("DELETE", "/photos")).toEqual({ op: "DeleteBucket", bucket: "photos", key: null });
  });

  test("virtual-host style under the gateway's domain", () => {
    expect(op("GET", "/cat.jpg", "photos.s3.local:7180", "s3.local")).toEqual({
      op: "GetObject",
      bucket: "photos",
      key: "cat.jpg",
    });
    expect(op("GET", "/", "photos.s3.local", "s3.local").op).toBe("ListObjects");
    expect(op("GET", "/", "s3.local", "s3.local").op).toBe("ListBuckets");
  });

  test("what is not served is named", () => {
    expect(op("GET", "/photos?versioning").op).toBe("GetBucketVersioning");
    expect(op("PUT", "/photos?versioning").op).toBe("PutBucketVersioning");
    expect(op("GET", "/photos?versions").op).toBe("ListObjectVersions");
    expect(op("GET", "/photos/k?versionId=3").op).toBe("GetObject");
    expect(op("DELETE", "/photos/k?versionId=3").op).toBe("DeleteObject");
    expect(op("PUT", "/photos/k?versionId=3")).toEqual({ unsupported: "PUT ?versionId" });
    expect(op("PUT", "/photos/k?versioning")).toEqual({ unsupported: "?versioning" });
    expect(op("POST", "/photos?delete")).toEqual({
      op: "DeleteObjects",
      bucket: "photos",
      key: null,
    });
    expect(op("GET", "/photos/k?partNumber=2")).toEqual({ unsupported: "GET ?partNumber" });
    expect(op("GET", "/photos/k?tagging").op).toBe("GetObjectTagging");
    expect(op("PUT", "/photos/k?tagging")).toEqual({ unsupported: "?tagging" });
    expect(op("PUT", "/photos/k?uploadId=1")).toEqual({ unsupported: "PUT ?uploadId" });
    expect(op("PATCH", "/photos/k")).toEqual({ unsupported: "PATCH /photos/k" });
  });

  test("multipart uploads, by method and subresource", () => {
    const at = { bucket: "photos", key: "a/b.bin" };
    expect(op("POST", "/photos/a/b.bin?uploads")).toEqual({ op: "CreateMultipartUpload", ...at });
    expect(op("PUT", "/photos/a/b.bin?partNumber=2&uploadId=u")).toEqual({
      op: "UploadPart",
      ...at,
    });
    expect(op("POST", "/photos/a/b.bin?uploadId=u")).toEqual({
      op: "CompleteMultipartUpload",
      ...at,
    });
    expect(op("DELETE", "/photos/a/b.bin?uploadId=u")).toEqual({
      op: "AbortMultipartUpload",
      ...at,
    });
    expect(op("GET", "/photos/a/b.bin?uploadId=u&max-parts=2")).toEqual({ op: "ListParts", ...at });
    expect(op("GET", "/photos?uploads&prefix=a")).toEqual({
      op: "ListMultipartUploads",
      bucket: "photos",
      key: null,
    });
  });
});

describe("ranges", () => {
  test("as S3 reads them", () => {
    expect(parseRange(undefined, 100)).toBeNull();
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=50-500", 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-1,5-6", 100)).toBeNull();
    expect(parseRange("bytes=9-1", 100)).toBeNull();
  });
});

describe("listing pieces", () => {
  test("common prefixes, tokens, url-encoded keys", () => {
    expect(commonPrefixOf("a/b/c", "", "/")).toBe("a/");
    expect(commonPrefixOf("a/b/c", "a/", "/")).toBe("a/b/");
    expect(commonPrefixOf("a/b", "a/b", "/")).toBeNull();
    expect(commonPrefixOf("a/b", "", "")).toBeNull();
    for (const position of ["key", "ü/✓", "a/\u{10FFFF}"]) {
      expect(positionOfToken(continuationToken(position))).toBe(position);
    }
    expect(positionOfToken("!!")).toBeNull();
    expect(urlEncodeKey("a b/ü+")).toBe("a%20b/%C3%BC%2B");
  });
});
