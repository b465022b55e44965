/**
 * S3's XML answers, built as text: every value escaped, elements in the order S3 writes them
 * (some clients read positionally). Pure; the gateway sends what these return.
 */

import type { S3Error } from "./s3-error.ts";

export const S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/** Text or attribute content: the five XML specials escaped. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** One element; `children` is already XML (built by el()), or text to escape. */
export function el(name: string, content: string | number | boolean | readonly string[]): string {
  if (Array.isArray(content)) return `<${name}>${content.join("")}</${name}>`;
  return `<${name}>${escapeXml(String(content))}</${name}>`;
}

export function document(root: string, children: readonly string[]): string {
  return `${XML_DECLARATION}<${root} xmlns="${S3_XMLNS}">${children.join("")}</${root}>`;
}

/** S3's error body: code, message, and the resource and request they concern. */
export function errorXml(error: S3Error, resource: string, requestId: string): string {
  return `${XML_DECLARATION}${el("Error", [
    el("Code", error.code),
    el("Message", error.message),
    el("Resource", resource),
    el("RequestId", requestId),
  ])}`;
}
