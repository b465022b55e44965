/**
 * The PNG renderer draws text on any machine: the fonts come from an npm package, not from the
 * system, so black text on white leaves dark pixels (a missing font would leave none), and the
 * PNG it writes carries the signature and the SVG's size in its IHDR.
 */

import { expect, test } from "bun:test";
import { MONO_FONT_FAMILY, SANS_FONT_FAMILY, pngDimensions, renderSvg } from "./svg-png.ts";

const WIDTH_PX = 240;
const HEIGHT_PX = 60;
/** A channel below this is ink, not the white page or anti-aliasing's faint edge. */
const DARK_CHANNEL_MAX = 100;
/** "FTFS 123" at 16 px covers a few hundred pixels; a stray pixel or two is not text. */
const TEXT_PIXELS_MIN = 50;

function page(body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH_PX}" height="${HEIGHT_PX}">` +
    `<rect width="100%" height="100%" fill="#fff"/>${body}</svg>`
  );
}

function darkPixels(pixels: Uint8Array): number {
  let dark = 0;
  for (let index = 0; index + 3 < pixels.length; index += 4) {
    const red = pixels[index] ?? 255;
    const green = pixels[index + 1] ?? 255;
    const blue = pixels[index + 2] ?? 255;
    if (Math.max(red, green, blue) < DARK_CHANNEL_MAX) dark += 1;
  }
  return dark;
}

test("a white page has no dark pixels: the text check below can fail", async () => {
  const image = await renderSvg(page(""));
  expect(darkPixels(image.pixels)).toBe(0);
});

for (const [family, weight] of [
  [SANS_FONT_FAMILY, "normal"],
  [SANS_FONT_FAMILY, "bold"],
  [MONO_FONT_FAMILY, "normal"],
  ["sans-serif", "normal"],
  ["monospace", "normal"],
] as const) {
  test(`black ${weight} text in '${family}' draws dark pixels`, async () => {
    const text =
      `<text x="10" y="35" font-family="${family}" font-weight="${weight}" ` +
      `font-size="16" fill="#000">FTFS 123</text>`;
    const image = await renderSvg(page(text));
    expect(darkPixels(image.pixels)).toBeGreaterThan(TEXT_PIXELS_MIN);
  });
}

test("the PNG has the signature and the SVG's size in its IHDR", async () => {
  const image = await renderSvg(page(`<text x="10" y="35">size</text>`));
  expect(image.widthPx).toBe(WIDTH_PX);
  expect(image.heightPx).toBe(HEIGHT_PX);
  expect(pngDimensions(image.png)).toEqual({ widthPx: WIDTH_PX, heightPx: HEIGHT_PX });
});

test("bytes that are not a PNG have no dimensions", () => {
  expect(pngDimensions(new TextEncoder().encode("<svg>not a png at all</svg>"))).toBeNull();
  expect(pngDimensions(new Uint8Array(8))).toBeNull();
});
