/**
 * How many terminal columns text takes, and cutting it to fit: what keeps tables aligned with
 * names in any script. A grapheme (what a person sees as one character: a letter with its
 * accents, an emoji with its modifiers and joiners) takes two columns when it is drawn wide
 * (an emoji shown as a picture, East Asian wide and fullwidth forms) and one otherwise; a
 * combining mark adds none, since it belongs to the grapheme before it. The same rules most
 * terminals follow (Unicode's East Asian Width and emoji presentation); a terminal that draws
 * some character otherwise can still misalign, never more than that row.
 */

const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });
const EMOJI_PRESENTATION = /\p{Emoji_Presentation}|\uFE0F/u;
/** East Asian Wide and Fullwidth blocks (Hangul, CJK, Hiragana/Katakana, fullwidth forms…). */
const EAST_ASIAN_WIDE = new RegExp(
  [
    "[\\u1100-\\u115F\\u2E80-\\u303E\\u3041-\\u33FF\\u3400-\\u4DBF\\u4E00-\\u9FFF",
    "\\uA000-\\uA4CF\\uAC00-\\uD7A3\\uF900-\\uFAFF\\uFE30-\\uFE4F\\uFF00-\\uFF60",
    "\\uFFE0-\\uFFE6\\u{20000}-\\u{3FFFD}]",
  ].join(""),
  "u",
);
const ELLIPSIS = "…";

function graphemeWidth(grapheme: string): number {
  if (EMOJI_PRESENTATION.test(grapheme) || EAST_ASIAN_WIDE.test(grapheme)) return 2;
  return 1;
}

/** Terminal columns `text` takes. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const { segment } of segmenter.segment(text)) width += graphemeWidth(segment);
  return width;
}

/** `text` cut to at most `columns` columns, ending in an ellipsis when it was cut. */
export function fitWidth(text: string, columns: number): string {
  if (displayWidth(text) <= columns) return text;
  let width = 0;
  let kept = "";
  for (const { segment } of segmenter.segment(text)) {
    const next = graphemeWidth(segment);
    if (width + next > columns - 1) break;
    kept += segment;
    width += next;
  }
  return `${kept}${ELLIPSIS}`;
}

/** `text` padded with spaces to `columns` columns, on the right (left-aligned) or the left. */
export function padWidth(text: string, columns: number, align: "left" | "right"): string {
  const padding = " ".repeat(Math.max(0, columns - displayWidth(text)));
  return align === "left" ? `${text}${padding}` : `${padding}${text}`;
}
