/**
 * HTTP conditional requests as S3 evaluates them (RFC 9110 §13.2.2's order): If-Match, then
 * If-Unmodified-Since (ignored beside If-Match), then If-None-Match, then If-Modified-Since
 * (ignored beside If-None-Match). Times compare at the second, the resolution of the
 * Last-Modified header they are copied from.
 */

import { httpDateMs } from "./dates.ts";

export interface ConditionHeaders {
  readonly ifMatch?: string | undefined;
  readonly ifNoneMatch?: string | undefined;
  readonly ifModifiedSince?: string | undefined;
  readonly ifUnmodifiedSince?: string | undefined;
}

export interface ObjectState {
  /** The ETag as the object's headers give it, quotes and all. */
  readonly etag: string;
  readonly lastModifiedMs: number;
}

/** Go on; answer 304 Not Modified (a read); or 412 Precondition Failed. */
export type ConditionOutcome = "proceed" | "not-modified" | "failed";

export function evaluateConditions(
  conditions: ConditionHeaders,
  object: ObjectState,
): ConditionOutcome {
  const { ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince } = conditions;
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, object.etag)) return "failed";
  } else if (ifUnmodifiedSince !== undefined) {
    const since = httpDateSeconds(ifUnmodifiedSince);
    if (since !== null && seconds(object.lastModifiedMs) > since) return "failed";
  }
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, object.etag)) return "not-modified";
  } else if (ifModifiedSince !== undefined) {
    const since = httpDateSeconds(ifModifiedSince);
    if (since !== null && seconds(object.lastModifiedMs) <= since) return "not-modified";
  }
  return "proceed";
}

/** "*", or a comma-separated list of ETags (quoted or not, weak or strong), naming this one. */
export function etagListMatches(header: string, etag: string): boolean {
  const wanted = unquote(etag);
  return header.split(",").some((item) => {
    const candidate = item.trim();
    return candidate === "*" || unquote(candidate.replace(/^W\//, "")) === wanted;
  });
}

function unquote(etag: string): string {
  return etag.trim().replace(/^"|"$/g, "");
}

function seconds(epochMs: number): number {
  return Math.floor(epochMs / 1000);
}

/** An HTTP date in whole seconds; null for none (then the header is ignored, as RFC 9110 says). */
function httpDateSeconds(text: string): number | null {
  const parsed = httpDateMs(text);
  return parsed === null ? null : seconds(parsed);
}
