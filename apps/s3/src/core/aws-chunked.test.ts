/**
 * aws-chunked bodies: AWS's own signed example decodes to its 66,560 bytes across any split of
 * the input; a changed byte, a dropped, reordered or extra chunk, a missing end or trailing
 * garbage is refused; unsigned bodies with checksum trailers decode and hand the trailers
 * over. CRC-32 and CRC-32C match their standard check values.
 */
import { describe, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import { NODE_HASHES } from "@ftfs/protocol/io";
import { AwsChunkedDecoder, trailerValues } from "./aws-chunked.ts";
import { Crc } from "./checksums.ts";
import { readSignatureClaim, verifySignature, type ArrivedRequest } from "./sigv4.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const SIGNATURES = [
  "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
  "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
  "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];
const encoder = new TextEncoder();

function exampleRequest(): ArrivedRequest {
  return {
    method: "PUT",
    rawPath: "/examplebucket/chunkObject.txt",
    rawQuery: "",
    headers: new Map([
      ["host", "s3.amazonaws.com"],
      ["x-amz-date", "20130524T000000Z"],
      ["x-amz-storage-class", "REDUCED_REDUNDANCY"],
      ["x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"],
      ["content-encoding", "aws-chunked"],
      ["x-amz-decoded-content-length", "66560"],
      ["content-length", "66824"],
      [
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request," +
          "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;" +
          `x-amz-decoded-content-length;x-amz-storage-class,Signature=${SEED}`,
      ],
    ]),
  };
}

/** A decoder of AWS's example request's body, its chunks chained from the seed signature. */
function signedDecoder(trailer = false): AwsChunkedDecoder {
  const request = exampleRequest();
  const claim = readSignatureClaim(request);
  if (!claim.ok || claim.value === null) throw new Error("no claim");
  const verified = verifySignature(request, claim.value, {
    secret: SECRET,
    region: "us-east-1",
    nowMs: 1_369_353_600_000,
    hashes: NODE_HASHES,
  });
  if (!verified.ok) throw new Error(verified.error.message);
  return new AwsChunkedDecoder({ signed: verified.value, hashes: NODE_HASHES, trailer });
}

function chunk(size: number, signature: string | null, fill = 97): Uint8Array[] {
  const extension = signature === null ? "" : `;chunk-signature=${signature}`;
  return [
    encoder.encode(`${size.toString(16)}${extension}\r\n`),
    new Uint8Array(size).fill(fill),
    encoder.encode("\r\n"),
  ];
}

function exampleBody(): Uint8Array {
  return Buffer.concat([
    ...chunk(65_536, SIGNATURES[0] ?? ""),
    ...chunk(1_024, SIGNATURES[1] ?? ""),
    ...chunk(0, SIGNATURES[2] ?? ""),
  ]);
}

/** Feeds `body` in pieces of `size` bytes; answers the payload length, or the refusal code. */
function decode(decoder: AwsChunkedDecoder, body: Uint8Array, size: number): number | string {
  let total = 0;
  for (let at = 0; at < body.length; at += size) {
    const out = decoder.push(body.subarray(at, at + size));
    if (!Array.isArray(out)) return out.code;
    for (const part of out) {
      if (part.some((byte) => byte !== 97)) return "corrupt";
      total += part.length;
    }
  }
  const ended = decoder.end();
  return ended === null ? total : ended.code;
}

describe("aws-chunked", () => {
  test("AWS's signed example decodes to its 66,560 bytes, however the input is split", () => {
    const body = exampleBody();
    expect(body.length).toBe(66_824);
    for (const size of [1, 7, 1000, 65_536, body.length]) {
      expect({ size, result: decode(signedDecoder(), body, size) }).toEqual({
        size,
        result: 66_560,
      });
    }
  });

  test("a changed byte, a dropped, reordered or extra chunk, a short or long body is refused", () => {
    const body = exampleBody();
    const flipped = new Uint8Array(body); // a copy: a Buffer's slice() is a view
    flipped[1000] = 98;
    expect(decode(signedDecoder(), flipped, 4096)).toBe("SignatureDoesNotMatch");
    const dropped = Buffer.concat([
      ...chunk(65_536, SIGNATURES[0] ?? ""),
      ...chunk(0, SIGNATURES[2] ?? ""),
    ]);
    expect(decode(signedDecoder(), dropped, 4096)).toBe("SignatureDoesNotMatch");
    const reordered = Buffer.concat([
      ...chunk(1_024, SIGNATURES[1] ?? ""),
      ...chunk(65_536, SIGNATURES[0] ?? ""),
      ...chunk(0, SIGNATURES[2] ?? ""),
    ]);
    expect(decode(signedDecoder(), reordered, 4096)).toBe("SignatureDoesNotMatch");
    const unsigned = Buffer.concat([...chunk(65_536, null)]);
    expect(decode(signedDecoder(), unsigned, 4096)).toBe("SignatureDoesNotMatch");
    expect(decode(signedDecoder(), body.subarray(0, body.length - 2), 4096)).toBe("IncompleteBody");
    expect(decode(signedDecoder(), Buffer.concat([body, encoder.encode("x")]), 4096)).toBe(
      "IncompleteBody",
    );
    const garbage = encoder.encode("zz;chunk-signature=00\r\n");
    expect(decode(signedDecoder(), garbage, 4096)).toBe("IncompleteBody");
  });

  test("an unsigned body with checksum trailers: the bytes, then the trailers", () => {
    const payload = encoder.encode("hello aws-chunked");
    const crc = new Crc("crc32");
    crc.update(payload);
    const body = Buffer.concat([
      encoder.encode(`${payload.length.toString(16)}\r\n`),
      payload,
      encoder.encode(`\r\n0\r\nx-amz-checksum-crc32:${crc.base64()}\r\n\r\n`),
    ]);
    for (const size of [1, 5, body.length]) {
      const decoder = new AwsChunkedDecoder({ signed: null, hashes: NODE_HASHES, trailer: true });
      const parts: Uint8Array[] = [];
      for (let at = 0; at < body.length; at += size) {
        const out = decoder.push(body.subarray(at, at + size));
        if (!Array.isArray(out)) throw new Error(out.message);
        parts.push(...out);
      }
      expect(decoder.end()).toBeNull();
      expect(new TextDecoder().decode(Buffer.concat(parts))).toBe("hello aws-chunked");
      expect(trailerValues(decoder.trailers).get("x-amz-checksum-crc32")).toBe(crc.base64());
    }
  });
});

/**
 * The trailer signature of AWS's example, computed here with node:crypto from the documented
 * string to sign (AWS4-HMAC-SHA256-TRAILER, the date, the scope, the final chunk's signature,
 * and the SHA-256 of the trailers as sorted `name:value\n` lines), apart from the gateway's code.
 */
function exampleTrailerSignature(canonical: string): string {
  const hmac = (key: Buffer | string, text: string) =>
    createHmac("sha256", key).update(text).digest();
  const signingKey = ["20130524", "us-east-1", "s3", "aws4_request"].reduce<Buffer | string>(
    (key, part) => hmac(key, part),
    `AWS4${SECRET}`,
  );
  const stringToSign = [
    "AWS4-HMAC-SHA256-TRAILER",
    "20130524T000000Z",
    "20130524/us-east-1/s3/aws4_request",
    SIGNATURES[2],
    createHash("sha256").update(canonical).digest("hex"),
  ].join("\n");
  return hmac(signingKey, stringToSign).toString("hex");
}

describe("signed trailers", () => {
  const crc = new Crc("crc32c");
  crc.update(new Uint8Array(66_560).fill(97));
  const checksumLine = `x-amz-checksum-crc32c:${crc.base64()}`;
  const withTrailers = (lines: readonly string[]) =>
    Buffer.concat([
      ...chunk(65_536, SIGNATURES[0] ?? ""),
      ...chunk(1_024, SIGNATURES[1] ?? ""),
      encoder.encode(`0;chunk-signature=${SIGNATURES[2]}\r\n`),
      encoder.encode(lines.map((line) => `${line}\r\n`).join("")),
      encoder.encode("\r\n"),
    ]);
  const signature = exampleTrailerSignature(`${checksumLine}\n`);

  test("trailers signed in the chain from the final chunk decode, however split", () => {
    const body = withTrailers([checksumLine, `x-amz-trailer-signature:${signature}`]);
    for (const size of [1, 1000, body.length]) {
      expect(decode(signedDecoder(true), body, size)).toBe(66_560);
    }
  });

  test("a trailer changed, a signature changed or missing is refused", () => {
    const other = `x-amz-checksum-crc32c:AAAAAA==`;
    const forged = signature.replace(/^./, signature.startsWith("0") ? "1" : "0");
    for (const lines of [
      [other, `x-amz-trailer-signature:${signature}`],
      [checksumLine, `x-amz-trailer-signature:${forged}`],
      [checksumLine],
    ]) {
      expect(decode(signedDecoder(true), withTrailers(lines), 4096)).toBe("SignatureDoesNotMatch");
    }
  });
});

describe("CRCs", () => {
  test("the standard check values of '123456789'", () => {
    const check = (kind: "crc32" | "crc32c") => {
      const crc = new Crc(kind);
      crc.update(encoder.encode("1234"));
      crc.update(encoder.encode("56789"));
      return Buffer.from(crc.base64(), "base64").toString("hex");
    };
    expect(check("crc32")).toBe("cbf43926");
    expect(check("crc32c")).toBe("e3069283");
  });

  test("CRC-32 over random bytes split anywhere equals zlib's; CRC-32C is split-proof too", () => {
    const bytes = crypto.getRandomValues(new Uint8Array(100_003));
    const whole = new Crc("crc32c");
    whole.update(bytes);
    for (const cuts of [[1], [7, 8, 9], [4096, 50_001], [99_999]]) {
      const crc32 = new Crc("crc32");
      const crc32c = new Crc("crc32c");
      let from = 0;
      for (const to of [...cuts, bytes.length]) {
        crc32.update(bytes.subarray(from, to));
        crc32c.update(bytes.subarray(from, to));
        from = to;
      }
      const zlib = Bun.hash.crc32(bytes).toString(16).padStart(8, "0");
      expect(Buffer.from(crc32.base64(), "base64").toString("hex")).toBe(zlib);
      expect(crc32c.base64()).toBe(whole.base64());
    }
  });
});
