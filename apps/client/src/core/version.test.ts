/** Property: the version `ftfs --version` prints is the package's. */
import { expect, test } from "bun:test";
import { FTFS_VERSION } from "./version.ts";

test("the printed version is apps/client/package.json's", async () => {
  const pkg = (await Bun.file(new URL("../../package.json", import.meta.url)).json()) as {
    version: string;
  };
  expect(FTFS_VERSION).toBe(pkg.version);
});
