/**
 * S3's errors as the gateway answers them: S3's own codes (what every S3 client matches on),
 * their HTTP status, and a message a person can act on. Rendered as S3's XML error body by the
 * gateway; made here so the pure parts (signatures, names, ranges) can refuse with a value.
 */

export type S3ErrorCode =
  | "AccessDenied"
  | "AuthorizationHeaderMalformed"
  | "AuthorizationQueryParametersError"
  | "InvalidAccessKeyId"
  | "InvalidArgument"
  | "InvalidRequest"
  | "MissingSecurityHeader"
  | "RequestTimeTooSkewed"
  | "SignatureDoesNotMatch"
  | "XAmzContentSHA256Mismatch";

const STATUS_OF: Readonly<Record<S3ErrorCode, number>> = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidRequest: 400,
  MissingSecurityHeader: 400,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
};

export interface S3Error {
  readonly code: S3ErrorCode;
  readonly status: number;
  readonly message: string;
}

export function s3Error(code: S3ErrorCode, message: string): S3Error {
  return { code, status: STATUS_OF[code], message };
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
