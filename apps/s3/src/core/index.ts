/** The S3 gateway's pure parts: errors, signatures, routing, listings and XML. */
export * from "./aws-chunked.ts";
export * from "./checksums.ts";
export * from "./conditions.ts";
export * from "./listing.ts";
export * from "./routing.ts";
export * from "./s3-error.ts";
export * from "./sigv4.ts";
export * from "./xml.ts";
export * from "./xml-read.ts";
