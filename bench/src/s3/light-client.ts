/**
 * A minimal S3 client for load: PUT and GET of one object over Bun's fetch (kept-alive
 * connections), each request signed with SigV4 in the Authorization header and its payload
 * hashed. The AWS SDK costs the machine 2-3 ms of CPU per request, which on a small box is the
 * bottleneck of a small-object benchmark rather than the server measured; this costs a tenth of
 * that, and it speaks the same S3 to FTFS's gateway and to Swift's s3api alike.
 */

import { EMPTY_PAYLOAD_SHA256, signSigV4, type SigV4Credentials } from "@ftfs/protocol/core";
import { NODE_HASHES } from "@ftfs/protocol/io";

export class LightS3Client {
  private readonly host: string;

  constructor(
    private readonly endpoint: string,
    private readonly credentials: SigV4Credentials,
  ) {
    this.host = new URL(endpoint).host;
  }

  async createBucket(bucket: string): Promise<void> {
    await this.send("PUT", `/${bucket}`, null, [200]);
  }

  async putObject(bucket: string, key: string, body: Uint8Array): Promise<void> {
    await this.send("PUT", objectPath(bucket, key), body, [200]);
  }

  /** The object's bytes. */
  async getObject(bucket: string, key: string): Promise<Uint8Array> {
    const response = await this.send("GET", objectPath(bucket, key), null, [200]);
    return new Uint8Array(await response.arrayBuffer());
  }

  private async send(
    method: string,
    rawPath: string,
    body: Uint8Array | null,
    expected: readonly number[],
  ): Promise<Response> {
    const payloadHash =
      body === null
        ? EMPTY_PAYLOAD_SHA256
        : new Bun.CryptoHasher("sha256").update(body).digest("hex");
    const headers = new Map([["host", this.host]]);
    if (body !== null) headers.set("content-length", String(body.length));
    const signed = signSigV4(
      { method, rawPath, rawQuery: "", headers },
      this.credentials,
      payloadHash,
      amzDateOf(Date.now()),
      NODE_HASHES,
    );
    const response = await fetch(`${this.endpoint}${rawPath}`, {
      method,
      headers: { ...Object.fromEntries(headers), ...signed },
      ...(body === null ? {} : { body }),
    });
    if (!expected.includes(response.status)) {
      const text = await response.text();
      throw new Error(`${method} ${rawPath}: HTTP ${response.status} ${text.slice(0, 200)}`);
    }
    return response;
  }
}

/** YYYYMMDD'T'HHMMSS'Z' of an epoch time, as x-amz-date carries it. */
function amzDateOf(epochMs: number): string {
  return new Date(epochMs)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/** Keys here are plain ASCII paths ("r0c1s/42"): each segment encoded as sent. */
function objectPath(bucket: string, key: string): string {
  return `/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}
