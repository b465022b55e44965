/**
 * `bun run build`: compiles bin/src/main.ts into one Linux x64 executable that carries the Bun
 * runtime (`dist/ftfs`, or `--outfile PATH`), so a host needs no Bun, Node or checkout. Baked
 * in: the version and commit (`ftfs --version`), and the web console's page and script, which
 * a binary could not read or bundle from source files it does not have.
 */

import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { buildConsoleAssets } from "@ftfs/directory/io";
import { parseFlags } from "@ftfs/protocol/io";
import { buildInfo } from "ftfs/main";

const REPO_ROOT = resolve(import.meta.dir, "../..");
const ENTRY = resolve(import.meta.dir, "main.ts");
export const BINARY_PATH_DEFAULT = resolve(REPO_ROOT, "dist/ftfs");
/** The hosts FTFS is built for (the issue's; Bun's own build for this machine when it is one). */
const COMPILE_TARGET = "bun-linux-x64";

export interface BuiltBinary {
  readonly path: string;
  readonly bytes: number;
  readonly buildMs: number;
  readonly version: string;
  readonly commit: string;
}

export async function buildBinary(outfile: string = BINARY_PATH_DEFAULT): Promise<BuiltBinary> {
  const startedMs = performance.now();
  const info = buildInfo();
  const assets = await buildConsoleAssets();
  await mkdir(dirname(outfile), { recursive: true });
  const built = await Bun.build({
    entrypoints: [ENTRY],
    compile: { target: COMPILE_TARGET, outfile },
    minify: true,
    define: {
      FTFS_BUILD_VERSION: JSON.stringify(info.version),
      FTFS_BUILD_COMMIT: JSON.stringify(info.commit),
      FTFS_CONSOLE_PAGE: JSON.stringify(assets.page),
      FTFS_CONSOLE_SCRIPT: JSON.stringify(assets.script),
    },
  });
  if (!built.success) {
    throw new Error(`the binary did not build:\n${built.logs.map(String).join("\n")}`);
  }
  return {
    path: outfile,
    bytes: Bun.file(outfile).size,
    buildMs: Math.round(performance.now() - startedMs),
    version: info.version,
    commit: info.commit,
  };
}

if (import.meta.main) {
  const flags = parseFlags(
    Bun.argv.slice(2),
    [{ name: "outfile", description: "where to write the binary", default: BINARY_PATH_DEFAULT }],
    {},
  );
  const binary = await buildBinary(resolve(flags.outfile ?? BINARY_PATH_DEFAULT));
  const mib = (binary.bytes / 1024 / 1024).toFixed(1);
  console.log(
    `built ${binary.path}: ftfs ${binary.version} (commit ${binary.commit}), ${mib} MiB, ` +
      `${binary.buildMs} ms`,
  );
}
