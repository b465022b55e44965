/**
 * The small XML bodies S3 requests carry: elements and text with entities decoded, and
 * anything else (DTDs, comments, stray '&', unclosed or crossed tags, two roots) refused.
 */
import { expect, test } from "bun:test";
import { childrenNamed, childText, parseXml } from "./xml-read.ts";

test("a DeleteObjects body, entities and all", () => {
  const root = parseXml(
    '<?xml version="1.0" encoding="UTF-8"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      "<Object><Key>a&amp;b&lt;c&gt;&quot;&apos;&#65;&#x263A;</Key></Object>" +
      "<Object><Key> spaced </Key><VersionId>3</VersionId></Object><Quiet>true</Quiet></Delete>",
  );
  if (root === null) throw new Error("did not parse");
  const keys = childrenNamed(root, "Object").map((object) => childText(object, "Key"));
  expect(keys).toEqual([`a&b<c>"'A☺`, " spaced "]);
  expect(childText(root, "Quiet")).toBe("true");
});

test("what is not this XML is refused", () => {
  for (const text of [
    "",
    "<Delete>",
    "<Delete></Quiet>",
    "<A><B></A></B>",
    "<A/><B/>",
    "<!DOCTYPE x [<!ENTITY e 'boom'>]><A>&e;</A>",
    "<A><!-- hi --></A>",
    "<A>a & b</A>",
    "<A>&nope;</A>",
    "<A>&#0;</A>",
    "text<A/>",
    `${"<A>".repeat(20)}${"</A>".repeat(20)}`,
  ]) {
    expect({ text: text.slice(0, 40), parsed: parseXml(text) }).toEqual({
      text: text.slice(0, 40),
      parsed: null,
    });
  }
});
