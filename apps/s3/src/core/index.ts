/** The S3 gateway's pure parts: S3's errors and Signature Version 4. */
export * from "./s3-error.ts";
export * from "./sigv4.ts";
