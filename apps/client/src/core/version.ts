/**
 * This program's version, as `ftfs --version` prints it (io/build-info.ts adds the commit). Kept equal to apps/client's
 * package.json by a test (version.test.ts), so a release bumps both or fails.
 */
export const FTFS_VERSION = "0.1.0";
