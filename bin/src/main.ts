#!/usr/bin/env bun
/**
 * `ftfs`, the one program: the client as always (`ftfs alice c`, `ftfs status`, …), and beside
 * it `ftfs server directory|storage|s3 …` (each node, with exactly the flags and FTFS_*
 * variables of `bun run apps/<app>`, through the same `run`), `ftfs cluster init …` and
 * `ftfs --version`. `bun run build` compiles this file into one executable that carries the
 * runtime; from a checkout, `bunx ftfs …` runs it as it is. It only dispatches: every app keeps
 * its own code, and this is the one place allowed to import them all.
 */

import { main as clientMain } from "ftfs/main";
import { run as runDirectory } from "@ftfs/directory/main";
import { run as runS3 } from "@ftfs/s3/main";
import { run as runStorage } from "@ftfs/storage/main";
import { EXIT_USAGE, PROCESS_OUTPUT } from "@ftfs/protocol/io";
import { clusterInit } from "./cluster-init.ts";

type ServerRun = (
  argv: readonly string[],
  env: typeof process.env,
  program: string,
) => Promise<number>;

const SERVERS: Readonly<Record<string, ServerRun>> = {
  directory: runDirectory,
  storage: runStorage,
  s3: runS3,
};

const MORE_HELP = `
servers and deployment (the one binary carries them all):
  ftfs server directory|storage|s3 [--config FILE] [flags]
                                start a node; \`ftfs server storage --help\` lists its flags,
                                --print-config shows what it would run with
  ftfs cluster init --directory h:p,… --storage s1=h:p,… [--s3 h:p,…]
                                a new cluster key and a config file per node
  ftfs --version                the version and the commit this was built from
`;

const CLUSTER_USAGE =
  "usage: ftfs cluster init --directory h:p,… --storage s1=h:p,… (see --help)\n";
const SERVER_USAGE =
  "usage: ftfs server directory|storage|s3 [flags]   (`ftfs server <kind> --help` for its flags)\n";

async function main(argv: readonly string[]): Promise<number | null> {
  const [first, second, ...rest] = argv;
  const wantsHelp = second === "--help" || second === "-h";
  if (first === "server") {
    const server = second === undefined ? undefined : SERVERS[second];
    if (server !== undefined) return server(rest, process.env, `ftfs server ${second}`);
    if (wantsHelp) PROCESS_OUTPUT.out(SERVER_USAGE);
    else
      PROCESS_OUTPUT.err(
        `ftfs: ${second === undefined ? "" : `unknown server '${second}'; `}${SERVER_USAGE}`,
      );
    return wantsHelp ? 0 : EXIT_USAGE;
  }
  if (first === "cluster") {
    if (second === "init") return clusterInit(rest, PROCESS_OUTPUT);
    if (wantsHelp) PROCESS_OUTPUT.out(CLUSTER_USAGE);
    else PROCESS_OUTPUT.err(`ftfs: ${CLUSTER_USAGE}`);
    return wantsHelp ? 0 : EXIT_USAGE;
  }
  await clientMain(argv);
  const askedHelp = argv.length === 1 && (first === "--help" || first === "-h" || first === "help");
  if (askedHelp) PROCESS_OUTPUT.out(MORE_HELP);
  return null; // the client set the exit status, and leaves once its output has drained
}

const status = await main(Bun.argv.slice(2));
if (status !== null) process.exit(status);
