/**
 * The SigV4 signer against AWS's own worked example (the S3 API reference's GET object with a
 * Range header): the same headers signed at the same time give AWS's signature; URI encoding
 * keeps only the unreserved characters.
 */
import { describe, expect, test } from "bun:test";
import { NODE_HASHES } from "../../io/security/node-hashes.ts";
import { EMPTY_PAYLOAD_SHA256, signSigV4, uriEncode } from "./sigv4.ts";

const CREDENTIALS = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  region: "us-east-1",
};
/** The examples' time, 2013-05-24T00:00:00Z. */
const SIGNED_AT = "20130524T000000Z";

describe("signSigV4", () => {
  test("AWS's GET object example signs to AWS's signature", () => {
    const signed = signSigV4(
      {
        method: "GET",
        rawPath: "/test.txt",
        rawQuery: "",
        headers: new Map([
          ["host", "examplebucket.s3.amazonaws.com"],
          ["range", "bytes=0-9"],
        ]),
      },
      CREDENTIALS,
      EMPTY_PAYLOAD_SHA256,
      SIGNED_AT,
      NODE_HASHES,
    );
    expect(signed).toEqual({
      authorization:
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
      "x-amz-date": "20130524T000000Z",
      "x-amz-content-sha256": EMPTY_PAYLOAD_SHA256,
    });
  });

  test("URI encoding keeps only the unreserved characters", () => {
    expect(uriEncode("a b/c~d.e_f-g")).toBe("a%20b%2Fc~d.e_f-g");
    expect(uriEncode("ü+=")).toBe("%C3%BC%2B%3D");
  });
});
