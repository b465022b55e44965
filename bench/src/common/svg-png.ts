/**
 * SVG to PNG for the benches' pictures, with resvg (a Rust renderer shipped as a prebuilt
 * native module inside its npm packages: no browser, nothing to download at run time). Owns
 * the choice of fonts; draws nothing itself (the reports make the SVG).
 *
 * Fonts: resvg draws no text without a font, silently. Debian's images carry DejaVu in
 * /usr/share/fonts, but a machine with only Node and npm may have no font at all, and a
 * system's fonts differ from one machine to the next. So the picture uses DejaVu Sans and
 * DejaVu Sans Mono from the pinned npm package `dejavu-fonts-ttf` (TrueType files; resvg reads
 * no WOFF, which is all the @fontsource packages ship) and never loads system fonts: the same
 * text on every machine, or a FontMissingError that says what to install.
 */

import { renderAsync, type ResvgRenderOptions } from "@resvg/resvg-js";
import { fileURLToPath } from "node:url";

/** The font families the pictures name; an SVG that asks for another gets the sans one. */
export const SANS_FONT_FAMILY = "DejaVu Sans";
export const MONO_FONT_FAMILY = "DejaVu Sans Mono";
const FONT_FILES = [
  "dejavu-fonts-ttf/ttf/DejaVuSans.ttf",
  "dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf",
  "dejavu-fonts-ttf/ttf/DejaVuSansMono.ttf",
] as const;

/** The eight bytes every PNG file starts with (PNG specification, section 5.2). */
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
/** IHDR is the first chunk: its width and height are big-endian u32s at these offsets. */
const IHDR_TYPE_OFFSET = 12;
const IHDR_WIDTH_OFFSET = 16;
const IHDR_HEIGHT_OFFSET = 20;
const IHDR_END_OFFSET = 24;

export class FontMissingError extends Error {
  override readonly name = "FontMissingError";
  readonly code = "FONT_MISSING";
}

export class PngRenderError extends Error {
  override readonly name = "PngRenderError";
  readonly code = "PNG_RENDER_FAILED";
}

function fontPaths(): string[] {
  return FONT_FILES.map((specifier) => {
    try {
      return fileURLToPath(import.meta.resolve(specifier));
    } catch (cause) {
      throw new FontMissingError(
        `font ${specifier} not found: run bun install (bench/package.json pins it)`,
        { cause },
      );
    }
  });
}

function renderOptions(): ResvgRenderOptions {
  return {
    font: {
      loadSystemFonts: false,
      fontFiles: fontPaths(),
      defaultFontFamily: SANS_FONT_FAMILY,
      sansSerifFamily: SANS_FONT_FAMILY,
      monospaceFamily: MONO_FONT_FAMILY,
    },
    fitTo: { mode: "original" },
    logLevel: "off",
  };
}

export interface RasterImage {
  readonly png: Uint8Array;
  /** RGBA, 4 bytes per pixel, rows top to bottom. */
  readonly pixels: Uint8Array;
  readonly widthPx: number;
  readonly heightPx: number;
}

/** Rasterizes on resvg's worker thread, so a large picture does not stall the event loop. */
export async function renderSvg(svg: string): Promise<RasterImage> {
  const options = renderOptions();
  let image: Awaited<ReturnType<typeof renderAsync>>;
  try {
    image = await renderAsync(svg, options);
  } catch (cause) {
    throw new PngRenderError(`resvg could not render the SVG: ${String(cause)}`, { cause });
  }
  return {
    png: new Uint8Array(image.asPng()),
    pixels: new Uint8Array(image.pixels),
    widthPx: image.width,
    heightPx: image.height,
  };
}

/** A PNG's size from its IHDR chunk; null when the bytes are not a PNG. */
export function pngDimensions(bytes: Uint8Array): { widthPx: number; heightPx: number } | null {
  if (bytes.length < IHDR_END_OFFSET) return null;
  if (!PNG_SIGNATURE.every((byte, index) => bytes[index] === byte)) return null;
  const type = new TextDecoder().decode(bytes.subarray(IHDR_TYPE_OFFSET, IHDR_WIDTH_OFFSET));
  if (type !== "IHDR") return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    widthPx: view.getUint32(IHDR_WIDTH_OFFSET),
    heightPx: view.getUint32(IHDR_HEIGHT_OFFSET),
  };
}
