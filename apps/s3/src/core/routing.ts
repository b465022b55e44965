/**
 * Which S3 operation a request is, from its method, its addressing (path style `/bucket/key`,
 * or virtual-host style `bucket.<domain>/key` when the gateway has a domain) and its query's
 * subresources. What the gateway does not implement is named, so it answers NotImplemented
 * rather than doing something else.
 */

import { parseQuery } from "@ftfs/protocol/core";

export type S3Operation =
  | "ListBuckets"
  | "CreateBucket"
  | "DeleteBucket"
  | "HeadBucket"
  | "GetBucketLocation"
  | "ListObjectsV2"
  | "ListObjects"
  | "PutObject"
  | "GetObject"
  | "HeadObject"
  | "DeleteObject"
  | "DeleteObjects"
  | "GetBucketVersioning"
  | "PutBucketVersioning"
  | "ListObjectVersions"
  | "CreateMultipartUpload"
  | "UploadPart"
  | "CompleteMultipartUpload"
  | "AbortMultipartUpload"
  | "ListParts"
  | "ListMultipartUploads"
  | "GetObjectTagging";

export type Route =
  | {
      readonly kind: "operation";
      readonly operation: S3Operation;
      readonly bucket: string | null;
      /** The key, decoded: opaque bytes, '/' and all. */
      readonly key: string | null;
      readonly query: ReadonlyMap<string, string>;
    }
  | { readonly kind: "unsupported"; readonly what: string };

/** Subresources of a bucket or an object this gateway does not serve (yet), or not there. */
const UNSUPPORTED_SUBRESOURCES = [
  "acl",
  "analytics",
  "cors",
  "encryption",
  "intelligent-tiering",
  "inventory",
  "lifecycle",
  "logging",
  "metrics",
  "notification",
  "object-lock",
  "ownershipControls",
  "policy",
  "policyStatus",
  "publicAccessBlock",
  "replication",
  "requestPayment",
  "restore",
  "retention",
  "legal-hold",
  "select",
  "tagging",
  "torrent",
  // Served above where they apply (a bucket's); anywhere else they are not.
  "versioning",
  "versions",
  "website",
  "accelerate",
  "attributes",
] as const;

export function route(
  method: string,
  host: string,
  rawPath: string,
  rawQuery: string,
  domain: string | null,
): Route {
  const query = new Map(parseQuery(rawQuery));
  const fromHost = virtualHostBucket(host, domain);
  const path = decodePath(rawPath);
  let bucket: string | null;
  let key: string | null;
  if (fromHost !== null) {
    bucket = fromHost;
    key = path.length > 1 ? path.slice(1) : null;
  } else {
    const rest = path.slice(1);
    const slash = rest.indexOf("/");
    bucket = rest === "" ? null : slash < 0 ? rest : rest.slice(0, slash);
    key = slash < 0 || slash === rest.length - 1 ? null : rest.slice(slash + 1);
  }
  // No object has tags (none can be set): reading them answers an empty set, as S3 does for an
  // object without any (the AWS CLI reads them to copy an object in parts).
  if (method === "GET" && key !== null && query.has("tagging")) {
    return { kind: "operation", operation: "GetObjectTagging", bucket, key, query };
  }
  if (bucket !== null && key === null && query.has("versioning")) {
    if (method === "GET") {
      return { kind: "operation", operation: "GetBucketVersioning", bucket, key, query };
    }
    if (method === "PUT") {
      return { kind: "operation", operation: "PutBucketVersioning", bucket, key, query };
    }
  }
  if (method === "GET" && bucket !== null && key === null && query.has("versions")) {
    return { kind: "operation", operation: "ListObjectVersions", bucket, key, query };
  }
  // A version is named only where one is read or deleted (GET, HEAD, DELETE of an object).
  const versionTarget = key !== null && ["GET", "HEAD", "DELETE"].includes(method);
  if (query.has("versionId") && !versionTarget) {
    return { kind: "unsupported", what: `${method} ?versionId` };
  }
  const multipart = multipartOperation(method, bucket, key, query);
  if (multipart !== null) {
    return { kind: "operation", operation: multipart, bucket, key, query };
  }
  // A part of a completed object (GET ?partNumber) is not served, nor other methods on uploads.
  for (const subresource of ["partNumber", "uploadId", "uploads"]) {
    if (query.has(subresource)) return { kind: "unsupported", what: `${method} ?${subresource}` };
  }
  for (const subresource of UNSUPPORTED_SUBRESOURCES) {
    if (query.has(subresource)) return { kind: "unsupported", what: `?${subresource}` };
  }
  if (method === "POST") {
    if (bucket !== null && key === null && query.has("delete")) {
      return { kind: "operation", operation: "DeleteObjects", bucket, key, query };
    }
    return { kind: "unsupported", what: "POST" };
  }
  const operation = operationOf(method, bucket, key, query);
  if (operation === null) return { kind: "unsupported", what: `${method} ${rawPath}` };
  return { kind: "operation", operation, bucket, key, query };
}

/** The multipart operations, told apart by method and subresource (uploads, uploadId). */
function multipartOperation(
  method: string,
  bucket: string | null,
  key: string | null,
  query: ReadonlyMap<string, string>,
): S3Operation | null {
  if (bucket === null) return null;
  if (key === null) {
    return method === "GET" && query.has("uploads") ? "ListMultipartUploads" : null;
  }
  if (query.has("uploads")) return method === "POST" ? "CreateMultipartUpload" : null;
  if (!query.has("uploadId")) return null;
  switch (method) {
    case "PUT":
      return query.has("partNumber") ? "UploadPart" : null;
    case "POST":
      return "CompleteMultipartUpload";
    case "DELETE":
      return "AbortMultipartUpload";
    case "GET":
      return "ListParts";
    default:
      return null;
  }
}

function operationOf(
  method: string,
  bucket: string | null,
  key: string | null,
  query: ReadonlyMap<string, string>,
): S3Operation | null {
  if (bucket === null) return method === "GET" ? "ListBuckets" : null;
  if (key === null) {
    switch (method) {
      case "PUT":
        return "CreateBucket";
      case "DELETE":
        return "DeleteBucket";
      case "HEAD":
        return "HeadBucket";
      case "GET":
        if (query.has("location")) return "GetBucketLocation";
        return query.get("list-type") === "2" ? "ListObjectsV2" : "ListObjects";
      default:
        return null;
    }
  }
  switch (method) {
    case "PUT":
      return "PutObject";
    case "GET":
      return "GetObject";
    case "HEAD":
      return "HeadObject";
    case "DELETE":
      return "DeleteObject";
    default:
      return null;
  }
}

function virtualHostBucket(host: string, domain: string | null): string | null {
  if (domain === null) return null;
  const name = host.replace(/:\d+$/, "").toLowerCase();
  const suffix = `.${domain.toLowerCase()}`;
  return name.endsWith(suffix) && name.length > suffix.length
    ? name.slice(0, -suffix.length)
    : null;
}

/** The path decoded once (a key's '%2F' is a '/', as S3 reads it). */
function decodePath(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    // A malformed escape is kept literally; the signature check then refuses the request.
    return rawPath;
  }
}

export interface ByteRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

/**
 * A Range header against an object of `size` bytes: null for none (or one S3 ignores, such as
 * several ranges), a range, or "unsatisfiable" (416).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | null | "unsatisfiable" {
  if (header === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return null;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return "unsatisfiable";
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return null;
  return { start, end };
}
