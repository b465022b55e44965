/**
 * `ftfs cluster init`'s plan: nodes named as the local cluster names them, one config per node
 * whose keys are the servers' flags (a directory joins the other directories, a storage node
 * and a gateway every directory), the commands grouped by host in the order hosts were first
 * named, and every mistake in the host lists reported at once.
 */
import { describe, expect, test } from "bun:test";
import { instructions, nodesByHost, planCluster, type ClusterInitInput } from "./cluster-plan.ts";

const INPUT: ClusterInitInput = {
  directories: ["h1:7101", "h2:7101", "h3:7101"],
  storage: ["s1=h1:7111", "s1=h2:7111", "s1=h3:7111", "s2=h1:7121"],
  s3: ["h2:7180"],
  dataRoot: "/var/lib/ftfs",
  configRoot: "/etc/ftfs",
  httpPortOffset: 1000,
};

function planned(input: ClusterInitInput = INPUT) {
  const result = planCluster(input);
  if (!result.ok) throw new Error(result.problems.join("; "));
  return result.plan;
}

describe("cluster plan", () => {
  test("ids, files and commands per node", () => {
    const plan = planned();
    expect(plan.nodes.map((node) => `${node.role}:${node.id}@${node.host}`)).toEqual([
      "directory:d1@h1",
      "directory:d2@h2",
      "directory:d3@h3",
      "storage:s1a@h1",
      "storage:s1b@h2",
      "storage:s1c@h3",
      "storage:s2a@h1",
      "s3:s3-1@h2",
    ]);
    const d2 = plan.nodes[1];
    expect(d2?.command).toBe("ftfs server directory --config /etc/ftfs/d2.toml");
    expect(d2?.text).toContain('join = ["h1:7101", "h3:7101"]\nexpect = 3\n');
    expect(d2?.text).toContain('data = "/var/lib/ftfs/d2"\n');
    expect(d2?.text).toContain('http-listen = "h2:8101"\n');
    expect(d2?.text).toContain('cluster-key-file = "/etc/ftfs/cluster.key"\n');
    const s2a = plan.nodes[6];
    expect(s2a?.text).toContain('group = "s2"\n');
    expect(s2a?.text).toContain('join = ["h1:7101", "h2:7101", "h3:7101"]\n');
    expect(plan.nodes[7]?.text).toContain('cluster = ["h1:7101", "h2:7101", "h3:7101"]\n');
  });

  test("hosts keep the order first named; the printout has each host's commands and logins", () => {
    const plan = planned();
    expect(nodesByHost(plan).map(([host, nodes]) => [host, nodes.map((n) => n.id)])).toEqual([
      ["h1", ["d1", "s1a", "s2a"]],
      ["h2", ["d2", "s1b", "s3-1"]],
      ["h3", ["d3", "s1c"]],
    ]);
    const text = instructions(plan, "out", "/etc/ftfs");
    expect(text).toContain(
      "host h3  (files: cluster.key d3.toml s1c.toml)\n" +
        "  ftfs server directory --config /etc/ftfs/d3.toml\n" +
        "  ftfs server storage --config /etc/ftfs/s1c.toml\n" +
        "  # or: systemctl enable --now ftfs-directory@d3 ftfs-storage@s1c\n",
    );
    expect(text).toContain(
      "  ftfs admin user add ops --admin --cluster h1:7101,h2:7101,h3:7101 " +
        "--cluster-key-file out/cluster.key\n",
    );
    expect(text).toContain("  FTFS_SECRET=<secret> ftfs ops c --cluster h1:7101,h2:7101,h3:7101\n");
  });

  test("no HTTP pages with an offset of 0", () => {
    const plan = planned({ ...INPUT, httpPortOffset: 0 });
    expect(plan.nodes.every((node) => node.httpAddress === null)).toBe(true);
    expect(plan.nodes[0]?.text).not.toContain("http-listen");
  });

  test("every mistake at once", () => {
    const result = planCluster({
      ...INPUT,
      directories: ["h1:7101", "h1:7101"],
      storage: ["h1:7111", "s/1=h2:7111", "s1=nowhere"],
      s3: ["h3:65000"],
    });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems).toEqual([
      "--directory needs 1, 3, 5 addresses (a majority must survive a loss), not 2",
      "--directory: h1:7101 is given twice",
      "--storage: 'h1:7111' is not group=host:port (e.g. s1=10.0.0.1:7111)",
      "--storage: 's/1=h2:7111' is not group=host:port (e.g. s1=10.0.0.1:7111)",
      "--storage: 'nowhere' is not host:port",
      "--s3: port 65000 + --http-port-offset is past 65535",
    ]);
  });
});
