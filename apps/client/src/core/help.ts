/** The `--help` texts of the CLI, one per topic. Pure strings. */

import { assertNever } from "@ftfs/protocol/core";
import type { HelpTopic } from "./args.ts";

const COMMON = `
common flags:
  --cluster host:port[,…]  directory addresses (else $FTFS_CLUSTER, else the session's,
                           else the local cluster 127.0.0.1:7101-7103)
  --cluster-key-file PATH  act with the cluster key (admin commands; else
                           $FTFS_CLUSTER_KEY, else the session's admin user)
  --tls-ca PATH            connect with TLS, trusting this CA (else $FTFS_TLS_CA;
                           a cluster whose nodes run --tls-cert)
  --json                   machine-readable output (one JSON document); errors too,
                           as {"error": {"code", "message"}} on stderr
  --help, -h               this help
  --version                this program's version (ftfs --version)`;

const MAIN = `usage: ftfs <uid> c|a|r|d …        the seed's commands
       ftfs put|get|ls|rm|status …    friendly forms (user from the session or --user)
       ftfs [shell]                   interactive prompt

seed commands:
  ftfs <uid> c                  connect as <uid>: print the directory primary, remember the session
  ftfs <uid> a <file>…          upload files under their base names (existing name: new version)
  ftfs <uid> r <name>           write the file's bytes to stdout (--version N: an older one)
  ftfs <uid> d                  list files (name, size, version, time) from the directory
  ftfs <uid> d --from storage   list files as the storage nodes know them
  ftfs <uid> d --stale          list files from whichever directory node answers first, even
                                with no primary elected (may miss the newest writes)

friendly forms:
  ftfs put <file>… [--as name]  upload (an interrupted upload resumes when run again)
  ftfs put - --as <name>        upload standard input
  ftfs put -r <folder>…         upload every file under each folder as folder/sub/file
  ftfs get <name> [-o file|-]   download to ./<name>, to a file, or to stdout (-o -);
                                an existing local file is kept unless --force
  ftfs ls [--from storage]      list (--stale: from any directory node, as d --stale)
  ftfs rm <name>                delete a file (every version)
  ftfs status [--watch]         the health verdict, every member (role, group, address,
                                state, primary/backup, epoch) and every storage group;
                                --watch: again every 2 s, with what changed
  ftfs rebalance                move existing file data from fuller storage groups to
                                emptier ones (--threshold percent: how even; default 10)
  ftfs admin user add|rm|ls     users of a secure cluster (add prints a secret once)
  ftfs admin directory ls|add|remove  the directory group's members, one change at a time
  ftfs key create|ls|rm         your S3 access keys (create prints the secret once)
  ftfs whoami                   who commands act as, on which cluster; other logins here
  ftfs logout [uid] [--all]     forget a login here (default: the current user's)
  --user <uid>                  act as <uid> instead of the session's user
${COMMON}

session: \`c\` remembers the user and cluster (and on a secure cluster each user's
session, mode 0600) in $FTFS_CONFIG_DIR (else $XDG_CONFIG_HOME/ftfs, else
~/.config/ftfs)/session.json. Secrets: $FTFS_SECRET, --secret-file, or a prompt.
exit status: 0 ok, 1 error (one line on stderr), 2 usage error.`;

const TOPICS: Readonly<Record<Exclude<HelpTopic, "main">, string>> = {
  c: `usage: ftfs <uid> c [--secret-file PATH]

Connect as <uid>, print which directory node is primary, and remember the user
and cluster for later commands. On a secure cluster this logs in: the secret
comes from $FTFS_SECRET, --secret-file, or a prompt on a terminal; it never
leaves this machine (SCRAM). The session (a token and its key, valid 12 hours,
never the secret) is kept with mode 0600 beside the user and cluster. On an
insecure cluster (no cluster key) the user is created on first connect.`,
  a: `usage: ftfs <uid> a <file>… [--as name]
       ftfs <uid> a - --as <name>
       ftfs <uid> a -r <folder>… [--as name]

Upload each local file under its base name; an existing name gets a new version.
Prints one line per file: name, version, size, sha256. As \`put\` (see its help):
interrupted uploads resume, \`-\` reads standard input, \`-r\` uploads folders.`,
  r: `usage: ftfs <uid> r <name> [--version N]

Write the newest version of <name> to stdout, byte for byte (verified by sha256).
--version N writes an older version the cluster still keeps (the directory keeps
the newest few of each name: --keep-versions, 3 by default).`,
  d: `usage: ftfs <uid> d [--from directory|storage]
       ftfs <uid> d --stale

List <uid>'s files: name, size, version, time. --from storage asks one live node
of every storage group what it holds instead.

--stale takes the list from the first directory node that answers, primary or
backup, as of that node's applied state: it works while no primary is elected,
but may miss the newest writes. The output is the same as without it.`,
  put: `usage: ftfs put <file>… [--as name] [--user uid]
       ftfs put - --as <name>
       ftfs put -r <folder>… [--as name]

Upload local files (stored under their base names, or --as for one file).

An upload stopped partway (Ctrl-C, a kill, a network gone) resumes when the same
command runs again on the unchanged file: chunks the cluster confirms it holds
for that upload are not sent again. What was kept is said when it stops; it is
kept until the upload's deadline (a day by default).

-      read standard input to its end (any length; memory stays bounded) and
       store it as --as <name>. A stream cannot be resumed: it is read once,
       so Ctrl-C stores nothing, and the command must run again with the
       whole input.
-r     upload every file under each folder, named <folder>/<sub>/<file> (or
       --as <name>/…): keys that \`ls\` lists and S3 clients see as folders.
       Each part must be a valid file name; links to folders, sockets and
       devices cannot be stored, and any such entry refuses the whole run
       before anything is sent. One progress bar for the whole run. Run
       again, a file the cluster already holds with the same bytes (its
       newest version's SHA-256) is not sent ("unchanged"), and one stopped
       partway resumes: an interrupted -r run goes on where it stopped.`,
  get: `usage: ftfs get <name> [-o file|-] [--version N] [--force] [--user uid]

Download <name> to ./<name> (for a/b/c, ./c), to -o file (a folder: into it),
or to stdout with -o -. The file appears whole or not at all. A local file that
is already there is kept, and the download refused, unless --force.
--version N downloads an older version still kept.`,
  ls: `usage: ftfs ls [--from directory|storage] [--user uid]
       ftfs ls --stale [--user uid]

List files: name, size, version, time. --from storage and --stale as for
\`ftfs <uid> d\` (see its help). Names too wide for the table are cut with an
ellipsis; --json has them whole.`,
  rm: `usage: ftfs rm <name> [--user uid]

Delete <name> (all its versions).`,
  status: `usage: ftfs status [--watch]

The cluster's health in one line (healthy, degraded or unavailable, and why),
then every cluster member (node, role, group, address, state, primary/backup,
epoch) and every storage group's epoch, primary and in-sync replicas.

--watch   ask again every 2 s until Ctrl-C: on a terminal the status is redrawn
          with the recent events under it; in a pipe or a file, one timestamped
          line per change (a member dead or back, a failover, a replica out of
          or back in sync, the verdict changing). With --json, one status
          object per line.`,
  rebalance: `usage: ftfs rebalance [--threshold percent]

An administrator's command: move existing file data from the fullest storage
groups to the emptiest, until every group's used share is within --threshold
percent of every other's (default 10), at the rate the directory was started
with (--rebalance-rate) and at most its per-run budget. Waits for the run to
end and prints what moved: versions, chunks, bytes, and per group its usage
before, bytes out and in, and its usage once garbage collection has freed the
moved copies (after the storage nodes' --gc-grace).

Safe to repeat, and safe while clients read and write: a version switches to its
new group only after every chunk is stored there, and only if it did not change
meanwhile; readers holding the old location still find the old copies.`,
  admin: `usage: ftfs admin user add <uid> [--admin] [--quota-bytes N] [--quota-files N]
       ftfs admin user rm <uid>
       ftfs admin user ls
       ftfs admin key create|ls <uid>
       ftfs admin key rm <uid> <access key id>
       ftfs admin directory ls
       ftfs admin directory add <node> <host:port>
       ftfs admin directory remove <node>
       ftfs admin storage ls
       ftfs admin storage drain <node> [--wait]
       ftfs admin storage drain --cancel <node>

Users of a secure cluster (one started with a cluster key). \`user add\` makes a
random secret here, sends the directory only a salted verifier (SCRAM-SHA-256),
and prints the secret once: give it to the user, who logs in with
\`FTFS_SECRET=<secret> ftfs <uid> c\`. --admin lets the user run admin commands;
--quota-bytes (e.g. 10GiB) and --quota-files override the directory's defaults.
\`user rm\` removes the user and ends its sessions (its files stay under the uid).
\`user ls\` lists users, roles, quotas and usage. \`key …\` manages any user's S3 access
keys, as \`ftfs key\` does a user's own.

\`directory …\` changes the directory group one node at a time: \`add\` makes the node
a learner (start it with --new-member and an empty folder; it copies the log and is
promoted to voter once it keeps up), \`remove\` takes one out (refused if the voters
that answer would then be too few to agree). To replace a node whose disk died:
\`remove\` its id, then \`add\` a new one.

\`storage ls\` lists every storage node: its group, its part in it (primary, in sync,
catching up, draining, drained, spare), gossip's state, bytes used and free, and
its progress: how much of its primary's bytes a node catching up holds, with the
time left. \`storage drain\` retires a node: it stops being primary, a spare copies
its group's data (the node keeps serving meanwhile), and it leaves only once the
group holds its full count of copies without it; then it is safe to stop. --wait
follows the drain until then. \`--cancel\` keeps the node (or brings it back).

Authorized by the cluster key (--cluster-key-file PATH or $FTFS_CLUSTER_KEY), or
by the session of a user added with --admin.`,
  key: `usage: ftfs key create [--user <uid>]
       ftfs key ls [--user <uid>]
       ftfs key rm <access key id> [--user <uid>]

S3 access keys of the acting user (the session's, or --user): what S3 clients
sign their requests with. \`create\` prints the key id and its secret; the secret
is shown only this once (the cluster keeps it sealed under the cluster key). A
user holds at most 8 keys; \`rm\` ends a key at once. Needs a secure cluster.`,
  whoami: `usage: ftfs whoami

Who friendly commands (put, get, ls, rm, key) act as, until when the login holds,
and on which cluster; every other user logged in here; where the session is kept.
Nothing is asked of the cluster. Exit status 1 when nobody is logged in.`,
  logout: `usage: ftfs logout [uid]
       ftfs logout --all

Forget a user's login on this machine (default: the user commands act as): its
token and session key are deleted from the session file. Other users' logins stay;
if the current user logs out, commands have no user until the next \`c\` or --user.
--all forgets the whole session, its cluster address included.`,
  shell: `usage: ftfs [shell]

An interactive prompt over one connection. Each line is a command without the
leading \`ftfs\`: \`alice c\`, \`alice a x.txt y.txt\`, \`alice r x.txt\`, \`ls\`, \`status\`.
\`exit\` or end of input quits; the status is that of the last command.`,
};

export function helpText(topic: HelpTopic): string {
  switch (topic) {
    case "main":
      return MAIN;
    case "c":
    case "a":
    case "r":
    case "d":
    case "put":
    case "get":
    case "ls":
    case "rm":
    case "status":
    case "rebalance":
    case "admin":
    case "key":
    case "whoami":
    case "logout":
    case "shell":
      return `${TOPICS[topic]}\n${COMMON}`;
    default:
      return assertNever(topic);
  }
}
