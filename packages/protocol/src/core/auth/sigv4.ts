/**
 * AWS Signature Version 4 as S3 uses it, pure: a request's canonical form, the string to sign,
 * the signing key, and a whole request signed in the Authorization header. The S3 gateway
 * checks what clients signed with these (apps/s3, which adds the claims, the clock and the
 * errors around them); bench and tests sign with signSigV4 where a full SDK would cost more
 * than the thing being measured. Hash primitives come from the io layer (Hashes).
 */

import { type Hashes, utf8 } from "./bytes.ts";

export const SIGV4_ALGORITHM = "AWS4-HMAC-SHA256";
const SIGV4_SERVICE = "s3";
const SIGV4_SCOPE_TERMINATOR = "aws4_request";
/** The payload hash of a body the signature does not cover. */
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
/** SHA-256 of no bytes: the payload hash of a request without a body. */
export const EMPTY_PAYLOAD_SHA256 =
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** A request as signed: method, path and query exactly as sent, headers by lower name. */
export interface SigV4Request {
  readonly method: string;
  /** The path as sent, still percent-encoded, without the query. */
  readonly rawPath: string;
  /** The query as sent, without the `?`. */
  readonly rawQuery: string;
  /** Lowercase header names; a header sent more than once, its values joined by ",". */
  readonly headers: ReadonlyMap<string, string>;
}

/** What a signature covers besides the request: its headers, its payload, its form. */
export interface SigV4Coverage {
  readonly signedHeaders: readonly string[];
  /** A hex SHA-256 of the body, or one of the named forms (UNSIGNED_PAYLOAD, streaming). */
  readonly payloadHash: string;
  /** A presigned URL's query carries the signature, which is then not part of what it signs. */
  readonly presigned: boolean;
}

/** The canonical request: what the client hashed and signed. */
export function sigV4CanonicalRequest(request: SigV4Request, coverage: SigV4Coverage): string {
  const query = parseQuery(request.rawQuery)
    .filter(([key]) => !(coverage.presigned && key.toLowerCase() === "x-amz-signature"))
    .map(([key, value]) => [uriEncode(key), uriEncode(value)] as const)
    .sort(([a, x], [b, y]) => compareAscii(a, b) || compareAscii(x, y))
    .map(([key, value]) => `${key}=${value}`)
    .join("&");
  const signed = [...coverage.signedHeaders].sort(compareAscii);
  const headers = signed
    .map((name) => `${name}:${canonicalHeaderValue(request.headers.get(name) ?? "")}\n`)
    .join("");
  return [
    request.method,
    canonicalPath(request.rawPath),
    query,
    headers,
    signed.join(";"),
    coverage.payloadHash,
  ].join("\n");
}

/** The credential scope: YYYYMMDD/region/s3/aws4_request. */
export function sigV4CredentialScope(scopeDate: string, region: string): string {
  return `${scopeDate}/${region}/${SIGV4_SERVICE}/${SIGV4_SCOPE_TERMINATOR}`;
}

/** The key a day's signatures in a region are made with, derived from the secret. */
export function sigV4SigningKey(
  secret: string,
  scopeDate: string,
  region: string,
  hashes: Hashes,
): Uint8Array {
  const dateKey = hashes.hmacSha256(utf8(`AWS4${secret}`), utf8(scopeDate));
  const regionKey = hashes.hmacSha256(dateKey, utf8(region));
  const serviceKey = hashes.hmacSha256(regionKey, utf8(SIGV4_SERVICE));
  return hashes.hmacSha256(serviceKey, utf8(SIGV4_SCOPE_TERMINATOR));
}

/** A request's signature (hex): its canonical form's hash, signed with the signing key. */
export function sigV4RequestSignature(
  signingKey: Uint8Array,
  amzDate: string,
  scope: string,
  canonicalRequest: string,
  hashes: Hashes,
): string {
  const stringToSign = [
    SIGV4_ALGORITHM,
    amzDate,
    scope,
    toHex(hashes.sha256(utf8(canonicalRequest))),
  ].join("\n");
  return toHex(hashes.hmacSha256(signingKey, utf8(stringToSign)));
}

export interface SigV4Credentials {
  readonly accessKeyId: string;
  readonly secret: string;
  readonly region: string;
}

/**
 * The headers that sign `request` (which must carry its host header) at `amzDate`
 * (YYYYMMDD'T'HHMMSS'Z', UTC; the caller reads the clock): x-amz-date, x-amz-content-sha256
 * and the Authorization covering every header given and those two.
 */
export function signSigV4(
  request: SigV4Request,
  credentials: SigV4Credentials,
  payloadHash: string,
  amzDate: string,
  hashes: Hashes,
): Record<"authorization" | "x-amz-date" | "x-amz-content-sha256", string> {
  const scopeDate = amzDate.slice(0, 8);
  const headers = new Map(request.headers);
  headers.set("x-amz-date", amzDate);
  headers.set("x-amz-content-sha256", payloadHash);
  const signedHeaders = [...headers.keys()].sort(compareAscii);
  const canonical = sigV4CanonicalRequest(
    { ...request, headers },
    { signedHeaders, payloadHash, presigned: false },
  );
  const scope = sigV4CredentialScope(scopeDate, credentials.region);
  const key = sigV4SigningKey(credentials.secret, scopeDate, credentials.region, hashes);
  const signature = sigV4RequestSignature(key, amzDate, scope, canonical, hashes);
  return {
    authorization:
      `${SIGV4_ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, ` +
      `SignedHeaders=${signedHeaders.join(";")}, Signature=${signature}`,
    "x-amz-date": amzDate,
    "x-amz-content-sha256": payloadHash,
  };
}

/** S3's canonical URI: each segment decoded, then encoded once (S3 never encodes twice). */
function canonicalPath(rawPath: string): string {
  if (rawPath === "") return "/";
  return rawPath
    .split("/")
    .map((segment) => uriEncode(safeDecode(segment)))
    .join("/");
}

/** Header values as signed: trimmed, runs of spaces folded to one. */
function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, " ");
}

/** Query pairs decoded, in arrival order; `key` alone is `key=`. */
export function parseQuery(rawQuery: string): Array<readonly [string, string]> {
  if (rawQuery === "") return [];
  return rawQuery
    .split("&")
    .filter((part) => part !== "")
    .map((part) => {
      const equals = part.indexOf("=");
      const key = equals < 0 ? part : part.slice(0, equals);
      const value = equals < 0 ? "" : part.slice(equals + 1);
      return [safeDecode(key), safeDecode(value)] as const;
    });
}

/** A malformed escape is taken literally: the signature check then refuses the request. */
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ as %XX, uppercase. */
export function uriEncode(text: string): string {
  let out = "";
  for (const byte of utf8(text)) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(char)
      ? char
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Byte order of ASCII strings (SigV4 sorts by code point, not by locale). */
function compareAscii(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}
