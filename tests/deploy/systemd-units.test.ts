/**
 * The systemd units in deploy/systemd/ are what they claim: systemd's own checker
 * (`systemd-analyze verify`) finds nothing wrong with any of them; each restarts on failure
 * (but not on a usage error), runs as the dedicated user with a data directory, and waits for
 * the node's READY=1; its ExecStart, with the instance's name filled in, is the binary's real
 * `ftfs server <role>` taking a config `ftfs cluster init` wrote, which `--print-config`
 * accepts; and `systemd-sysusers` makes the user from ftfs.sysusers.conf. Needs systemd's tools
 * (Debian's systemd package): skipped without them, except under CI=true, where that fails.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "@ftfs/protocol/testing";

const REPO_ROOT = resolve(import.meta.dir, "../..");
const UNITS_DIR = join(REPO_ROOT, "deploy/systemd");
const INSTALLED_BINARY = "/usr/local/bin/ftfs";
const INSTALLED_CONFIG_ROOT = "/etc/ftfs";
/** One instance per role, as `ftfs cluster init` names them. */
const INSTANCES = [
  { role: "directory", instance: "d1" },
  { role: "storage", instance: "s1a" },
  { role: "s3", instance: "s3-1" },
] as const;

const systemdAnalyze = Bun.which("systemd-analyze");
const systemdSysusers = Bun.which("systemd-sysusers");
const missing =
  systemdAnalyze === null || systemdSysusers === null || Bun.which("python3") === null
    ? "systemd's tools or python3 are not installed (apt-get install systemd python3)"
    : null;

/** Binds the socket argv[1] names, says "bound", then prints each datagram on a line. */
const NOTIFY_RECEIVER = [
  "import socket, sys",
  "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
  "s.bind(sys.argv[1])",
  "print('bound')",
  "while True: print(s.recv(4096).decode().replace(chr(10), chr(92) + 'n'))",
].join("\n");

/** The lines a stream prints, one at a time. */
function readLines(stream: ReadableStream<Uint8Array>): { next: () => Promise<string> } {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return {
    next: async () => {
      for (;;) {
        const at = buffered.indexOf("\n");
        if (at >= 0) {
          const line = buffered.slice(0, at);
          buffered = buffered.slice(at + 1);
          return line;
        }
        const chunk = await reader.read();
        if (chunk.done) return "";
        buffered += decoder.decode(chunk.value, { stream: true });
      }
    },
  };
}

let root = "";
let binary = "";

beforeAll(async () => {
  if (missing !== null) return;
  root = await mkdtemp(join(tmpdir(), "ftfs-units-"));
  binary = join(root, "ftfs");
  const built = Bun.spawnSync([process.execPath, "run", "build", "--outfile", binary], {
    cwd: REPO_ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (built.exitCode !== 0) throw new Error(`bun run build failed: ${built.stderr.toString()}`);
  const etc = join(root, "etc");
  const init = Bun.spawnSync([
    binary,
    ...["cluster", "init", "--directory", "10.0.0.1:7101", "--storage", "s1=10.0.0.1:7111"],
    ...["--s3", "10.0.0.1:7180", "--out", etc, "--config-root", etc],
  ]);
  if (init.exitCode !== 0) throw new Error(`cluster init failed: ${init.stderr.toString()}`);
});

afterAll(async () => {
  if (root !== "") await rm(root, { recursive: true, force: true });
});

/** The unit as it would be installed, but pointing at this test's binary and configs. */
async function localUnit(role: string): Promise<{ path: string; text: string }> {
  const name = `ftfs-${role}@.service`;
  const text = (await readFile(join(UNITS_DIR, name), "utf8"))
    .replaceAll(INSTALLED_BINARY, binary)
    .replaceAll(INSTALLED_CONFIG_ROOT, join(root, "etc"));
  const folder = join(root, "units");
  await mkdir(folder, { recursive: true });
  const path = join(folder, name);
  await writeFile(path, text);
  return { path, text };
}

function setting(text: string, key: string): string | null {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${key}=`));
  return line === undefined ? null : line.slice(key.length + 1);
}

describe("systemd units", () => {
  test("systemd's tools are here (CI installs them)", () => {
    expect(missing).toBeNull();
  });

  for (const { role, instance } of INSTANCES) {
    test(`ftfs-${role}@${instance}: systemd-analyze verify finds nothing`, async () => {
      const unit = await localUnit(role);
      const instancePath = unit.path.replace("@.service", `@${instance}.service`);
      const verified = Bun.spawnSync([systemdAnalyze ?? "", "verify", instancePath], {
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(verified.stderr.toString()).toBe("");
      expect(verified.exitCode).toBe(0);
    });

    test(`ftfs-${role}@${instance}: restart, user, data, readiness as promised`, async () => {
      const { text } = await localUnit(role);
      expect(setting(text, "Type")).toBe("notify");
      expect(setting(text, "Restart")).toBe("on-failure");
      expect(setting(text, "RestartPreventExitStatus")).toBe("2");
      expect(setting(text, "User")).toBe("ftfs");
      expect(setting(text, "StateDirectory")).toBe("ftfs");
    });

    test(`ftfs-${role}@${instance}: ExecStart runs the real subcommand on its config`, async () => {
      const { text } = await localUnit(role);
      const execStart = setting(text, "ExecStart") ?? "";
      const argv = execStart.replaceAll("%i", instance).split(" ");
      expect(argv.slice(0, 3)).toEqual([binary, "server", role]);
      const printed = Bun.spawnSync([...argv, "--print-config"], {
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(printed.stderr.toString()).toBe("");
      expect(printed.exitCode).toBe(0);
      const output = printed.stdout.toString();
      expect(output).toContain(`# Config file: ${join(root, "etc", `${instance}.toml`)}`);
      expect(output).toMatch(/^listen = "10\.0\.0\.1:71\d\d" {2}# config$/m);
      expect(output).toMatch(/^cluster-key-file = ".+cluster\.key" {2}# config$/m);
    });
  }

  test("the checker is not blind: a unit with a wrong value is reported", async () => {
    const { text } = await localUnit("directory");
    const broken = join(root, "units", "broken@.service");
    await writeFile(broken, text.replace("Restart=on-failure", "Restart=sometimes"));
    const verified = Bun.spawnSync([systemdAnalyze ?? "", "verify", broken.replace("@.", "@d1.")], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(verified.stderr.toString()).toContain("restart specifier");
  });

  test("a node started as the unit starts it tells systemd READY=1, then STOPPING=1", async () => {
    const socketPath = join(root, "notify.sock");
    // systemd's side of the protocol: a unix datagram socket, each datagram printed as a line.
    const receiver = Bun.spawn(["python3", "-u", "-c", NOTIFY_RECEIVER, socketPath], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const lines = readLines(receiver.stdout);
    expect(await lines.next()).toBe("bound");
    const port = await freePort();
    const node = Bun.spawn(
      [binary, "server", "directory", "--node", "d1", "--listen", `127.0.0.1:${port}`],
      {
        env: {
          ...process.env,
          NOTIFY_SOCKET: socketPath,
          FTFS_DATA: join(root, "d1"),
          FTFS_INSECURE: "true",
        },
        stdout: "ignore",
        stderr: "ignore",
      },
    );
    try {
      expect(await lines.next()).toMatch(/^READY=1\\nSTATUS=directory node d1 serves at /);
      node.kill("SIGTERM");
      expect(await lines.next()).toMatch(/^STOPPING=1\\n/);
      expect(await node.exited).toBe(0);
    } finally {
      node.kill("SIGKILL");
      receiver.kill("SIGKILL");
    }
  });

  test("ftfs.sysusers.conf makes the ftfs system user, home the data folder", async () => {
    const fakeRoot = join(root, "sysroot");
    await mkdir(join(fakeRoot, "etc"), { recursive: true });
    const made = Bun.spawnSync(
      [systemdSysusers ?? "", `--root=${fakeRoot}`, join(UNITS_DIR, "ftfs.sysusers.conf")],
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(made.exitCode).toBe(0);
    const passwd = await readFile(join(fakeRoot, "etc/passwd"), "utf8");
    expect(passwd).toMatch(/^ftfs:x:\d+:\d+:[^:]*:\/var\/lib\/ftfs:\/usr\/sbin\/nologin$/m);
  });
});
