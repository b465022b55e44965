/**
 * S3's errors as the gateway answers them: S3's own codes (what every S3 client matches on),
 * their HTTP status, and a message a person can act on. Rendered as S3's XML error body by the
 * gateway; made here so the pure parts (signatures, names, ranges) can refuse with a value.
 */

const STATUS_OF = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  IllegalVersioningConfigurationException: 400,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidBucketState: 409,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  QuotaExceeded: 403,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  TooManyBuckets: 400,
  XAmzContentSHA256Mismatch: 400,
} as const satisfies Record<string, number>;

export type S3ErrorCode = keyof typeof STATUS_OF;

export interface S3Error {
  readonly code: S3ErrorCode;
  readonly status: number;
  readonly message: string;
  /** Headers S3 sends with this error (a delete marker's x-amz-delete-marker, say). */
  readonly headers?: Readonly<Record<string, string>>;
}

export function s3Error(
  code: S3ErrorCode,
  message: string,
  headers?: Readonly<Record<string, string>>,
): S3Error {
  return { code, status: STATUS_OF[code], message, ...(headers === undefined ? {} : { headers }) };
}

export type S3Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: S3Error };

export function s3Ok<T>(value: T): S3Result<T> {
  return { ok: true, value };
}

export function s3Fail(code: S3ErrorCode, message: string): S3Result<never> {
  return { ok: false, error: s3Error(code, message) };
}
