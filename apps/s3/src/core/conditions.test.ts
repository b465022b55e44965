import { describe, expect, test } from "bun:test";
import { etagListMatches, evaluateConditions } from "./conditions.ts";

const OBJECT = { etag: '"abc"', lastModifiedMs: Date.parse("Mon, 07 Dec 2026 10:00:00 GMT") + 400 };
const BEFORE = "Mon, 07 Dec 2026 09:59:59 GMT";
const SAME = "Mon, 07 Dec 2026 10:00:00 GMT";
const AFTER = "Mon, 07 Dec 2026 10:00:01 GMT";

describe("evaluateConditions", () => {
  test("each header alone", () => {
    expect(evaluateConditions({}, OBJECT)).toBe("proceed");
    expect(evaluateConditions({ ifMatch: '"abc"' }, OBJECT)).toBe("proceed");
    expect(evaluateConditions({ ifMatch: '"xyz"' }, OBJECT)).toBe("failed");
    expect(evaluateConditions({ ifNoneMatch: '"abc"' }, OBJECT)).toBe("not-modified");
    expect(evaluateConditions({ ifNoneMatch: '"xyz"' }, OBJECT)).toBe("proceed");
    expect(evaluateConditions({ ifModifiedSince: SAME }, OBJECT)).toBe("not-modified");
    expect(evaluateConditions({ ifModifiedSince: BEFORE }, OBJECT)).toBe("proceed");
    expect(evaluateConditions({ ifUnmodifiedSince: SAME }, OBJECT)).toBe("proceed");
    expect(evaluateConditions({ ifUnmodifiedSince: BEFORE }, OBJECT)).toBe("failed");
    expect(evaluateConditions({ ifModifiedSince: AFTER }, OBJECT)).toBe("not-modified");
  });

  test("S3's pairs: a matching If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since", () => {
    expect(evaluateConditions({ ifMatch: '"abc"', ifUnmodifiedSince: BEFORE }, OBJECT)).toBe(
      "proceed",
    );
    expect(evaluateConditions({ ifNoneMatch: '"xyz"', ifModifiedSince: SAME }, OBJECT)).toBe(
      "proceed",
    );
    expect(evaluateConditions({ ifMatch: '"xyz"', ifNoneMatch: '"abc"' }, OBJECT)).toBe("failed");
  });

  test("a date nobody can read is ignored", () => {
    expect(evaluateConditions({ ifModifiedSince: "yesterday-ish" }, OBJECT)).toBe("proceed");
  });
});

test("ETag lists: *, several, unquoted, weak", () => {
  expect(etagListMatches("*", '"abc"')).toBe(true);
  expect(etagListMatches('"x", "abc"', '"abc"')).toBe(true);
  expect(etagListMatches("abc", '"abc"')).toBe(true);
  expect(etagListMatches('W/"abc"', '"abc"')).toBe(true);
  expect(etagListMatches('"abcd"', '"abc"')).toBe(false);
});
