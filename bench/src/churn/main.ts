/** `bun run bench`: the churn benchmark (bench/src/churn/run.ts). */

import { main } from "./run.ts";

try {
  process.exit(await main(process.argv.slice(2)));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}
