/**
 * The S3 gateway: HTTP/1.1, stateless (run several; any may die), speaking S3 to
 * clients and FTFS to the cluster through the client library, as a node (it holds the
 * cluster key). Every request is signed (Signature Version 4, header or presigned URL) with a
 * user's access key; the key's user is who the request acts for, so a user reaches only its
 * own buckets, and quotas, receipts and the no-loss rules apply as on the native path.
 * Bodies stream through: an upload goes to storage chunk by chunk as it arrives, a download
 * leaves as chunks come back; nothing is committed unless every byte arrived and matched the
 * hashes the client signed or sent (x-amz-content-sha256, Content-MD5, an aws-chunked body's
 * chunk signatures and trailing checksums).
 *
 * The server is node:http as Bun implements it, not Bun.serve: Bun.serve hands handlers a URL
 * with dot segments resolved (even `%2E%2E`), so the key `a/../b` would arrive as `b` and
 * its signature would not match; node:http keeps the request target exactly as sent.
 */

import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import {
  FtfsError,
  HOME_BUCKET,
  type Counter,
  type Histogram,
  type MetricsRegistry,
  isRetryable,
  MULTIPART_PART_BYTES_MAX,
  MULTIPART_PARTS_MAX,
  objectOfStoredName,
  validateMultipartUploadId,
  OBJECT_META_BYTES_MAX,
  OBJECT_META_ENTRIES_MAX,
  validateBucketName,
  validateObjectKey,
  type Manifest,
  type ObjectAttrs,
  type ObjectEntry,
  type ObjectVersionEntry,
  type ObjectName,
  type ResponseBody,
  type WritePrecondition,
} from "@ftfs/protocol/core";
import {
  describeError,
  NODE_HASHES,
  openAccessKeySecret,
  type Keyring,
  type Logger,
  type ServerTls,
} from "@ftfs/protocol/io";
import {
  streamSource,
  type FtfsClient,
  type ObjectLocation,
  type StreamDigests,
} from "@ftfs/client";

type StreamSource = ReturnType<typeof streamSource>;
import {
  afterEveryKeyWith,
  childrenNamed,
  childText,
  parseXml,
  XML_BODY_BYTES_MAX,
  AwsChunkedDecoder,
  Crc,
  trailerValues,
  commonPrefixOf,
  continuationToken,
  document,
  el,
  errorXml,
  etagListMatches,
  evaluateConditions,
  type ConditionHeaders,
  parseRange,
  positionOfToken,
  readSignatureClaim,
  route,
  type Route,
  s3Error,
  STREAMING_SIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_PAYLOAD_TRAILER,
  UNSIGNED_PAYLOAD,
  urlEncodeKey,
  verifySignature,
  type ArrivedRequest,
  type S3Error,
  type VerifiedSignature,
  type S3ErrorCode,
} from "../core/index.ts";

/** An access key's user and secret are kept this long: a removed key stops within it. */
export const ACCESS_KEY_CACHE_MS = 5_000;
/** Keys one DeleteObjects request may name (S3's limit). */
const DELETE_OBJECTS_MAX = 1_000;
/** S3's max-parts and max-uploads: the default and the most one listing answers. */
const LIST_PARTS_MAX = 1_000;
const LIST_UPLOADS_MAX = 1_000;
/** S3's max-keys: the default and the most one listing answers. */
const LIST_KEYS_MAX = 1_000;
/** The largest object one PUT stores (S3's single-PUT limit). */
export const PUT_OBJECT_BYTES_MAX = 5 * 1024 ** 3;
/**
 * Chunks each of the gateway's transfers keeps moving at once. A gateway serves many transfers
 * together, which keep the cluster busy between them; each needs a short window, and memory is
 * windows × transfers (bench:s3 --memory with 10 × 512 MiB: peak RSS 541 MiB with a window of
 * 4, 390 with 2, at the same aggregate rate).
 */
export const GATEWAY_CHUNKS_IN_FLIGHT = 2;
/**
 * The gateway collects garbage after each this many bytes moved (the client's collector): the
 * buffers every chunk leaves behind otherwise pile up for hundreds of MiB between the
 * collector's own runs. bench:s3 --memory (10 × 2 GiB PUTs, then GETs, at once): peak RSS
 * 673 MiB before the two changes, 271 MiB collecting every 64 MiB, 221 MiB every 32 MiB
 * (about 5 collections a second at 140 MiB/s; no change in the PUT rate measured).
 */
export const GATEWAY_GC_INTERVAL_BYTES = 32 * 1024 * 1024;
const REQUEST_ID_BYTES = 8;

export interface GatewayOptions {
  readonly hostname: string;
  readonly port: number;
  /** The cluster, acting as a node (the cluster key). */
  readonly client: FtfsClient;
  readonly keyring: Keyring;
  readonly region: string;
  /** Virtual-host addressing under this domain (bucket.<domain>); null: path style only. */
  readonly domain: string | null;
  /** Serve HTTPS with this certificate; null: plain HTTP (loopback, or behind a proxy). */
  readonly tls: ServerTls | null;
  readonly logger: Logger;
  readonly nowMs: () => number;
  /** Where requests are counted (the gateway's /metrics); absent: not counted. */
  readonly metrics?: MetricsRegistry;
}

/** The gateway's metrics: S3 requests by operation and outcome, and their time to answer. */
class GatewayMetrics {
  private readonly requests: Counter;
  private readonly duration: Histogram;

  constructor(registry: MetricsRegistry) {
    this.requests = registry.counter(
      "ftfs_s3_requests_total",
      "S3 requests answered, by operation and result (ok, or S3's error code).",
      ["operation", "code"],
    );
    this.duration = registry.histogram(
      "ftfs_s3_request_duration_seconds",
      "Time from an S3 request's arrival to its answer's headers, by operation.",
      ["operation"],
    );
  }

  record(routed: Route, code: string, startedMs: number): void {
    const operation = routed.kind === "operation" ? routed.operation : "Unsupported";
    this.requests.inc({ operation, code });
    this.duration.observe({ operation }, (performance.now() - startedMs) / 1000);
  }
}

/** A refusal in S3's terms, thrown from deep inside a request and answered as XML. */
class S3Failure extends Error {
  readonly s3: S3Error;

  constructor(code: S3ErrorCode, message: string, headers?: Readonly<Record<string, string>>) {
    super(message);
    this.s3 = s3Error(code, message, headers);
  }
}

interface Caller {
  readonly uid: string;
  readonly payloadHash: string;
  /** The checked signature: an aws-chunked body's chunks are signed in a chain from it. */
  readonly signature: VerifiedSignature;
}

/** A request's body, read once: streamed (an upload) or drained (a body the op ignores). */
interface RequestBodyStream {
  stream(): ReadableStream<Uint8Array>;
  discard(): Promise<void>;
}

export class S3Gateway {
  private readonly options: GatewayOptions;
  private readonly server: Server;
  private readonly keys = new Map<string, { uid: string; secret: string; untilMs: number }>();
  private readonly metrics: GatewayMetrics | null;

  private constructor(options: GatewayOptions, server: Server) {
    this.options = options;
    this.server = server;
    this.metrics = options.metrics === undefined ? null : new GatewayMetrics(options.metrics);
  }

  /** Listens before it answers. */
  static async start(options: GatewayOptions): Promise<S3Gateway> {
    const server =
      options.tls === null
        ? createServer()
        : createHttpsServer({ cert: options.tls.cert, key: options.tls.key });
    const gateway = new S3Gateway(options, server);
    server.on("request", (incoming: IncomingMessage, outgoing: ServerResponse) => {
      void gateway.exchange(incoming, outgoing);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.hostname, () => resolve());
    });
    return gateway;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address.port : this.options.port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** One HTTP exchange: the S3 answer, written with backpressure. */
  private async exchange(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const body: RequestBodyStream = {
      stream: () => pulledStream(incoming),
      discard: async () => {
        for await (const _ of incoming) {
          // drained: the op does not read this body
        }
      },
    };
    const response = await this.handle(arrivedRequest(incoming), body);
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    outgoing.writeHead(response.status, headers);
    try {
      if (response.body !== null) {
        for await (const chunk of response.body) {
          if (outgoing.write(chunk)) continue;
          // A client gone mid-body never drains: stop (leaving the loop cancels the body, so
          // the read behind it ends too) instead of waiting for ever.
          await Promise.race([once(outgoing, "drain"), once(outgoing, "close")]);
          if (outgoing.destroyed || outgoing.writableEnded) break;
        }
      }
      outgoing.end();
    } catch (error) {
      // The body failed mid-way (logged where it failed): cut the connection, so the client
      // sees a short body rather than a complete-looking one.
      outgoing.destroy(error instanceof Error ? error : undefined);
    }
  }

  private async handle(arrived: ArrivedRequest, request: RequestBodyStream): Promise<Response> {
    const requestId = Buffer.from(crypto.getRandomValues(new Uint8Array(REQUEST_ID_BYTES)))
      .toString("hex")
      .toUpperCase();
    const startedMs = performance.now();
    const routed = route(
      arrived.method,
      arrived.headers.get("host") ?? "",
      arrived.rawPath,
      arrived.rawQuery,
      this.options.domain,
    );
    try {
      const response = await this.serve(request, arrived, routed);
      response.headers.set("x-amz-request-id", requestId);
      this.metrics?.record(routed, "ok", startedMs);
      return response;
    } catch (error) {
      const s3 = this.s3ErrorOf(error);
      this.metrics?.record(routed, s3.code, startedMs);
      if (s3.status >= 500) {
        this.options.logger.warn("S3 request failed", {
          method: arrived.method,
          path: arrived.rawPath.slice(0, 200),
          code: s3.code,
          error: describeError(error),
        });
      }
      const body = arrived.method === "HEAD" ? null : errorXml(s3, arrived.rawPath, requestId);
      return new Response(body, {
        status: s3.status,
        headers: {
          ...s3.headers,
          "content-type": "application/xml",
          "x-amz-request-id": requestId,
        },
      });
    }
  }

  private async serve(
    request: RequestBodyStream,
    arrived: ArrivedRequest,
    routed: Route,
  ): Promise<Response> {
    const caller = await this.authenticate(arrived);
    if (routed.kind === "unsupported") {
      throw new S3Failure("NotImplemented", `${routed.what} is not implemented by this gateway`);
    }
    const { operation, bucket, key, query } = routed;
    const { uid } = caller;
    switch (operation) {
      case "ListBuckets":
        return this.listBuckets(uid);
      case "CreateBucket":
        return this.createBucket(uid, requireBucket(bucket), request);
      case "DeleteBucket":
        await this.options.client.bucketDelete(uid, requireBucket(bucket));
        return new Response(null, { status: 204 });
      case "HeadBucket":
        await this.options.client.listObjects(uid, requireBucket(bucket), {
          prefix: "",
          after: null,
          countMax: 1,
        });
        return new Response(null, { status: 200 });
      case "GetBucketLocation":
        await this.options.client.listObjects(uid, requireBucket(bucket), {
          prefix: "",
          after: null,
          countMax: 1,
        });
        return xmlResponse(
          document("LocationConstraint", [
            this.options.region === "us-east-1" ? "" : this.options.region,
          ]),
        );
      case "GetBucketVersioning":
        return this.getBucketVersioning(uid, requireBucket(bucket));
      case "PutBucketVersioning":
        return this.putBucketVersioning(caller, requireBucket(bucket), request, arrived);
      case "ListObjectVersions":
        return this.listObjectVersions(uid, requireBucket(bucket), query);
      case "ListObjectsV2":
      case "ListObjects":
        return this.listObjects(uid, requireBucket(bucket), query, operation === "ListObjectsV2");
      case "PutObject":
        return this.putObject(caller, objectName(bucket, key), request, arrived);
      case "GetObject":
        return this.getObject(uid, objectName(bucket, key), versionIdOf(query), arrived, true);
      case "HeadObject":
        return this.getObject(uid, objectName(bucket, key), versionIdOf(query), arrived, false);
      case "DeleteObject":
        return this.deleteObject(uid, objectName(bucket, key), versionIdOf(query));
      case "DeleteObjects":
        return this.deleteObjects(caller, requireBucket(bucket), request, arrived);
      case "CreateMultipartUpload":
        return this.createMultipartUpload(uid, objectName(bucket, key), request, arrived);
      case "UploadPart":
        return this.uploadPart(caller, objectName(bucket, key), query, request, arrived);
      case "CompleteMultipartUpload":
        return this.completeMultipartUpload(
          caller,
          objectName(bucket, key),
          query,
          request,
          arrived,
        );
      case "AbortMultipartUpload":
        await this.options.client.multipartAbort(uid, objectName(bucket, key), uploadIdOf(query));
        return new Response(null, { status: 204 });
      case "ListParts":
        return this.listParts(uid, objectName(bucket, key), query);
      case "ListMultipartUploads":
        return this.listMultipartUploads(uid, requireBucket(bucket), query);
      case "GetObjectTagging":
        await this.options.client.objectManifest(uid, objectName(bucket, key));
        return xmlResponse(document("Tagging", [el("TagSet", [])]));
    }
  }

  // ---- authentication ----

  private async authenticate(arrived: ArrivedRequest): Promise<Caller> {
    const claim = readSignatureClaim(arrived);
    if (!claim.ok) throw new S3Failure(claim.error.code, claim.error.message);
    if (claim.value === null) {
      throw new S3Failure(
        "AccessDenied",
        "anonymous requests are not served; sign with an access key",
      );
    }
    const key = await this.accessKey(claim.value.accessKeyId);
    const verified = verifySignature(arrived, claim.value, {
      secret: key.secret,
      region: this.options.region,
      nowMs: this.options.nowMs(),
      hashes: NODE_HASHES,
    });
    if (!verified.ok) throw new S3Failure(verified.error.code, verified.error.message);
    const payloadHash = claim.value.payloadHash;
    const hexHash = /^[0-9a-f]{64}$/.test(payloadHash);
    if (!STREAMING_PAYLOADS.has(payloadHash) && payloadHash !== UNSIGNED_PAYLOAD && !hexHash) {
      throw new S3Failure(
        "InvalidArgument",
        "x-amz-content-sha256 must be a SHA-256 in hex, UNSIGNED-PAYLOAD or an aws-chunked form",
      );
    }
    return { uid: key.uid, payloadHash, signature: verified.value };
  }

  private async accessKey(accessKeyId: string): Promise<{ uid: string; secret: string }> {
    const nowMs = this.options.nowMs();
    const cached = this.keys.get(accessKeyId);
    if (cached !== undefined && cached.untilMs > nowMs) return cached;
    let resolved: { uid: string; sealed: Parameters<typeof openAccessKeySecret>[2] };
    try {
      resolved = await this.options.client.resolveAccessKey(accessKeyId);
    } catch (error) {
      if (
        error instanceof FtfsError &&
        (error.code === "NOT_FOUND" || error.code === "BAD_REQUEST")
      ) {
        throw new S3Failure(
          "InvalidAccessKeyId",
          "the access key id you provided does not exist in our records",
        );
      }
      throw error;
    }
    const secret = openAccessKeySecret(this.options.keyring, accessKeyId, resolved.sealed);
    if (secret === null) {
      // Sealed under a cluster key this gateway lacks: its keyring is behind a rotation.
      throw new S3Failure(
        "ServiceUnavailable",
        "this gateway cannot check that access key now; retry",
      );
    }
    const entry = { uid: resolved.uid, secret, untilMs: nowMs + ACCESS_KEY_CACHE_MS };
    this.keys.set(accessKeyId, entry);
    return entry;
  }

  // ---- buckets ----

  private async listBuckets(uid: string): Promise<Response> {
    const buckets = await this.options.client.bucketList(uid);
    return xmlResponse(
      document("ListAllMyBucketsResult", [
        el("Owner", [el("ID", uid), el("DisplayName", uid)]),
        el(
          "Buckets",
          buckets.map((bucket) =>
            el("Bucket", [
              el("Name", bucket.bucket),
              el("CreationDate", isoTime(bucket.createdAtMs)),
            ]),
          ),
        ),
      ]),
    );
  }

  private async createBucket(
    uid: string,
    bucket: string,
    request: RequestBodyStream,
  ): Promise<Response> {
    // A CreateBucketConfiguration body names a region; this gateway has one.
    await request.discard();
    const made = await this.options.client.bucketCreate(uid, bucket);
    if (!made.created && this.options.region !== "us-east-1") {
      throw new S3Failure("BucketAlreadyOwnedByYou", `you already own bucket '${bucket}'`);
    }
    return new Response(null, { status: 200, headers: { location: `/${bucket}` } });
  }

  private async listObjects(
    uid: string,
    bucket: string,
    query: ReadonlyMap<string, string>,
    v2: boolean,
  ): Promise<Response> {
    const prefix = query.get("prefix") ?? "";
    const delimiter = query.get("delimiter") ?? "";
    const maxKeysText = query.get("max-keys") ?? String(LIST_KEYS_MAX);
    if (!/^\d{1,7}$/.test(maxKeysText)) {
      throw new S3Failure("InvalidArgument", "max-keys must be a non-negative integer");
    }
    const maxKeys = Math.min(Number(maxKeysText), LIST_KEYS_MAX);
    const urlEncoded = query.get("encoding-type") === "url";
    const token = query.get("continuation-token");
    let start: string | null;
    if (v2 && token !== undefined) {
      start = positionOfToken(token);
      if (start === null)
        throw new S3Failure("InvalidArgument", "the continuation token is not valid");
    } else {
      const marker = v2 ? query.get("start-after") : query.get("marker");
      start =
        marker === undefined || marker === ""
          ? null
          : delimiter !== "" && marker.endsWith(delimiter)
            ? afterEveryKeyWith(marker)
            : marker;
    }
    const walked = await walkListing<ObjectEntry, string>({
      prefix,
      delimiter,
      max: maxKeys,
      pageMax: LIST_KEYS_MAX,
      start,
      positionOf: (object) => object.key,
      afterPrefix: afterEveryKeyWith,
      page: async (after, countMax) => {
        const page = await this.options.client.listObjects(uid, bucket, {
          prefix,
          after,
          countMax,
        });
        return { entries: page.objects, truncated: page.truncated };
      },
    });
    const { count, truncated, after, last } = walked;
    const contents = walked.entries.map((object) =>
      el("Contents", [
        el("Key", urlEncoded ? urlEncodeKey(object.key) : object.key),
        el("LastModified", isoTime(object.createdAtMs)),
        el("ETag", etagOf(object)),
        el("Size", object.bytes),
        el("StorageClass", "STANDARD"),
      ]),
    );
    const prefixes = walked.prefixes.map((common) =>
      el("CommonPrefixes", [el("Prefix", urlEncoded ? urlEncodeKey(common) : common)]),
    );
    const shownPrefix = urlEncoded ? urlEncodeKey(prefix) : prefix;
    const common = [
      el("Name", bucket),
      el("Prefix", shownPrefix),
      el("MaxKeys", maxKeys),
      ...(delimiter === ""
        ? []
        : [el("Delimiter", urlEncoded ? urlEncodeKey(delimiter) : delimiter)]),
      ...(urlEncoded ? [el("EncodingType", "url")] : []),
      el("IsTruncated", truncated),
    ];
    const paging = v2
      ? [
          el("KeyCount", count),
          ...(token === undefined ? [] : [el("ContinuationToken", token)]),
          ...(query.has("start-after") ? [el("StartAfter", query.get("start-after") ?? "")] : []),
          ...(truncated && after !== null
            ? [el("NextContinuationToken", continuationToken(after))]
            : []),
        ]
      : [
          el("Marker", query.get("marker") ?? ""),
          ...(truncated && delimiter !== "" && last !== null
            ? [el("NextMarker", urlEncoded ? urlEncodeKey(last.key) : last.key)]
            : []),
        ];
    return xmlResponse(
      document("ListBucketResult", [...common, ...paging, ...contents, ...prefixes]),
    );
  }

  private async getBucketVersioning(uid: string, bucket: string): Promise<Response> {
    const found = (await this.options.client.bucketList(uid)).find(
      (record) => record.bucket === bucket,
    );
    if (found === undefined) {
      throw new S3Failure("NoSuchBucket", "the specified bucket does not exist");
    }
    // Never turned on: S3 answers an empty configuration.
    const status =
      found.versioning === undefined
        ? []
        : [el("Status", found.versioning === "enabled" ? "Enabled" : "Suspended")];
    return xmlResponse(document("VersioningConfiguration", status));
  }

  private async putBucketVersioning(
    caller: Caller,
    bucket: string,
    request: RequestBodyStream,
    arrived: ArrivedRequest,
  ): Promise<Response> {
    const root = parseXml(await this.smallBody(caller, request, arrived));
    if (root === null || root.name !== "VersioningConfiguration") {
      throw new S3Failure("MalformedXML", "the XML you provided was not well-formed");
    }
    if (childText(root, "MfaDelete") === "Enabled") {
      throw new S3Failure("NotImplemented", "MFA delete is not implemented by this gateway");
    }
    if (bucket === HOME_BUCKET) {
      throw new S3Failure(
        "InvalidBucketState",
        `bucket '${HOME_BUCKET}' keeps versions by the cluster's keep policy; ` +
          "make a bucket of your own to turn versioning on",
      );
    }
    const status = childText(root, "Status");
    if (status !== "Enabled" && status !== "Suspended") {
      throw new S3Failure(
        "IllegalVersioningConfigurationException",
        "the versioning configuration's Status must be Enabled or Suspended",
      );
    }
    await this.options.client.bucketVersioning(
      caller.uid,
      bucket,
      status === "Enabled" ? "enabled" : "suspended",
    );
    return new Response(null, { status: 200 });
  }

  /** ListObjectVersions: versions and delete markers by key, newest first within a key. */
  private async listObjectVersions(
    uid: string,
    bucket: string,
    query: ReadonlyMap<string, string>,
  ): Promise<Response> {
    const prefix = query.get("prefix") ?? "";
    const delimiter = query.get("delimiter") ?? "";
    const maxKeys = boundedCount(query.get("max-keys"), LIST_KEYS_MAX, "max-keys");
    const urlEncoded = query.get("encoding-type") === "url";
    const keyMarker = query.get("key-marker") ?? "";
    const versionIdMarker = query.get("version-id-marker") ?? "";
    if (versionIdMarker !== "" && keyMarker === "") {
      throw new S3Failure("InvalidArgument", "a version-id-marker needs a key-marker");
    }
    // After a key marker alone comes the next key (version 0: below every version of it).
    const start: VersionPosition | null =
      keyMarker === ""
        ? null
        : versionIdMarker !== ""
          ? { key: keyMarker, version: versionNumberOf(versionIdMarker) }
          : {
              key:
                delimiter !== "" && keyMarker.endsWith(delimiter)
                  ? afterEveryKeyWith(keyMarker)
                  : keyMarker,
              version: 0,
            };
    const walked = await walkListing<ObjectVersionEntry, VersionPosition>({
      prefix,
      delimiter,
      max: maxKeys,
      pageMax: LIST_KEYS_MAX,
      start,
      positionOf: (entry) => ({ key: entry.key, version: entry.version }),
      afterPrefix: (common) => ({ key: afterEveryKeyWith(common), version: 0 }),
      page: async (after, countMax) => {
        const page = await this.options.client.listObjectVersions(uid, bucket, {
          prefix,
          after,
          countMax,
        });
        return { entries: page.versions, truncated: page.truncated };
      },
    });
    const shown = (key: string) => (urlEncoded ? urlEncodeKey(key) : key);
    const owner = el("Owner", [el("ID", uid), el("DisplayName", uid)]);
    const listed = walked.entries.map((entry) =>
      entry.deleteMarker
        ? el("DeleteMarker", [
            el("Key", shown(entry.key)),
            el("VersionId", String(entry.version)),
            el("IsLatest", entry.latest),
            el("LastModified", isoTime(entry.createdAtMs)),
            owner,
          ])
        : el("Version", [
            el("Key", shown(entry.key)),
            el("VersionId", String(entry.version)),
            el("IsLatest", entry.latest),
            el("LastModified", isoTime(entry.createdAtMs)),
            el("ETag", etagOf({ sha256: entry.sha256 ?? "", md5: entry.md5, parts: entry.parts })),
            el("Size", entry.bytes),
            owner,
            el("StorageClass", "STANDARD"),
          ]),
    );
    const prefixes = walked.prefixes.map((common) =>
      el("CommonPrefixes", [el("Prefix", shown(common))]),
    );
    const last = walked.last;
    const next =
      walked.truncated && last !== null
        ? [
            el("NextKeyMarker", shown(last.key)),
            ...(last.entry === null ? [] : [el("NextVersionIdMarker", String(last.entry.version))]),
          ]
        : [];
    return xmlResponse(
      document("ListVersionsResult", [
        el("Name", bucket),
        el("Prefix", shown(prefix)),
        el("KeyMarker", shown(keyMarker)),
        el("VersionIdMarker", versionIdMarker),
        el("MaxKeys", maxKeys),
        ...(delimiter === "" ? [] : [el("Delimiter", shown(delimiter))]),
        ...(urlEncoded ? [el("EncodingType", "url")] : []),
        el("IsTruncated", walked.truncated),
        ...next,
        ...listed,
        ...prefixes,
      ]),
    );
  }

  // ---- objects ----

  private async putObject(
    caller: Caller,
    object: ObjectName,
    request: RequestBodyStream,
    arrived: ArrivedRequest,
  ): Promise<Response> {
    const headers = arrived.headers;
    const copySource = headers.get("x-amz-copy-source");
    if (copySource !== undefined) {
      await request.discard();
      return this.copyObject(caller.uid, copySource, object, headers);
    }
    const meta = userMetadata(headers);
    const precondition = await this.writePrecondition(caller.uid, object, headers);
    const source = this.bodySource(caller, request, arrived, object, PUT_OBJECT_BYTES_MAX);
    try {
      const attrs = (): ObjectAttrs => ({
        md5: source.digests().md5Hex,
        contentType: headers.get("content-type") ?? "binary/octet-stream",
        ...(meta.length === 0 ? {} : { meta }),
      });
      const put = await this.options.client.putObject(
        caller.uid,
        object,
        source,
        attrs,
        precondition,
      );
      return new Response(null, {
        status: 200,
        headers: { etag: `"${source.digests().md5Hex}"`, "x-amz-version-id": String(put.version) },
      });
    } finally {
      await source.close();
    }
  }

  /**
   * A conditional write's precondition: If-None-Match: * (the key must not exist) or If-Match
   * (the key must still be the version with that ETag), checked now so a write bound to fail
   * reads no body, and held by the commit (compare and swap on the version).
   */
  private async writePrecondition(
    uid: string,
    object: ObjectName,
    headers: ReadonlyMap<string, string>,
  ): Promise<WritePrecondition | undefined> {
    const ifNoneMatch = headers.get("if-none-match");
    const ifMatch = headers.get("if-match");
    if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
    if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== "*") {
      throw new S3Failure("NotImplemented", "a write's If-None-Match can only be *");
    }
    let current: Manifest | null = null;
    try {
      current = await this.options.client.objectManifest(uid, object);
    } catch (error) {
      if (!(error instanceof FtfsError && error.code === "NOT_FOUND")) throw error;
    }
    if (ifMatch !== undefined) {
      if (current === null) throw new S3Failure("NoSuchKey", "the specified key does not exist");
      if (!etagListMatches(ifMatch, manifestEtag(current))) {
        throw new S3Failure(
          "PreconditionFailed",
          "the object's ETag is not the one If-Match names",
        );
      }
      return { version: current.version };
    }
    if (current !== null) {
      throw new S3Failure("PreconditionFailed", "the key exists and If-None-Match is *");
    }
    return { version: null };
  }

  /**
   * A body to store, streamed: its declared length bounded by `bytesMax`, aws-chunked framing
   * decoded and checked, and before anything is committed its digests checked against what
   * the client signed (x-amz-content-sha256) or sent (Content-MD5, trailing checksums).
   */
  private bodySource(
    caller: Caller,
    request: RequestBodyStream,
    arrived: ArrivedRequest,
    object: ObjectName,
    bytesMax: number,
  ): StreamSource {
    const headers = arrived.headers;
    const chunked = STREAMING_PAYLOADS.has(caller.payloadHash);
    // An aws-chunked body's own length is its framing's; the object's is declared apart.
    const lengthText = headers.get(chunked ? "x-amz-decoded-content-length" : "content-length");
    if (lengthText === undefined) {
      throw new S3Failure(
        "MissingContentLength",
        chunked
          ? "an aws-chunked PUT needs x-amz-decoded-content-length"
          : "a PUT needs a Content-Length",
      );
    }
    if (!/^\d{1,15}$/.test(lengthText))
      throw new S3Failure("InvalidArgument", "the body's length is not a number");
    const length = Number(lengthText);
    if (length > bytesMax) {
      throw new S3Failure("EntityTooLarge", `one PUT stores at most ${bytesMax} bytes`);
    }
    const contentMd5 = headers.get("content-md5");
    const expectedMd5 = contentMd5 === undefined ? null : md5HexOfHeader(contentMd5);
    const body = decodedBody(request.stream(), caller, headers);
    return streamSource(
      `${object.bucket}/${object.key}`,
      length,
      body.stream,
      (digests: StreamDigests) => {
        const signedHash = !chunked && caller.payloadHash !== UNSIGNED_PAYLOAD;
        if (signedHash && digests.sha256Hex !== caller.payloadHash) {
          throw new S3Failure(
            "XAmzContentSHA256Mismatch",
            "the body's SHA-256 is not the x-amz-content-sha256 that was signed",
          );
        }
        if (expectedMd5 !== null && digests.md5Hex !== expectedMd5) {
          throw new S3Failure(
            "BadDigest",
            "the Content-MD5 you specified did not match what we received",
          );
        }
        body.checksums(digests);
      },
    );
  }

  // ---- multipart uploads ----

  private async createMultipartUpload(
    uid: string,
    object: ObjectName,
    request: RequestBodyStream,
    arrived: ArrivedRequest,
  ): Promise<Response> {
    await request.discard();
    const headers = arrived.headers;
    const meta = userMetadata(headers);
    const opened = await this.options.client.multipartCreate(uid, object, {
      contentType: headers.get("content-type") ?? "binary/octet-stream",
      ...(meta.length === 0 ? {} : { meta }),
    });
    return xmlResponse(
      document("InitiateMultipartUploadResult", [
        el("Bucket", object.bucket),
        el("Key", object.key),
        el("UploadId", opened.uploadId),
      ]),
    );
  }

  /** UploadPart, or UploadPartCopy (a range of another object, read and stored anew). */
  private async uploadPart(
    caller: Caller,
    object: ObjectName,
    query: ReadonlyMap<string, string>,
    request: RequestBodyStream,
    arrived: ArrivedRequest,
  ): Promise<Response> {
    const uploadId = uploadIdOf(query);
    const partNumber = partNumberOf(query.get("partNumber"));
    // A part goes to the upload of the URL's key only: S3 answers NoSuchUpload otherwise.
    const upload = await this.options.client.multipartParts(caller.uid, uploadId, 0, 1);
    const uploadOf = objectOfStoredName(upload.name);
    if (uploadOf.bucket !== object.bucket || uploadOf.key !== object.key) {
      await request.discard();
      throw new S3Failure("NoSuchUpload", "the specified multipart upload does not exist");
    }
    const copySource = arrived.headers.get("x-amz-copy-source");
    if (copySource !== undefined) {
      await request.discard();
      return this.uploadPartCopy(caller.uid, uploadId, partNumber, copySource, arrived.headers);
    }
    const source = this.bodySource(caller, request, arrived, object, MULTIPART_PART_BYTES_MAX);
    try {
      const md5 = () => ({ md5: source.digests().md5Hex });
      await this.options.client.putPart(caller.uid, uploadId, partNumber, source, md5);
      return new Response(null, { status: 200, headers: { etag: `"${source.digests().md5Hex}"` } });
    } finally {
      await source.close();
    }
  }

  private async uploadPartCopy(
    uid: string,
    uploadId: string,
    partNumber: number,
    copySource: string,
    headers: ReadonlyMap<string, string>,
  ): Promise<Response> {
    const { object: from, version: fromVersion } = copySourceOf(copySource);
    const location = await versionRead(fromVersion, () =>
      this.options.client.objectLocation(uid, from, fromVersion),
    );
    const manifest = location.manifest;
    const rangeHeader = headers.get("x-amz-copy-source-range");
    const range = rangeHeader === undefined ? null : parseRange(rangeHeader, manifest.bytes);
    if (range === "unsatisfiable" || (rangeHeader !== undefined && range === null)) {
      throw new S3Failure("InvalidRange", "x-amz-copy-source-range is not a range of the source");
    }
    const start = range?.start ?? 0;
    const end = range === null ? manifest.bytes - 1 : range.end;
    const length = Math.max(0, end - start + 1);
    if (length > MULTIPART_PART_BYTES_MAX) {
      throw new S3Failure(
        "EntityTooLarge",
        `a part holds at most ${MULTIPART_PART_BYTES_MAX} bytes`,
      );
    }
    const body =
      length === 0
        ? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() })
        : this.objectBody(uid, from, location, start, end);
    const source = streamSource(`${from.bucket}/${from.key}`, length, body, () => undefined);
    try {
      const md5 = () => ({ md5: source.digests().md5Hex });
      const stored = await this.options.client.putPart(uid, uploadId, partNumber, source, md5);
      return xmlResponse(
        document("CopyPartResult", [
          el("ETag", `"${source.digests().md5Hex}"`),
          el("LastModified", isoTime(stored.createdAtMs)),
        ]),
      );
    } finally {
      await source.close();
    }
  }

  private async completeMultipartUpload(
    caller: Caller,
    object: ObjectName,
    query: ReadonlyMap<string, string>,
    request: RequestBodyStream,
    arrived: ArrivedRequest,
  ): Promise<Response> {
    const uploadId = uploadIdOf(query);
    const root = parseXml(await this.smallBody(caller, request, arrived));
    if (root === null || root.name !== "CompleteMultipartUpload") {
      throw new S3Failure("MalformedXML", "the XML you provided was not well-formed");
    }
    const parts = childrenNamed(root, "Part").map((part) => ({
      partNumber: partNumberOf(childText(part, "PartNumber") ?? undefined),
      md5: md5OfEtag(childText(part, "ETag")),
    }));
    if (parts.length === 0) {
      throw new S3Failure("MalformedXML", "a completion must name at least one part");
    }
    const md5 = new Bun.CryptoHasher("md5");
    for (const part of parts) md5.update(Buffer.from(part.md5, "hex"));
    const etagMd5 = md5.digest("hex");
    const precondition = await this.completionPrecondition(caller.uid, object, uploadId, arrived);
    const completed = await this.options.client.multipartComplete(
      caller.uid,
      object,
      uploadId,
      parts,
      etagMd5,
      precondition,
    );
    const response = xmlResponse(
      document("CompleteMultipartUploadResult", [
        el("Location", `/${object.bucket}/${urlEncodeKey(object.key)}`),
        el("Bucket", object.bucket),
        el("Key", object.key),
        el("ETag", `"${etagMd5}-${parts.length}"`),
      ]),
    );
    response.headers.set("x-amz-version-id", String(completed.version));
    return response;
  }

  /**
   * A completion's write precondition. One that no longer holds because this very upload was
   * completed (a retry whose first answer was lost) is none: the directory answers a completed
   * upload with what it made, as S3 does, and an id is never opened again, so nothing else can
   * complete under it.
   */
  private async completionPrecondition(
    uid: string,
    object: ObjectName,
    uploadId: string,
    arrived: ArrivedRequest,
  ): Promise<WritePrecondition | undefined> {
    try {
      return await this.writePrecondition(uid, object, arrived.headers);
    } catch (error) {
      if (!(error instanceof S3Failure && error.s3.code === "PreconditionFailed")) throw error;
      try {
        await this.options.client.multipartParts(uid, uploadId, 0, 1);
      } catch (asked) {
        if (asked instanceof FtfsError && asked.code === "NO_SUCH_UPLOAD") return undefined;
        throw asked;
      }
      throw error;
    }
  }

  private async listParts(
    uid: string,
    object: ObjectName,
    query: ReadonlyMap<string, string>,
  ): Promise<Response> {
    const uploadId = uploadIdOf(query);
    const maxParts = boundedCount(query.get("max-parts"), LIST_PARTS_MAX, "max-parts");
    const markerText = query.get("part-number-marker") ?? "0";
    if (!/^\d{1,5}$/.test(markerText)) {
      throw new S3Failure("InvalidArgument", "part-number-marker must be a part number");
    }
    const marker = Math.min(Number(markerText), MULTIPART_PARTS_MAX);
    const page = await this.options.client.multipartParts(
      uid,
      uploadId,
      marker,
      Math.max(1, maxParts),
    );
    const { bucket, key } = objectOfStoredName(page.name);
    if (bucket !== object.bucket || key !== object.key) {
      throw new S3Failure("NoSuchUpload", "that upload is of another key");
    }
    const parts = maxParts === 0 ? [] : page.parts;
    const last = parts.at(-1);
    return xmlResponse(
      document("ListPartsResult", [
        el("Bucket", object.bucket),
        el("Key", object.key),
        el("UploadId", uploadId),
        el("Initiator", [el("ID", uid), el("DisplayName", uid)]),
        el("Owner", [el("ID", uid), el("DisplayName", uid)]),
        el("StorageClass", "STANDARD"),
        el("PartNumberMarker", marker),
        el("NextPartNumberMarker", last?.partNumber ?? marker),
        el("MaxParts", maxParts),
        el("IsTruncated", maxParts === 0 ? page.parts.length > 0 : page.truncated),
        ...parts.map((part) =>
          el("Part", [
            el("PartNumber", part.partNumber),
            el("LastModified", isoTime(part.createdAtMs)),
            el("ETag", `"${part.md5}"`),
            el("Size", part.bytes),
          ]),
        ),
      ]),
    );
  }

  private async listMultipartUploads(
    uid: string,
    bucket: string,
    query: ReadonlyMap<string, string>,
  ): Promise<Response> {
    const prefix = query.get("prefix") ?? "";
    const delimiter = query.get("delimiter") ?? "";
    const maxUploads = boundedCount(query.get("max-uploads"), LIST_UPLOADS_MAX, "max-uploads");
    const urlEncoded = query.get("encoding-type") === "url";
    const keyMarker = query.get("key-marker") ?? "";
    const uploadIdMarker = query.get("upload-id-marker") ?? "";
    const shown = (text: string) => (urlEncoded ? urlEncodeKey(text) : text);
    const after: { key: string; uploadId?: string } | null =
      keyMarker === ""
        ? null
        : uploadIdMarker === ""
          ? {
              key:
                delimiter !== "" && keyMarker.endsWith(delimiter)
                  ? afterEveryKeyWith(keyMarker)
                  : keyMarker,
              uploadId: "\u{10FFFF}",
            }
          : { key: keyMarker, uploadId: uploadIdMarker };
    const walked = await walkListing<UploadEntry, { key: string; uploadId?: string }>({
      prefix,
      delimiter,
      max: maxUploads,
      pageMax: LIST_UPLOADS_MAX,
      start: after,
      positionOf: (upload) => ({ key: upload.key, uploadId: upload.uploadId }),
      afterPrefix: (common) => ({ key: afterEveryKeyWith(common) }),
      page: async (position, countMax) => {
        const page = await this.options.client.multipartList(uid, bucket, {
          prefix,
          after: position,
          countMax,
        });
        return { entries: page.uploads, truncated: page.truncated };
      },
    });
    const { truncated, last } = walked;
    const uploads = walked.entries.map((upload) =>
      el("Upload", [
        el("Key", shown(upload.key)),
        el("UploadId", upload.uploadId),
        el("Initiator", [el("ID", uid), el("DisplayName", uid)]),
        el("Owner", [el("ID", uid), el("DisplayName", uid)]),
        el("StorageClass", "STANDARD"),
        el("Initiated", isoTime(upload.initiatedAtMs)),
      ]),
    );
    const prefixes = walked.prefixes.map((common) =>
      el("CommonPrefixes", [el("Prefix", shown(common))]),
    );
    return xmlResponse(
      document("ListMultipartUploadsResult", [
        el("Bucket", bucket),
        el("KeyMarker", shown(keyMarker)),
        el("UploadIdMarker", uploadIdMarker),
        ...(truncated && last !== null
          ? [
              el("NextKeyMarker", shown(last.key)),
              el("NextUploadIdMarker", last.entry?.uploadId ?? ""),
            ]
          : []),
        ...(delimiter === "" ? [] : [el("Delimiter", shown(delimiter))]),
        el("Prefix", shown(prefix)),
        ...(urlEncoded ? [el("EncodingType", "url")] : []),
        el("MaxUploads", maxUploads),
        el("IsTruncated", truncated),
        ...uploads,
        ...prefixes,
      ]),
    );
  }

  /** CopyObject: the source's chunk list under the new key, with its or new metadata. */
  private async copyObject(
    uid: string,
    copySource: string,
    object: ObjectName,
    headers: ReadonlyMap<string, string>,
  ): Promise<Response> {
    const { object: from, version: fromVersion } = copySourceOf(copySource);
    const directive = headers.get("x-amz-metadata-directive") ?? "COPY";
    if (directive !== "COPY" && directive !== "REPLACE") {
      throw new S3Failure("InvalidArgument", "x-amz-metadata-directive must be COPY or REPLACE");
    }
    const onItself = from.bucket === object.bucket && from.key === object.key;
    if (directive === "COPY" && onItself && fromVersion === undefined) {
      throw new S3Failure(
        "InvalidRequest",
        "this copy request is illegal because it is trying to copy an object to itself without changing the object's metadata",
      );
    }
    const source = await versionRead(fromVersion, () =>
      this.options.client.objectManifest(uid, from, fromVersion),
    );
    const sourceState = { etag: manifestEtag(source), lastModifiedMs: source.createdAtMs };
    // A copy's conditions are on its source; any that does not hold fails it (412).
    if (
      evaluateConditions(readConditions(headers, "x-amz-copy-source-"), sourceState) !== "proceed"
    ) {
      throw new S3Failure(
        "PreconditionFailed",
        "at least one of the copy's preconditions did not hold",
      );
    }
    const meta = userMetadata(headers);
    const attrs: ObjectAttrs | undefined =
      directive === "COPY"
        ? undefined
        : {
            ...(source.attrs?.md5 === undefined ? {} : { md5: source.attrs.md5 }),
            contentType: headers.get("content-type") ?? "binary/octet-stream",
            ...(meta.length === 0 ? {} : { meta }),
          };
    const copied = await this.options.client.copyObject(uid, from, object, {
      version: source.version,
      ...(attrs === undefined ? {} : { attrs }),
    });
    const response = xmlResponse(
      document("CopyObjectResult", [
        el("ETag", manifestEtag(source)),
        el("LastModified", isoTime(copied.createdAtMs)),
      ]),
    );
    response.headers.set("x-amz-version-id", String(copied.version));
    response.headers.set("x-amz-copy-source-version-id", String(source.version));
    return response;
  }

  private async getObject(
    uid: string,
    object: ObjectName,
    version: number | undefined,
    arrived: ArrivedRequest,
    withBody: boolean,
  ): Promise<Response> {
    const location = await versionRead(version, () =>
      this.options.client.objectLocation(uid, object, version),
    );
    const manifest = location.manifest;
    const headers = objectHeaders(manifest);
    const condition = evaluateConditions(readConditions(arrived.headers, ""), {
      etag: manifestEtag(manifest),
      lastModifiedMs: manifest.createdAtMs,
    });
    if (condition === "failed") {
      throw new S3Failure("PreconditionFailed", "at least one of the preconditions did not hold");
    }
    if (condition === "not-modified") {
      return new Response(null, {
        status: 304,
        headers: {
          etag: manifestEtag(manifest),
          "last-modified": headers.get("last-modified") ?? "",
        },
      });
    }
    const range = parseRange(arrived.headers.get("range"), manifest.bytes);
    if (range === "unsatisfiable") {
      throw new S3Failure("InvalidRange", "the requested range is not satisfiable");
    }
    const start = range?.start ?? 0;
    const end = range === null ? manifest.bytes - 1 : range.end;
    headers.set("content-length", String(Math.max(0, end - start + 1)));
    if (range !== null) headers.set("content-range", `bytes ${start}-${end}/${manifest.bytes}`);
    const status = range === null ? 200 : 206;
    if (!withBody || manifest.bytes === 0) return new Response(null, { status, headers });
    const body = this.objectBody(uid, object, location, start, end);
    return new Response(body, { status, headers });
  }

  /**
   * The bytes [start, end] of one version of `bytes` bytes, leaving as chunks arrive (with
   * backpressure). A part of the object fetches only the chunks that hold it; the whole one
   * is also checked against its recorded digest at the end.
   */
  private objectBody(
    uid: string,
    object: ObjectName,
    location: ObjectLocation,
    start: number,
    end: number,
  ): ReadableStream<Uint8Array> {
    const client = this.options.client;
    const logger = this.options.logger;
    const whole = start === 0 && end === location.manifest.bytes - 1;
    const options = { location, ...(whole ? {} : { range: { start, end } }) };
    let pulled: (() => void) | null = null;
    let cancelled = false;
    const gone = new Error("the body's reader went away");
    return new ReadableStream<Uint8Array>(
      {
        start(controller) {
          const sink = async (chunk: Uint8Array) => {
            if (cancelled) throw gone;
            controller.enqueue(chunk);
            while ((controller.desiredSize ?? 1) <= 0) {
              await new Promise<void>((resolve) => {
                pulled = resolve;
              });
              if (cancelled) throw gone;
            }
          };
          client.getObject(uid, object, sink, options).then(
            () => controller.close(),
            (error: unknown) => {
              if (error === gone) return;
              // Headers are gone already: the client sees a short body and retries.
              logger.warn("S3 object read failed mid-body", { error: describeError(error) });
              controller.error(error);
            },
          );
        },
        pull() {
          pulled?.();
          pulled = null;
        },
        // The reader left (a client gone, a copy that failed): end the read behind it.
        cancel() {
          cancelled = true;
          pulled?.();
          pulled = null;
        },
      },
      { highWaterMark: 2 },
    );
  }

  private async deleteObject(
    uid: string,
    object: ObjectName,
    version: number | undefined,
  ): Promise<Response> {
    const deleted = await this.deleted(uid, object, version);
    const headers: Record<string, string> = {};
    if (deleted.version !== undefined) headers["x-amz-version-id"] = String(deleted.version);
    if (deleted.deleteMarker) headers["x-amz-delete-marker"] = "true";
    return new Response(null, { status: 204, headers });
  }

  /**
   * Delete a key (a delete marker where versioning is on), or one version or marker of it;
   * what is not there is deleted already, as S3 has it. Answers what S3 reports: the version
   * deleted (or the marker made), and whether it is a delete marker.
   */
  private async deleted(
    uid: string,
    object: ObjectName,
    version: number | undefined,
  ): Promise<{ version?: number; deleteMarker: boolean }> {
    const client = this.options.client;
    if (version !== undefined) {
      const answer = await client.deleteObjectVersion(uid, object, version);
      return { version, deleteMarker: answer.marker };
    }
    try {
      const answer = await client.deleteObject(uid, object);
      return answer.markerVersion === undefined
        ? { deleteMarker: false }
        : { version: answer.markerVersion, deleteMarker: true };
    } catch (error) {
      if (!(error instanceof FtfsError && error.code === "NOT_FOUND")) throw error;
      return { deleteMarker: false };
    }
  }

  /** DeleteObjects: up to 1,000 keys named in XML, each deleted and reported on its own. */
  private async deleteObjects(
    caller: Caller,
    bucket: string,
    request: RequestBodyStream,
    arrived: ArrivedRequest,
  ): Promise<Response> {
    const text = await this.smallBody(caller, request, arrived);
    const root = parseXml(text);
    if (root === null || root.name !== "Delete") {
      throw new S3Failure("MalformedXML", "the XML you provided was not well-formed");
    }
    const objects = childrenNamed(root, "Object");
    if (objects.length === 0 || objects.length > DELETE_OBJECTS_MAX) {
      throw new S3Failure(
        "MalformedXML",
        `a DeleteObjects request names 1 to ${DELETE_OBJECTS_MAX} keys`,
      );
    }
    const quiet = childText(root, "Quiet") === "true";
    const results: string[] = [];
    for (const entry of objects) {
      const key = childText(entry, "Key") ?? "";
      try {
        const versionText = childText(entry, "VersionId");
        const version = versionText === null ? undefined : versionNumberOf(versionText);
        const deleted = await this.deleted(caller.uid, objectName(bucket, key), version);
        const named = version === undefined ? [] : [el("VersionId", String(version))];
        const marker =
          deleted.deleteMarker && deleted.version !== undefined
            ? [
                el("DeleteMarker", true),
                ...(version === undefined
                  ? [el("DeleteMarkerVersionId", String(deleted.version))]
                  : []),
              ]
            : [];
        if (!quiet) results.push(el("Deleted", [el("Key", key), ...named, ...marker]));
      } catch (error) {
        const s3 = this.s3ErrorOf(error);
        results.push(el("Error", [el("Key", key), el("Code", s3.code), el("Message", s3.message)]));
      }
    }
    return xmlResponse(document("DeleteResult", results));
  }

  /** A small request body (XML), bounded, checked against what the client signed or sent. */
  private async smallBody(
    caller: Caller,
    request: RequestBodyStream,
    arrived: ArrivedRequest,
  ): Promise<string> {
    const parts: Uint8Array[] = [];
    let bytes = 0;
    const reader = request.stream().getReader();
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      bytes += next.value.length;
      if (bytes > XML_BODY_BYTES_MAX) {
        await reader.cancel();
        throw new S3Failure(
          "MalformedXML",
          `the request body is larger than ${XML_BODY_BYTES_MAX} bytes`,
        );
      }
      parts.push(next.value);
    }
    const body = Buffer.concat(parts);
    if (/^[0-9a-f]{64}$/.test(caller.payloadHash)) {
      const sha256 = new Bun.CryptoHasher("sha256").update(body).digest("hex");
      if (sha256 !== caller.payloadHash) {
        throw new S3Failure(
          "XAmzContentSHA256Mismatch",
          "the body's SHA-256 is not the one signed",
        );
      }
    }
    const contentMd5 = arrived.headers.get("content-md5");
    if (contentMd5 !== undefined) {
      const md5 = new Bun.CryptoHasher("md5").update(body).digest("hex");
      if (md5 !== md5HexOfHeader(contentMd5)) {
        throw new S3Failure(
          "BadDigest",
          "the Content-MD5 you specified did not match what we received",
        );
      }
    }
    return new TextDecoder().decode(body);
  }

  private s3ErrorOf(error: unknown): S3Error {
    if (error instanceof S3Failure) return error.s3;
    if (!(error instanceof FtfsError))
      return s3Error("InternalError", "we encountered an internal error; retry");
    const { code, message } = error;
    switch (code) {
      case "NO_SUCH_BUCKET":
        return s3Error("NoSuchBucket", message);
      case "NOT_FOUND":
        return s3Error("NoSuchKey", "the specified key does not exist");
      case "BUCKET_NOT_EMPTY":
        return s3Error("BucketNotEmpty", message);
      case "NO_SUCH_UPLOAD":
        return s3Error("NoSuchUpload", "the specified multipart upload does not exist");
      case "PRECONDITION_FAILED":
        return s3Error("PreconditionFailed", message);
      case "INVALID_PART":
        return s3Error("InvalidPart", message);
      case "INVALID_PART_ORDER":
        return s3Error("InvalidPartOrder", message);
      case "PART_TOO_SMALL":
        return s3Error("EntityTooSmall", message);
      case "INVALID_NAME":
        return s3Error("InvalidArgument", message);
      case "QUOTA_EXCEEDED":
        return s3Error("QuotaExceeded", message);
      case "FORBIDDEN":
        return s3Error("AccessDenied", message);
      case "BAD_REQUEST":
      case "LOCAL_FILE":
        return s3Error("IncompleteBody", message);
      case "UPLOAD_EXPIRED":
        return s3Error("ServiceUnavailable", `${message}; retry`);
      default:
        return isRetryable(code)
          ? s3Error("ServiceUnavailable", "the cluster is busy or failing over; retry")
          : s3Error("InternalError", "we encountered an internal error; retry");
    }
  }
}

const STREAMING_PAYLOADS: ReadonlySet<string> = new Set([
  STREAMING_SIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_PAYLOAD_TRAILER,
]);

/** The checksums a body may carry (x-amz-checksum-<name>), each computed as it streams. */
const BODY_CHECKSUMS = ["crc32", "crc32c", "sha1", "sha256"] as const;
type BodyChecksum = (typeof BODY_CHECKSUMS)[number];
/** x-amz-checksum-* headers that say how, not what: never a value to check. */
const CHECKSUM_SETTING_HEADERS = new Set([
  "x-amz-checksum-algorithm",
  "x-amz-checksum-type",
  "x-amz-checksum-mode",
]);

function checksumName(header: string): BodyChecksum {
  const name = header.slice("x-amz-checksum-".length);
  const known = BODY_CHECKSUMS.find((candidate) => candidate === name);
  if (known === undefined) {
    throw new S3Failure(
      "InvalidRequest",
      `the checksum ${header} is not supported; use crc32, crc32c, sha1 or sha256`,
    );
  }
  return known;
}

/**
 * The checksums a body declares, in headers (known now) and in aws-chunked trailers (named now
 * by x-amz-trailer, their values known at the end): every one is checked, none ignored.
 */
function declaredChecksums(headers: ReadonlyMap<string, string>): {
  readonly inHeaders: ReadonlyMap<BodyChecksum, string>;
  readonly inTrailers: ReadonlySet<BodyChecksum>;
} {
  const inHeaders = new Map<BodyChecksum, string>();
  for (const [name, value] of headers) {
    if (!name.startsWith("x-amz-checksum-") || CHECKSUM_SETTING_HEADERS.has(name)) continue;
    inHeaders.set(checksumName(name), value.trim());
  }
  const inTrailers = new Set<BodyChecksum>();
  for (const name of (headers.get("x-amz-trailer") ?? "").split(",")) {
    const trimmed = name.trim().toLowerCase();
    if (trimmed.startsWith("x-amz-checksum-")) inTrailers.add(checksumName(trimmed));
  }
  return { inHeaders, inTrailers };
}

/** The named checksums of the bytes that pass through, as S3 writes them (base64). */
function checksumTap(names: ReadonlySet<BodyChecksum>): {
  tap: TransformStream<Uint8Array, Uint8Array>;
  values: (sha256Hex: string) => Map<BodyChecksum, string>;
} {
  const crc32 = names.has("crc32") ? new Crc("crc32") : null;
  const crc32c = names.has("crc32c") ? new Crc("crc32c") : null;
  const sha1 = names.has("sha1") ? new Bun.CryptoHasher("sha1") : null;
  const tap = new TransformStream<Uint8Array, Uint8Array>({
    transform(bytes, controller) {
      crc32?.update(bytes);
      crc32c?.update(bytes);
      sha1?.update(bytes);
      controller.enqueue(bytes);
    },
  });
  const values = (sha256Hex: string) => {
    const out = new Map<BodyChecksum, string>();
    if (crc32 !== null) out.set("crc32", crc32.base64());
    if (crc32c !== null) out.set("crc32c", crc32c.base64());
    if (sha1 !== null) out.set("sha1", sha1.digest("base64"));
    out.set("sha256", Buffer.from(sha256Hex, "hex").toString("base64"));
    return out;
  };
  return { tap, values };
}

/**
 * A body as the object's bytes: an aws-chunked one decoded as it arrives (signed chunks
 * checked link by link), and every checksum it declares, in headers or trailers, compared
 * with the bytes once all came.
 */
function decodedBody(
  raw: ReadableStream<Uint8Array>,
  caller: Caller,
  headers: ReadonlyMap<string, string>,
): { stream: ReadableStream<Uint8Array>; checksums: (digests: StreamDigests) => void } {
  const chunked = STREAMING_PAYLOADS.has(caller.payloadHash);
  const declared = declaredChecksums(headers);
  const { tap, values } = checksumTap(
    new Set([...declared.inHeaders.keys(), ...declared.inTrailers]),
  );
  let trailers = (): ReadonlyMap<string, string> => new Map();
  let bytes = raw;
  if (chunked) {
    const signed = caller.payloadHash !== STREAMING_UNSIGNED_PAYLOAD_TRAILER;
    const decoder = new AwsChunkedDecoder({
      signed: signed ? caller.signature : null,
      hashes: NODE_HASHES,
      trailer: caller.payloadHash !== STREAMING_SIGNED_PAYLOAD,
    });
    trailers = () => trailerValues(decoder.trailers);
    bytes = raw.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          const out = decoder.push(chunk);
          if (!Array.isArray(out)) throw new S3Failure(out.code, out.message);
          for (const part of out) controller.enqueue(part);
        },
        flush() {
          const ended = decoder.end();
          if (ended !== null) throw new S3Failure(ended.code, ended.message);
        },
      }),
    );
  }
  const checksums = (digests: StreamDigests) => {
    const computed = values(digests.sha256Hex);
    const expected = new Map(declared.inHeaders);
    for (const [name, value] of trailers()) {
      if (name.startsWith("x-amz-checksum-")) expected.set(checksumName(name), value);
    }
    for (const name of declared.inTrailers) {
      if (!expected.has(name)) {
        throw new S3Failure("IncompleteBody", `the trailer x-amz-checksum-${name} never came`);
      }
    }
    for (const [name, value] of expected) {
      if (computed.get(name) !== value) {
        throw new S3Failure("BadDigest", `the x-amz-checksum-${name} sent does not match the body`);
      }
    }
  };
  return { stream: bytes.pipeThrough(tap), checksums };
}

/**
 * A request body as a web stream that reads the socket only as fast as it is consumed, so an
 * upload never holds more than the chunks in flight (the socket's window throttles the sender).
 */
function pulledStream(incoming: IncomingMessage): ReadableStream<Uint8Array> {
  const iterator = incoming[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await iterator.next();
        if (next.done === true) controller.close();
        else
          controller.enqueue(
            new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.length),
          );
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/** The request as SigV4 must see it: the target exactly as sent, headers by lower name. */
function arrivedRequest(incoming: IncomingMessage): ArrivedRequest {
  const target = incoming.url ?? "/";
  const question = target.indexOf("?");
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    headers.set(name.toLowerCase(), Array.isArray(value) ? value.join(",") : value);
  }
  return {
    method: incoming.method ?? "GET",
    rawPath: question < 0 ? target : target.slice(0, question),
    rawQuery: question < 0 ? "" : target.slice(question + 1),
    headers,
  };
}

type UploadEntry = ResponseBody<"multipartList">["uploads"][number];

/**
 * S3's listing walk, one for objects and uploads alike: pages of entries in key order, each
 * key under a delimiter rolled into its common prefix (counted once), until `max` are
 * counted. One more than fits is asked for: whether anything follows decides IsTruncated.
 * `after` is where a next page would start; `last` the last listed (a prefix: entry null).
 */
async function walkListing<T extends { readonly key: string }, P>(spec: {
  readonly prefix: string;
  readonly delimiter: string;
  readonly max: number;
  readonly pageMax: number;
  readonly start: P | null;
  readonly positionOf: (entry: T) => P;
  readonly afterPrefix: (common: string) => P;
  readonly page: (
    after: P | null,
    countMax: number,
  ) => Promise<{ readonly entries: readonly T[]; readonly truncated: boolean }>;
}): Promise<{
  entries: T[];
  prefixes: string[];
  count: number;
  truncated: boolean;
  after: P | null;
  last: { key: string; entry: T | null } | null;
}> {
  const entries: T[] = [];
  const prefixes: string[] = [];
  let count = 0;
  let after = spec.start;
  let truncated = false;
  let last: { key: string; entry: T | null } | null = null;
  fill: for (;;) {
    const page = await spec.page(after, Math.min(spec.pageMax, spec.max - count + 1));
    for (const entry of page.entries) {
      if (count >= spec.max) {
        truncated = true;
        break fill;
      }
      count += 1;
      const common = commonPrefixOf(entry.key, spec.prefix, spec.delimiter);
      if (common !== null) {
        prefixes.push(common);
        last = { key: common, entry: null };
        after = spec.afterPrefix(common);
        continue fill;
      }
      entries.push(entry);
      last = { key: entry.key, entry };
      after = spec.positionOf(entry);
    }
    if (!page.truncated) break;
  }
  return { entries, prefixes, count, truncated, after, last };
}

/** Where a listing of versions stands: after this version of this key (0: after every one). */
interface VersionPosition {
  readonly key: string;
  readonly version: number;
}

/** x-amz-copy-source: "bucket/key" (URL-encoded, a leading '/' allowed), "?versionId=N". */
function copySourceOf(copySource: string): { object: ObjectName; version: number | undefined } {
  const question = copySource.indexOf("?");
  const path = question < 0 ? copySource : copySource.slice(0, question);
  let version: number | undefined;
  if (question >= 0) {
    const query = new URLSearchParams(copySource.slice(question + 1));
    const versionId = query.get("versionId");
    if (versionId === null || [...query.keys()].length !== 1) {
      throw new S3Failure("InvalidArgument", "x-amz-copy-source may name only a versionId");
    }
    version = versionNumberOf(versionId);
  }
  const decoded = safeDecodeURIComponent(path).replace(/^\//, "");
  const slash = decoded.indexOf("/");
  if (slash < 0) throw new S3Failure("InvalidArgument", "x-amz-copy-source must be bucket/key");
  return { object: objectName(decoded.slice(0, slash), decoded.slice(slash + 1)), version };
}

/** Version ids are FTFS's version numbers, in decimal. */
function versionNumberOf(versionId: string): number {
  if (!/^[1-9]\d{0,14}$/.test(versionId)) {
    throw new S3Failure("InvalidArgument", "invalid version id specified");
  }
  return Number(versionId);
}

/** The versionId a request names, if any. */
function versionIdOf(query: ReadonlyMap<string, string>): number | undefined {
  const versionId = query.get("versionId");
  return versionId === undefined ? undefined : versionNumberOf(versionId);
}

/**
 * A read of one version: one that is not there is S3's NoSuchVersion, one that is a delete
 * marker its MethodNotAllowed with x-amz-delete-marker (S3's answers to a named version).
 */
async function versionRead<T>(version: number | undefined, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (version === undefined || !(error instanceof FtfsError) || error.code !== "NOT_FOUND") {
      throw error;
    }
    if (error.hint?.deleteMarker === true) {
      throw new S3Failure("MethodNotAllowed", "the specified version is a delete marker", {
        "x-amz-delete-marker": "true",
        "x-amz-version-id": String(version),
      });
    }
    throw new S3Failure("NoSuchVersion", "the specified version does not exist");
  }
}

/** The conditional headers, plain or with a prefix (a copy's "x-amz-copy-source-"). */
function readConditions(headers: ReadonlyMap<string, string>, prefix: string): ConditionHeaders {
  return {
    ifMatch: headers.get(`${prefix}if-match`),
    ifNoneMatch: headers.get(`${prefix}if-none-match`),
    ifModifiedSince: headers.get(`${prefix}if-modified-since`),
    ifUnmodifiedSince: headers.get(`${prefix}if-unmodified-since`),
  };
}

function uploadIdOf(query: ReadonlyMap<string, string>): string {
  const uploadId = query.get("uploadId") ?? "";
  if (!validateMultipartUploadId(uploadId).ok) {
    throw new S3Failure("NoSuchUpload", "the specified multipart upload does not exist");
  }
  return uploadId;
}

function partNumberOf(text: string | undefined): number {
  const partNumber = Number(text ?? "");
  if (!/^\d{1,5}$/.test(text ?? "") || partNumber < 1 || partNumber > MULTIPART_PARTS_MAX) {
    throw new S3Failure(
      "InvalidArgument",
      `part numbers must be integers from 1 to ${MULTIPART_PARTS_MAX}`,
    );
  }
  return partNumber;
}

/** A part's ETag as a completion names it: its MD5 in hex, quoted or not. */
function md5OfEtag(etag: string | null): string {
  const md5 = (etag ?? "").trim().replace(/^"|"$/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(md5)) {
    throw new S3Failure("InvalidPart", "one of the parts' ETags is not one this gateway gave");
  }
  return md5;
}

/** A max-keys style count: absent, the most; over the most, the most. */
function boundedCount(text: string | undefined, most: number, what: string): number {
  if (text === undefined) return most;
  if (!/^\d{1,7}$/.test(text)) {
    throw new S3Failure("InvalidArgument", `${what} must be a non-negative integer`);
  }
  return Math.min(Number(text), most);
}

function safeDecodeURIComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Failure("InvalidArgument", "x-amz-copy-source is not valid URL encoding");
  }
}

function requireBucket(bucket: string | null): string {
  const valid = validateBucketName(bucket ?? "");
  if (!valid.ok) throw new S3Failure("InvalidBucketName", valid.error.message);
  return valid.value;
}

function objectName(bucket: string | null, key: string | null): ObjectName {
  const name = requireBucket(bucket);
  const valid = validateObjectKey(key ?? "");
  if (!valid.ok) {
    const code = valid.error.message.includes("longer") ? "KeyTooLongError" : "InvalidArgument";
    throw new S3Failure(code, valid.error.message);
  }
  return { bucket: name, key: valid.value };
}

function xmlResponse(body: string): Response {
  return new Response(body, { status: 200, headers: { "content-type": "application/xml" } });
}

function isoTime(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/**
 * An object's ETag: the MD5 of its bytes; for one joined from N parts, the MD5 of the parts'
 * MD5s and "-N" (as S3's); a file `ftfs` stored has its SHA-256 instead.
 */
function etagOf(object: {
  readonly sha256: string;
  readonly md5?: string | undefined;
  readonly parts?: number | undefined;
}): string {
  if (object.md5 === undefined) return `"${object.sha256}"`;
  return object.parts === undefined ? `"${object.md5}"` : `"${object.md5}-${object.parts}"`;
}

function manifestEtag(manifest: Manifest): string {
  return etagOf({
    sha256: manifest.sha256,
    md5: manifest.attrs?.md5,
    parts: manifest.attrs?.parts,
  });
}

function objectHeaders(manifest: Manifest): Headers {
  const headers = new Headers({
    etag: manifestEtag(manifest),
    "x-amz-version-id": String(manifest.version),
    "last-modified": new Date(manifest.createdAtMs).toUTCString(),
    "content-type": manifest.attrs?.contentType ?? "binary/octet-stream",
    "accept-ranges": "bytes",
  });
  for (const { name, value } of manifest.attrs?.meta ?? [])
    headers.set(`x-amz-meta-${name}`, value);
  return headers;
}

/** x-amz-meta-* headers, bounded as S3 bounds them (2 KB in all). */
function userMetadata(
  headers: ReadonlyMap<string, string>,
): Array<{ name: string; value: string }> {
  const meta: Array<{ name: string; value: string }> = [];
  let bytes = 0;
  for (const [name, value] of headers) {
    if (!name.startsWith("x-amz-meta-")) continue;
    const short = name.slice("x-amz-meta-".length);
    bytes += short.length + value.length;
    meta.push({ name: short, value });
  }
  if (bytes > OBJECT_META_BYTES_MAX || meta.length > OBJECT_META_ENTRIES_MAX) {
    throw new S3Failure(
      "InvalidArgument",
      `user metadata is limited to ${OBJECT_META_BYTES_MAX} bytes`,
    );
  }
  return meta.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function md5HexOfHeader(contentMd5: string): string {
  const bytes = Buffer.from(contentMd5, "base64");
  if (bytes.length !== 16)
    throw new S3Failure("InvalidDigest", "the Content-MD5 you specified is not valid");
  return bytes.toString("hex");
}
