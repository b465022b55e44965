/**
 * Signature Version 4 against AWS's own worked examples (the S3 API reference's "example
 * signature calculations": header auth for GET and PUT object, a bucket subresource and a
 * listing; a presigned URL; an aws-chunked upload's chunk chain), then every way a request can
 * be refused: a changed byte anywhere signed, a wrong secret, scope, region, clock or expiry.
 */
import { describe, expect, test } from "bun:test";
import { NODE_HASHES } from "@ftfs/protocol/io";
import {
  amzDateMs,
  chunkSignature,
  EMPTY_PAYLOAD_SHA256,
  readSignatureClaim,
  STREAMING_SIGNED_PAYLOAD,
  verifySignature,
  type ArrivedRequest,
  type SignatureClaim,
} from "./sigv4.ts";

const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SCOPE = `${KEY_ID}/20130524/us-east-1/s3/aws4_request`;
/** The examples' time, 2013-05-24T00:00:00Z, and a clock a minute later. */
const SIGNED_AT_MS = 1_369_353_600_000;
const NOW_MS = SIGNED_AT_MS + 60_000;
const VERIFY = { secret: SECRET, region: "us-east-1", nowMs: NOW_MS, hashes: NODE_HASHES };

function request(method: string, target: string, headers: Record<string, string>): ArrivedRequest {
  const question = target.indexOf("?");
  return {
    method,
    rawPath: question < 0 ? target : target.slice(0, question),
    rawQuery: question < 0 ? "" : target.slice(question + 1),
    headers: new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
  };
}

function headerAuth(signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${SCOPE},SignedHeaders=${signedHeaders},Signature=${signature}`;
}

function claimOf(arrived: ArrivedRequest): SignatureClaim {
  const claim = readSignatureClaim(arrived);
  if (!claim.ok) throw new Error(`${claim.error.code}: ${claim.error.message}`);
  if (claim.value === null) throw new Error("no signature claimed");
  return claim.value;
}

function verdict(arrived: ArrivedRequest, options = VERIFY): string {
  const claim = readSignatureClaim(arrived);
  if (!claim.ok) return claim.error.code;
  if (claim.value === null) return "anonymous";
  const verified = verifySignature(arrived, claim.value, options);
  return verified.ok ? "ok" : verified.error.code;
}

const GET_OBJECT = request("GET", "/test.txt", {
  Host: "examplebucket.s3.amazonaws.com",
  Range: "bytes=0-9",
  "x-amz-content-sha256": EMPTY_PAYLOAD_SHA256,
  "x-amz-date": "20130524T000000Z",
  Authorization: headerAuth(
    "host;range;x-amz-content-sha256;x-amz-date",
    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  ),
});

describe("AWS's worked examples verify", () => {
  test("GET object with a range", () => {
    expect(verdict(GET_OBJECT)).toBe("ok");
  });

  test("PUT object: a '$' in the key, a Date header and a storage class signed", () => {
    const put = request("PUT", "/test%24file.text", {
      Host: "examplebucket.s3.amazonaws.com",
      Date: "Fri, 24 May 2013 00:00:00 GMT",
      "x-amz-date": "20130524T000000Z",
      "x-amz-storage-class": "REDUCED_REDUNDANCY",
      "x-amz-content-sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
      Authorization: headerAuth(
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
      ),
    });
    expect(verdict(put)).toBe("ok");
  });

  test("a bucket subresource (?lifecycle) and a listing's sorted query", () => {
    const common = {
      Host: "examplebucket.s3.amazonaws.com",
      "x-amz-date": "20130524T000000Z",
      "x-amz-content-sha256": EMPTY_PAYLOAD_SHA256,
    };
    const lifecycle = request("GET", "/?lifecycle", {
      ...common,
      Authorization: headerAuth(
        "host;x-amz-content-sha256;x-amz-date",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
      ),
    });
    expect(verdict(lifecycle)).toBe("ok");
    const listing = request("GET", "/?max-keys=2&prefix=J", {
      ...common,
      Authorization: headerAuth(
        "host;x-amz-content-sha256;x-amz-date",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
      ),
    });
    expect(verdict(listing)).toBe("ok");
  });

  test("a presigned URL, within its 24 hours and not after", () => {
    const credential = encodeURIComponent(SCOPE);
    const url =
      "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
      `&X-Amz-Credential=${credential}&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400` +
      "&X-Amz-SignedHeaders=host" +
      "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    const presigned = request("GET", url, { Host: "examplebucket.s3.amazonaws.com" });
    expect(verdict(presigned)).toBe("ok");
    expect(verdict(presigned, { ...VERIFY, nowMs: SIGNED_AT_MS + 86_400_000 })).toBe("ok");
    expect(verdict(presigned, { ...VERIFY, nowMs: SIGNED_AT_MS + 86_401_000 })).toBe(
      "AccessDenied",
    );
  });

  test("an aws-chunked upload: the seed signature, then each chunk's link in the chain", () => {
    const put = request("PUT", "/examplebucket/chunkObject.txt", {
      Host: "s3.amazonaws.com",
      "x-amz-date": "20130524T000000Z",
      "x-amz-storage-class": "REDUCED_REDUNDANCY",
      "x-amz-content-sha256": STREAMING_SIGNED_PAYLOAD,
      "Content-Encoding": "aws-chunked",
      "x-amz-decoded-content-length": "66560",
      "Content-Length": "66824",
      Authorization: headerAuth(
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;" +
          "x-amz-decoded-content-length;x-amz-storage-class",
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
      ),
    });
    const claim = claimOf(put);
    const verified = verifySignature(put, claim, VERIFY);
    if (!verified.ok) throw new Error(verified.error.message);
    const sha = (bytes: Uint8Array) => Buffer.from(NODE_HASHES.sha256(bytes)).toString("hex");
    const first = chunkSignature(
      verified.value,
      claim.signature,
      sha(new Uint8Array(65_536).fill(97)),
      NODE_HASHES,
    );
    expect(first).toBe("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
    const second = chunkSignature(
      verified.value,
      first,
      sha(new Uint8Array(1_024).fill(97)),
      NODE_HASHES,
    );
    expect(second).toBe("0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
    const last = chunkSignature(verified.value, second, EMPTY_PAYLOAD_SHA256, NODE_HASHES);
    expect(last).toBe("b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
  });
});

describe("refusals", () => {
  const headers = Object.fromEntries(GET_OBJECT.headers);
  const changed = (name: string, value: string) =>
    request("GET", "/test.txt", { ...headers, [name]: value });

  test("a changed signed header, path, method or query is a signature mismatch", () => {
    expect(verdict(changed("range", "bytes=0-10"))).toBe("SignatureDoesNotMatch");
    expect(verdict(changed("host", "otherbucket.s3.amazonaws.com"))).toBe("SignatureDoesNotMatch");
    expect(verdict({ ...GET_OBJECT, rawPath: "/test.txT" })).toBe("SignatureDoesNotMatch");
    expect(verdict({ ...GET_OBJECT, method: "DELETE" })).toBe("SignatureDoesNotMatch");
    expect(verdict({ ...GET_OBJECT, rawQuery: "acl" })).toBe("SignatureDoesNotMatch");
    expect(verdict(GET_OBJECT, { ...VERIFY, secret: `${SECRET}x` })).toBe("SignatureDoesNotMatch");
  });

  test("an unsigned header may change; a signed one may not go missing", () => {
    expect(verdict(changed("user-agent", "anything"))).toBe("ok");
    const { range: _dropped, ...withoutRange } = headers;
    expect(verdict(request("GET", "/test.txt", withoutRange))).toBe("AccessDenied");
  });

  test("another region, a skewed clock, a malformed header", () => {
    expect(verdict(GET_OBJECT, { ...VERIFY, region: "eu-west-1" })).toBe(
      "AuthorizationHeaderMalformed",
    );
    expect(verdict(GET_OBJECT, { ...VERIFY, nowMs: SIGNED_AT_MS + 16 * 60_000 })).toBe(
      "RequestTimeTooSkewed",
    );
    expect(verdict(GET_OBJECT, { ...VERIFY, nowMs: SIGNED_AT_MS - 16 * 60_000 })).toBe(
      "RequestTimeTooSkewed",
    );
    const auth = headers.authorization ?? "";
    for (const broken of [
      auth.replace("Credential=", "Cred="),
      auth.replace("/s3/", "/ec2/"),
      auth.replace("20130524/", "20130525/"),
      auth.replace("SignedHeaders=host;", "SignedHeaders=Host;"),
      auth.replace("SignedHeaders=host;", "SignedHeaders="),
      auth.replace(/Signature=[0-9a-f]+/, "Signature=xyz"),
    ]) {
      expect(verdict(changed("authorization", broken))).toBe("AuthorizationHeaderMalformed");
    }
    expect(verdict(changed("authorization", "AWS AKIA:abc"))).toBe("InvalidArgument");
    const { "x-amz-content-sha256": _hash, ...withoutHash } = headers;
    expect(verdict(request("GET", "/test.txt", withoutHash))).toBe("MissingSecurityHeader");
  });

  test("no signature at all is an anonymous request, not an error", () => {
    expect(verdict(request("GET", "/test.txt", { host: "example" }))).toBe("anonymous");
  });
});

describe("pieces", () => {
  test("x-amz-date is read as UTC without the host's clock, and nonsense is refused", () => {
    expect(amzDateMs("20130524T000000Z")).toBe(SIGNED_AT_MS);
    expect(amzDateMs("20000229T235959Z")).toBe(951_868_799_000);
    expect(amzDateMs("19700101T000000Z")).toBe(0);
    for (const bad of ["20130230T000000Z", "20131324T000000Z", "20130524T250000Z", "2013-05-24"]) {
      expect(amzDateMs(bad)).toBeNull();
    }
  });
});
