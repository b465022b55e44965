/**
 * AWS Signature Version 4 as S3 uses it, checked by the gateway, with no I/O: the request's
 * canonical form, the string to sign, the signing key, and the checks around them (scope,
 * clock skew, presigned expiry). Both ways S3 clients sign are covered: the Authorization
 * header and a presigned URL's query. Streaming uploads (aws-chunked) chain one signature per
 * chunk from the request's ("seed") signature: chunkSignature() gives the next link.
 *
 * The gateway is the judge of a signature it did not make, so everything a client signed is
 * rebuilt from what arrived (the path and query as sent, the headers the client named) and the
 * signature compared in constant time. Hash primitives come from the io layer (Hashes).
 */

import { utcMs } from "./dates.ts";
import {
  constantTimeEqual,
  EMPTY_PAYLOAD_SHA256,
  parseQuery,
  SIGV4_ALGORITHM,
  type SigV4Request,
  sigV4CanonicalRequest,
  sigV4CredentialScope,
  sigV4RequestSignature,
  sigV4SigningKey,
  UNSIGNED_PAYLOAD,
  utf8,
  type Hashes,
} from "@ftfs/protocol/core";
import { s3Fail, s3Ok, type S3Result } from "./s3-error.ts";

const CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD";
/** What a signed aws-chunked body's trailing headers are signed as (trailerSignature). */
const TRAILER_ALGORITHM = "AWS4-HMAC-SHA256-TRAILER";
/** What a credential's scope ends with: /s3/aws4_request (sigV4CredentialScope). */
const SCOPE_SERVICE = "s3";
const SCOPE_TERMINATOR = "aws4_request";
/** A body sent as aws-chunked, each chunk signed in a chain from the request's signature. */
export const STREAMING_SIGNED_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/** As above, with trailing headers (checksums) after the last chunk. */
export const STREAMING_SIGNED_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/** aws-chunked without chunk signatures, checksums in trailers (SDKs' default over TLS). */
export const STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/** S3 refuses a request signed more than this far from its own clock (either way). */
export const SIGV4_CLOCK_SKEW_MS_MAX = 15 * 60_000;
/** A presigned URL lives at most a week (S3's limit), at least a second. */
export const PRESIGNED_EXPIRES_SECONDS_MAX = 7 * 24 * 60 * 60;
/** Bounds on what a hostile request can make us parse. */
const SIGNED_HEADERS_MAX = 64;
const ACCESS_KEY_ID_CHARS_MAX = 128;

/** A request as it arrived: method, path and query exactly as sent, headers by lower name. */
export type ArrivedRequest = SigV4Request;

/** What a request claims about its signature, before it is checked. */
export interface SignatureClaim {
  readonly accessKeyId: string;
  /** YYYYMMDD of the credential scope. */
  readonly scopeDate: string;
  readonly region: string;
  /** x-amz-date (a header, or a presigned URL's parameter): YYYYMMDD'T'HHMMSS'Z'. */
  readonly amzDate: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  /** The payload hash the signature covers: a hex SHA-256 or one of the named forms. */
  readonly payloadHash: string;
  /** Set for a presigned URL: seconds it is valid from amzDate. */
  readonly expiresSeconds: number | null;
}

/** A checked signature: the key that made it, to verify chunk signatures in the same chain. */
export interface VerifiedSignature {
  readonly claim: SignatureClaim;
  readonly signingKey: Uint8Array;
}

/**
 * Reads the request's signature claim: from the Authorization header, or from a presigned
 * URL's query; null when the request carries neither (an anonymous request).
 */
export function readSignatureClaim(request: ArrivedRequest): S3Result<SignatureClaim | null> {
  const authorization = request.headers.get("authorization");
  const query = parseQuery(request.rawQuery);
  const presigned = query.some(([key]) => key.toLowerCase() === "x-amz-algorithm");
  if (authorization !== undefined && presigned) {
    return s3Fail(
      "InvalidArgument",
      "a request may carry an Authorization header or a presigned query, not both",
    );
  }
  if (authorization !== undefined) return claimFromHeader(authorization, request.headers);
  if (presigned) return claimFromQuery(query);
  return s3Ok(null);
}

function claimFromHeader(
  authorization: string,
  headers: ReadonlyMap<string, string>,
): S3Result<SignatureClaim> {
  const malformed = (why: string) =>
    s3Fail("AuthorizationHeaderMalformed", `the Authorization header is malformed: ${why}`);
  const space = authorization.indexOf(" ");
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    return s3Fail(
      "InvalidArgument",
      `unsupported signature algorithm '${algorithm.slice(0, 40)}'; sign with ${SIGV4_ALGORITHM}`,
    );
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(",")) {
    const equals = part.indexOf("=");
    if (equals < 0) return malformed(`'${part.trim().slice(0, 40)}' is not name=value`);
    fields.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    return malformed("it needs Credential, SignedHeaders and Signature");
  }
  const amzDate = headers.get("x-amz-date");
  if (amzDate === undefined) {
    return s3Fail("AccessDenied", "a signed request needs an x-amz-date header");
  }
  const payloadHash = headers.get("x-amz-content-sha256");
  if (payloadHash === undefined) {
    return s3Fail("MissingSecurityHeader", "a signed request needs an x-amz-content-sha256 header");
  }
  return buildClaim(credential, signedHeaders, signature, amzDate, payloadHash, null, malformed);
}

function claimFromQuery(query: ReadonlyArray<readonly [string, string]>): S3Result<SignatureClaim> {
  // Compared in lower case: clients send X-Amz-Credential and friends capitalized.
  const value = (key: string) => query.find(([name]) => name.toLowerCase() === key)?.[1];
  const malformed = (why: string) =>
    s3Fail("AuthorizationQueryParametersError", `the presigned URL is malformed: ${why}`);
  if (value("x-amz-algorithm") !== SIGV4_ALGORITHM) {
    return malformed(`X-Amz-Algorithm must be ${SIGV4_ALGORITHM}`);
  }
  const credential = value("x-amz-credential");
  const signedHeaders = value("x-amz-signedheaders");
  const signature = value("x-amz-signature");
  const amzDate = value("x-amz-date");
  const expires = value("x-amz-expires");
  if (
    credential === undefined ||
    signedHeaders === undefined ||
    signature === undefined ||
    amzDate === undefined ||
    expires === undefined
  ) {
    return malformed(
      "it needs X-Amz-Credential, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature and x-amz-date",
    );
  }
  if (!/^[0-9]{1,7}$/.test(expires)) return malformed("X-Amz-Expires must be a number of seconds");
  const expiresSeconds = Number(expires);
  if (expiresSeconds < 1 || expiresSeconds > PRESIGNED_EXPIRES_SECONDS_MAX) {
    return malformed(`X-Amz-Expires must be 1 to ${PRESIGNED_EXPIRES_SECONDS_MAX} seconds`);
  }
  return buildClaim(
    credential,
    signedHeaders,
    signature,
    amzDate,
    UNSIGNED_PAYLOAD,
    expiresSeconds,
    malformed,
  );
}

function buildClaim(
  credential: string,
  signedHeaderList: string,
  signature: string,
  amzDate: string,
  payloadHash: string,
  expiresSeconds: number | null,
  malformed: (why: string) => S3Result<never>,
): S3Result<SignatureClaim> {
  // Credential = <key id>/<YYYYMMDD>/<region>/s3/aws4_request; a key id has no slash.
  const parts = credential.split("/");
  if (parts.length !== 5)
    return malformed("Credential must be <key>/<date>/<region>/s3/aws4_request");
  const [accessKeyId = "", scopeDate = "", region = "", service, terminator] = parts;
  if (accessKeyId === "" || accessKeyId.length > ACCESS_KEY_ID_CHARS_MAX) {
    return malformed("the access key id is empty or too long");
  }
  if (!/^[0-9]{8}$/.test(scopeDate)) return malformed("the credential's date must be YYYYMMDD");
  if (service !== SCOPE_SERVICE || terminator !== SCOPE_TERMINATOR) {
    return malformed(`the credential's scope must end in /${SCOPE_SERVICE}/${SCOPE_TERMINATOR}`);
  }
  if (region === "") return malformed("the credential names no region");
  if (amzDateMs(amzDate) === null) return malformed("x-amz-date must be YYYYMMDD'T'HHMMSS'Z'");
  if (amzDate.slice(0, 8) !== scopeDate) {
    return malformed("the credential's date is not the request's date");
  }
  const signedHeaders = signedHeaderList.split(";");
  if (
    signedHeaders.length > SIGNED_HEADERS_MAX ||
    signedHeaders.some((name) => !/^[a-z0-9-]+$/.test(name))
  ) {
    return malformed("SignedHeaders must be lowercase header names separated by ';'");
  }
  if (!signedHeaders.includes("host")) return malformed("the host header must be signed");
  if (!/^[0-9a-f]{64}$/.test(signature)) return malformed("the signature must be 64 hex digits");
  return s3Ok({
    accessKeyId,
    scopeDate,
    region,
    amzDate,
    signedHeaders,
    signature,
    payloadHash,
    expiresSeconds,
  });
}

export interface VerifyOptions {
  /** The secret of claim.accessKeyId (the caller looked it up). */
  readonly secret: string;
  /** The region this gateway answers for; a request signed for another is refused. */
  readonly region: string;
  readonly nowMs: number;
  readonly hashes: Hashes;
}

/** Checks the claim's time, scope and signature against the request as it arrived. */
export function verifySignature(
  request: ArrivedRequest,
  claim: SignatureClaim,
  options: VerifyOptions,
): S3Result<VerifiedSignature> {
  if (claim.region !== options.region) {
    return s3Fail(
      "AuthorizationHeaderMalformed",
      `the request is signed for region '${claim.region}'; this endpoint is '${options.region}'`,
    );
  }
  const signedAtMs = amzDateMs(claim.amzDate) ?? Number.NaN;
  if (claim.expiresSeconds === null) {
    if (Math.abs(options.nowMs - signedAtMs) > SIGV4_CLOCK_SKEW_MS_MAX) {
      return s3Fail(
        "RequestTimeTooSkewed",
        "the request's time (x-amz-date) is more than 15 minutes from the server's; check the clock",
      );
    }
  } else {
    if (signedAtMs - options.nowMs > SIGV4_CLOCK_SKEW_MS_MAX) {
      return s3Fail("AccessDenied", "the presigned URL is dated in the future; check the clock");
    }
    if (options.nowMs > signedAtMs + claim.expiresSeconds * 1000) {
      return s3Fail("AccessDenied", "the presigned URL has expired");
    }
  }
  for (const name of claim.signedHeaders) {
    if (!request.headers.has(name)) {
      return s3Fail("AccessDenied", `the signed header '${name}' is missing from the request`);
    }
  }
  const { hashes } = options;
  const canonical = sigV4CanonicalRequest(request, {
    signedHeaders: claim.signedHeaders,
    payloadHash: claim.payloadHash,
    presigned: claim.expiresSeconds !== null,
  });
  const signingKey = sigV4SigningKey(options.secret, claim.scopeDate, claim.region, hashes);
  const expected = sigV4RequestSignature(
    signingKey,
    claim.amzDate,
    credentialScope(claim),
    canonical,
    hashes,
  );
  if (!constantTimeEqual(utf8(expected), utf8(claim.signature))) {
    return s3Fail(
      "SignatureDoesNotMatch",
      "the request signature we calculated does not match the signature you provided; check the secret key and signing method",
    );
  }
  return s3Ok({ claim, signingKey });
}

/**
 * The signature of one aws-chunked chunk: it signs the previous link of the chain (the request's
 * signature for the first chunk) and the chunk's bytes' SHA-256 (hex); the final, empty chunk
 * signs the hash of nothing.
 */
export function chunkSignature(
  verified: VerifiedSignature,
  previousSignature: string,
  chunkSha256Hex: string,
  hashes: Hashes,
): string {
  const stringToSign = [
    CHUNK_ALGORITHM,
    verified.claim.amzDate,
    credentialScope(verified.claim),
    previousSignature,
    EMPTY_PAYLOAD_SHA256,
    chunkSha256Hex,
  ].join("\n");
  return toHex(hashes.hmacSha256(verified.signingKey, utf8(stringToSign)));
}

/**
 * The signature of a signed aws-chunked body's trailing headers: it signs the final chunk's
 * signature and the SHA-256 (hex) of the trailers as `name:value\n` lines, names lowercased
 * and sorted, the signature's own line left out.
 */
export function trailerSignature(
  verified: VerifiedSignature,
  finalChunkSignature: string,
  trailers: ReadonlyMap<string, string>,
  hashes: Hashes,
): string {
  const canonical = [...trailers]
    .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
    .map(([name, value]) => `${name}:${value}\n`)
    .join("");
  const stringToSign = [
    TRAILER_ALGORITHM,
    verified.claim.amzDate,
    credentialScope(verified.claim),
    finalChunkSignature,
    toHex(hashes.sha256(utf8(canonical))),
  ].join("\n");
  return toHex(hashes.hmacSha256(verified.signingKey, utf8(stringToSign)));
}

function credentialScope(claim: SignatureClaim): string {
  return sigV4CredentialScope(claim.scopeDate, claim.region);
}

function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** x-amz-date (YYYYMMDD'T'HHMMSS'Z', UTC) as epoch milliseconds; null if it is not one. */
export function amzDateMs(amzDate: string): number | null {
  const match = /^([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z$/.exec(amzDate);
  if (match === null) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  return utcMs(year, month, day, hour, minute, second);
}

export { EMPTY_PAYLOAD_SHA256, SIGV4_ALGORITHM, UNSIGNED_PAYLOAD };
