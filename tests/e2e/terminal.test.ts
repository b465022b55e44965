/**
 * What a person at a terminal sees, through the real `ftfs` on a pseudo-terminal. The shell
 * (`ftfs` alone): Tab completes a unique word with a space after it, so the next Tab lists the
 * remote names, once; Ctrl-C drops the line being typed and the prompt goes on; Ctrl-C during
 * an upload stops it and says what was kept; Ctrl-D ends the prompt's line and the shell.
 * Under `bunx ftfs` (bun launching the CLI as its child, both hit by the terminal's Ctrl-C),
 * the stopped-upload line comes after the progress line is erased, on a line of its own, last.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  E2E_CHUNK_BYTES,
  E2E_TEST_TIMEOUT_MS,
  expectOk,
  MIB,
  randomBytes,
  useCluster,
} from "./helpers.ts";
import {
  atEnd,
  CLEAR_LINE,
  ftfsInTerminal,
  KEY,
  PROMPT_AT_END,
  type TerminalRun,
} from "./terminal.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

/** Long enough on a loaded machine that Ctrl-C lands while chunks are moving. */
const BIG_FILE_BYTES = 24 * MIB;
/** A human's two Tab presses arrive as two reads; readline takes one read of two as a paste. */
const BETWEEN_KEYS_MS = 150;

const fx = useCluster({
  directories: 1,
  groups: [
    { name: "s1", size: 2 },
    { name: "s2", size: 2 },
  ],
  chunkBytes: E2E_CHUNK_BYTES,
});

function env(): Record<string, string> {
  return { FTFS_CONFIG_DIR: fx.ws.configDir, FTFS_CLUSTER: fx.clusterList };
}

beforeAll(async () => {
  expectOk(await fx.ws.ftfs(["ann", "c"], { env: env() }));
  for (const name of ["notes-one.txt", "notes-two.txt", "photo.jpg"]) {
    expectOk(await fx.ws.ftfs(["ann", "a", await fx.ws.file(name, `${name}\n`)], { env: env() }));
  }
});

/** Type `keys`, then wait until the terminal shows `pattern` after what it showed before. */
async function typeAndSee(run: TerminalRun, keys: string, pattern: RegExp): Promise<void> {
  const from = run.output().length;
  run.type(keys);
  await run.waitFor(pattern, from);
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

test("the shell: Tab completes, double Tab lists once, Ctrl-C drops the line, Ctrl-D ends", async () => {
  const shell = ftfsInTerminal([], { env: env() });
  await shell.waitFor(PROMPT_AT_END);
  // A unique command completes with a space after it, as a shell's does.
  await typeAndSee(shell, `ge${KEY.tab}`, /t $/);
  // Typed out, then two Tabs: the first finds no common start among the names, the second
  // lists them, once, and the line comes back as it was.
  await typeAndSee(shell, `${KEY.ctrlU}get `, /get $/);
  const beforeList = shell.output().length;
  shell.type(KEY.tab);
  await Bun.sleep(BETWEEN_KEYS_MS);
  await typeAndSee(shell, KEY.tab, atEnd(String.raw`photo\.jpg[\s\S]*ftfs> get `));
  const listed = shell.output().slice(beforeList);
  expect(count(listed, "notes-one.txt")).toBe(1);
  expect(count(listed, "photo.jpg")).toBe(1);
  expect(listed).not.toContain("\t");
  // A common prefix completes without listing.
  await typeAndSee(shell, `no${KEY.tab}`, /tes-$/);
  // Ctrl-C drops the line; the shell goes on with a fresh prompt.
  await typeAndSee(shell, KEY.ctrlC, atEnd(String.raw`\r\n[\s\S]*ftfs> `));
  await typeAndSee(shell, `ann d${KEY.enter}`, atEnd(String.raw`photo\.jpg[\s\S]*ftfs> `));
  // Ctrl-D on an empty line: the prompt's line ends, then the shell.
  shell.type(KEY.ctrlD);
  expect(await shell.exited).toBe(0);
  expect(shell.output()).toMatch(atEnd("ftfs> ", String.raw`\r?\n`));
  expect(shell.output()).not.toContain("internal error");
});

test("the shell: Ctrl-C during an upload stops it and says what was kept", async () => {
  const path = join(fx.ws.folder, "shell-big.bin");
  await writeFile(path, randomBytes(BIG_FILE_BYTES));
  const shell = ftfsInTerminal([], { env: env() });
  await shell.waitFor(PROMPT_AT_END);
  await typeAndSee(shell, `put ${path}${KEY.enter}`, /shell-big\.bin \[[#-]+\] +[1-9]\d%/);
  shell.type(KEY.ctrlC);
  expect(await shell.exited).toBe(130);
  expect(shell.output()).toMatch(
    new RegExp(
      `${CLEAR_LINE.replace("[", "\\[")}ftfs: stopped uploading .*shell-big\\.bin: .* are stored .*; ` +
        "run the same command again to resume\\r\\n$",
    ),
  );
  expect(shell.output()).not.toContain("internal error");
});

test("under bunx, Ctrl-C's stopped-upload line follows the erased progress line, last", async () => {
  const path = join(fx.ws.folder, "bunx-big.bin");
  await writeFile(path, randomBytes(BIG_FILE_BYTES));
  const upload = ftfsInTerminal(["put", path], { env: env(), viaBunx: true });
  await upload.waitFor(/bunx-big\.bin \[[#-]+\] +[1-9]\d%/);
  upload.type(KEY.ctrlC);
  await upload.exited;
  const shown = upload.output();
  const stopped = shown.indexOf("ftfs: stopped uploading");
  expect(stopped).toBeGreaterThan(0);
  // Erased just before: the line starts clean, at the left edge, after the last bar drawn.
  expect(shown.slice(stopped - CLEAR_LINE.length, stopped)).toBe(CLEAR_LINE);
  expect(shown.lastIndexOf("%")).toBeLessThan(stopped);
  // On its own line, and the last thing said.
  expect(shown.slice(stopped)).toMatch(
    /^ftfs: stopped uploading .*bunx-big\.bin: [\d.]+ MiB of 24\.0 MiB are stored .*; run the same command again to resume\r\n$/,
  );
});
