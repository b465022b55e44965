/**
 * This program's version, as `ftfs --version` prints it. Kept equal to apps/client's
 * package.json by a test (version.test.ts), so a release bumps both or fails.
 */
export const FTFS_VERSION = "0.1.0";

/** What the protocol frames carry (PROTOCOL_VERSION) is a separate number: see the output. */
export function versionLine(protocolVersion: number): string {
  return `ftfs ${FTFS_VERSION} (protocol ${protocolVersion})`;
}
