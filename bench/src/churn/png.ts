/**
 * metrics.png from report.html with a headless Chromium (Debian's `chromium`), when one is
 * installed; otherwise a note saying why there is no picture. Owns the browser process it runs.
 */

const BROWSERS = ["chromium", "chromium-browser", "google-chrome"] as const;
/** Wide enough for the 1300 px charts, tall enough for all five and the summary. */
const WINDOW_SIZE = "1340,1560";
/** A cold Chromium start on a loaded 2-core machine takes seconds; this only bounds a hang. */
const RENDER_TIMEOUT_MS = 60_000;

export async function renderPng(
  htmlPath: string,
  pngPath: string,
): Promise<{ ok: boolean; note: string }> {
  const browser = BROWSERS.map((name) => Bun.which(name)).find((path) => path !== null);
  if (browser === undefined || browser === null) {
    return { ok: false, note: "no headless browser (apt-get install -y chromium)" };
  }
  const child = Bun.spawn(
    [
      browser,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      `--window-size=${WINDOW_SIZE}`,
      `--screenshot=${pngPath}`,
      `file://${htmlPath}`,
    ],
    {
      stdout: "ignore",
      stderr: "pipe",
    },
  );
  const timer = setTimeout(() => child.kill("SIGKILL"), RENDER_TIMEOUT_MS);
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  if (code !== 0 || !(await Bun.file(pngPath).exists())) {
    return {
      ok: false,
      note: `${browser} exited ${code}: ${stderr.trim().split("\n").at(-1) ?? ""}`,
    };
  }
  return { ok: true, note: "" };
}
