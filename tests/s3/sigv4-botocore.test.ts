/**
 * The gateway's Signature Version 4 check against a signer nobody here wrote: botocore (Debian's
 * python3-botocore, the signer under boto3 and the AWS CLI v1) signs requests the way S3
 * clients send them (header auth with signed and unsigned payloads, listings with encoded
 * queries, keys with spaces, Unicode and reserved characters, virtual-host addressing,
 * presigned GET and PUT), and every one must verify, and fail once a byte of it changes.
 * .ci/run installs python3-botocore; without it this fails under CI=true.
 */
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readSignatureClaim, verifySignature, type ArrivedRequest } from "@ftfs/s3/core";
import { NODE_HASHES } from "@ftfs/protocol/io";

const PYTHON = "/usr/bin/python3";
const SIGNER = join(import.meta.dir, "botocore-sign.py");
const REGION = "us-east-1";
const KEY_ID = "FTFSEXAMPLEKEY000001";
const SECRET = "s3cr3t/with+symbols=and-length-40-chars!";

interface SignedByBotocore {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
}

const REQUESTS = [
  { method: "GET", url: "http://127.0.0.1:7180/photos/cat.jpg", headers: { Range: "bytes=0-99" } },
  {
    method: "PUT",
    url: "http://127.0.0.1:7180/photos/dir/sub/k%C3%A9%20y%2B%3D%26.txt",
    body: "hello ftfs",
    headers: { "Content-Type": "text/plain", "x-amz-meta-owner": "alice  smith " },
  },
  {
    method: "PUT",
    url: "http://127.0.0.1:7180/photos/unsigned.bin",
    body: "unsigned body",
    unsignedPayload: true,
  },
  {
    method: "GET",
    url: "http://127.0.0.1:7180/photos?list-type=2&prefix=a%2Fb%20c&delimiter=%2F&encoding-type=url",
  },
  { method: "POST", url: "http://127.0.0.1:7180/photos?delete", body: "<Delete></Delete>" },
  { method: "GET", url: "http://photos.localhost:7180/virtual%20host.txt" },
  {
    method: "GET",
    url: "http://127.0.0.1:7180/photos/pre%20signed/%E2%9C%93.txt",
    presignSeconds: 3600,
  },
  { method: "PUT", url: "http://127.0.0.1:7180/photos/upload.bin", presignSeconds: 600 },
];

function signAll(): SignedByBotocore[] {
  const spec = JSON.stringify({
    accessKeyId: KEY_ID,
    secret: SECRET,
    region: REGION,
    requests: REQUESTS,
  });
  const run = Bun.spawnSync([PYTHON, SIGNER], { stdin: new TextEncoder().encode(spec) });
  if (run.exitCode !== 0) throw new Error(`botocore signer failed: ${run.stderr.toString()}`);
  return JSON.parse(run.stdout.toString()) as SignedByBotocore[];
}

/** The request as an HTTP server receives it: the target as sent, the Host from the URL. */
function arrived(signed: SignedByBotocore): ArrivedRequest {
  const afterScheme = signed.url.slice(signed.url.indexOf("://") + 3);
  const slash = afterScheme.indexOf("/");
  const host = afterScheme.slice(0, slash);
  const target = afterScheme.slice(slash);
  const question = target.indexOf("?");
  const headers = new Map(
    Object.entries(signed.headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  if (!headers.has("host")) headers.set("host", host);
  return {
    method: signed.method,
    rawPath: question < 0 ? target : target.slice(0, question),
    rawQuery: question < 0 ? "" : target.slice(question + 1),
    headers,
  };
}

function verdict(request: ArrivedRequest): string {
  const claim = readSignatureClaim(request);
  if (!claim.ok) return claim.error.code;
  if (claim.value === null) return "anonymous";
  const options = { secret: SECRET, region: REGION, nowMs: Date.now(), hashes: NODE_HASHES };
  const verified = verifySignature(request, claim.value, options);
  return verified.ok ? "ok" : `${verified.error.code}`;
}

const botocoreMissing =
  !existsSync(PYTHON) || Bun.spawnSync([PYTHON, "-c", "import botocore"]).exitCode !== 0;
test("Debian's python3-botocore is installed (.ci/run installs it; the test below needs it)", () => {
  expect(botocoreMissing).toBe(false);
});

test("every request botocore signs verifies, and none does once a byte changes", () => {
  const signed = signAll();
  expect(signed).toHaveLength(REQUESTS.length);
  for (const request of signed.map(arrived)) {
    expect({ url: request.rawPath, verdict: verdict(request) }).toEqual({
      url: request.rawPath,
      verdict: "ok",
    });
    const flipped = request.rawPath.endsWith("a") ? "b" : "a";
    const tampered = { ...request, rawPath: `${request.rawPath.slice(0, -1)}${flipped}` };
    expect(verdict(tampered)).toBe("SignatureDoesNotMatch");
  }
});
