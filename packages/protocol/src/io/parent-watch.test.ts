/** A node whose launcher is gone stops itself; without the variable it watches nothing. */
import { expect, test } from "bun:test";
import { join } from "node:path";

const NODE_SCRIPT = `
  import { exitWithParent } from ${JSON.stringify(join(import.meta.dir, "parent-watch.ts"))};
  exitWithParent(() => { console.log("orphaned"); process.exit(0); });
  setTimeout(() => { console.log("still here"); process.exit(0); }, 2500);
`;

async function runWithParent(parentPid: string | undefined): Promise<string> {
  const child = Bun.spawn([process.execPath, "-e", NODE_SCRIPT], {
    env: { ...process.env, FTFS_PARENT_PID: parentPid ?? "" },
    stdout: "pipe",
  });
  return (await new Response(child.stdout).text()).trim();
}

test("a node whose parent process is gone notices and stops itself", async () => {
  const gone = Bun.spawn(["true"]);
  await gone.exited;
  expect(await runWithParent(String(gone.pid))).toBe("orphaned");
});

test("a node with a live parent, or none named, keeps running", async () => {
  const [withParent, withoutParent] = await Promise.all([
    runWithParent(String(process.pid)),
    runWithParent(undefined),
  ]);
  expect(withParent).toBe("still here");
  expect(withoutParent).toBe("still here");
});
