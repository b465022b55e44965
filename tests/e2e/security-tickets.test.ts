/**
 * Placement tickets and receipts on real processes (a cluster with a cluster key): a storage
 * node takes a user's chunk only with the directory's ticket for its group, that user and
 * upload, unexpired and within its bytes; the directory commits a manifest only when every
 * chunk carries its group primary's receipt. The test holds the cluster key, as an operator's
 * tool would: it adds the user and mints its session, then acts as that user.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { FtfsError, issueToken, type Ticket } from "@ftfs/protocol/core";
import { issueTicket, NODE_HASHES, RpcClient, type ConnectOptions } from "@ftfs/protocol/io";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import { E2E_CHUNK_BYTES, E2E_TEST_TIMEOUT_MS, randomBytes, sha256 } from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

const UID = "alice";
const SESSION_TTL_MS = 60 * 60_000;

let cluster: LocalCluster;
let alice: ConnectOptions;
const clients: RpcClient[] = [];

beforeAll(async () => {
  cluster = await startCluster({
    secure: true,
    directories: 1,
    groups: [
      { name: "s1", size: 1 },
      { name: "s2", size: 1 },
    ],
    chunkBytes: E2E_CHUNK_BYTES,
  });
  const added = await cluster.addUser(UID);
  const signing = cluster.keyring.subKeys("session").signing;
  if (signing === null) throw new Error("a secure cluster has a session key");
  const claims = {
    uid: UID,
    sessionId: "e2e-session",
    admin: false,
    expiresAtMs: Date.now() + SESSION_TTL_MS,
    generation: added.generation,
  };
  const session = issueToken(NODE_HASHES, signing, claims);
  alice = { credentials: { kind: "user", token: session.token, sessionKey: session.sessionKey } };
});

afterAll(async () => {
  for (const client of clients.splice(0)) client.close();
  await cluster?.stop();
});

function directory(): string {
  return cluster.directoryAddresses[0] ?? "";
}

async function connect(address: string, options: ConnectOptions): Promise<RpcClient> {
  const client = await RpcClient.connect(address, 2_000, options);
  clients.push(client);
  return client;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(FtfsError);
  return (outcome as FtfsError).code;
}

async function place(name: string, bytes: number) {
  const asAlice = await connect(directory(), alice);
  return (await asAlice.call("placeUpload", { uid: UID, name, bytes })).body;
}

function ticketFor(tickets: readonly Ticket[] | undefined, group: string): Ticket {
  const ticket = tickets?.find((candidate) => candidate.group === group);
  if (ticket === undefined) throw new Error(`no ticket for ${group}`);
  return ticket;
}

test("a user's chunk is stored only with the directory's ticket for this group, upload and size", async () => {
  const bytes = randomBytes(4096);
  const placement = await place("photo", bytes.length);
  expect(placement.tickets?.map((ticket) => ticket.group).sort()).toEqual(["s1", "s2"]);
  const owner = { uid: UID, name: "photo", uploadId: placement.uploadId };
  const s1 = cluster.node("s1a").address;
  const storage = await connect(s1, alice);
  const put = (ticket: Ticket | undefined, chunk = bytes, who = owner) =>
    storage.call(
      "putChunk",
      ticket === undefined
        ? { chunkId: sha256(chunk), owner: who }
        : { chunkId: sha256(chunk), owner: who, ticket },
      { payload: chunk },
    );
  const good = ticketFor(placement.tickets, "s1");
  expect(await codeOf(put(undefined))).toBe("TICKET_REQUIRED");
  expect(await codeOf(put(ticketFor(placement.tickets, "s2")))).toBe("TICKET_INVALID");
  expect(await codeOf(put({ ...good, bytesMax: good.bytesMax * 1000 }))).toBe("TICKET_INVALID");
  expect(await codeOf(put(good, bytes, { ...owner, uploadId: "another-upload" }))).toBe(
    "TICKET_INVALID",
  );
  const grant = {
    uploadId: placement.uploadId,
    uid: UID,
    name: "photo",
    group: "s1",
    bytesMax: bytes.length,
  };
  const expired = issueTicket(cluster.keyring, grant, Date.now() - 1_000);
  expect(await codeOf(put(expired ?? undefined))).toBe("UPLOAD_EXPIRED");
  // A ticket for the 4096-byte file does not carry a larger chunk.
  const larger = randomBytes(8192);
  expect(await codeOf(put(good, larger))).toBe("TICKET_INVALID");
  const stored = await put(good);
  expect(stored.body.receipt).toMatch(/^[0-9a-f]{8}\./);
  const node = await connect(s1, cluster.nodeConnectOptions());
  const present = await node.call("hasChunks", { chunkIds: [sha256(bytes), sha256(larger)] });
  expect(present.body.present).toEqual([sha256(bytes)]);
});

test("a manifest commits only with every chunk's receipt from its group's primary", async () => {
  const first = randomBytes(E2E_CHUNK_BYTES);
  const second = randomBytes(100);
  const fileBytes = first.length + second.length;
  const placement = await place("report", fileBytes);
  const owner = { uid: UID, name: "report", uploadId: placement.uploadId };
  const stored: Array<{ id: string; bytes: number; group: string; receipt: string }> = [];
  for (const [chunk, group] of [
    [first, "s1"],
    [second, "s2"],
  ] as const) {
    const storage = await connect(cluster.node(`${group}a`).address, alice);
    const ticket = ticketFor(placement.tickets, group);
    const answer = await storage.call(
      "putChunk",
      { chunkId: sha256(chunk), owner, ticket },
      { payload: chunk },
    );
    stored.push({
      id: sha256(chunk),
      bytes: chunk.length,
      group,
      receipt: answer.body.receipt ?? "",
    });
  }
  const chunks = stored.map(({ id, bytes, group }) => ({ id, bytes, group }));
  const receipts = stored.map((chunk) => chunk.receipt);
  const asAlice = await connect(directory(), alice);
  const commit = (extra: { receipts?: string[] }, list = chunks) =>
    asAlice.call("commitUpload", {
      uid: UID,
      name: "report",
      uploadId: placement.uploadId,
      bytes: fileBytes,
      sha256: sha256(new Uint8Array([...first, ...second])),
      chunks: list,
      ...extra,
    });
  const forged = receipts.map(
    (receipt) => `${receipt.slice(0, -2)}${receipt.endsWith("AA") ? "BB" : "AA"}`,
  );
  expect(await codeOf(commit({}))).toBe("RECEIPT_INVALID");
  expect(await codeOf(commit({ receipts: forged }))).toBe("RECEIPT_INVALID");
  expect(await codeOf(commit({ receipts: [...receipts].reverse() }))).toBe("RECEIPT_INVALID");
  // A chunk no primary stored, claimed with another chunk's receipt.
  const invented = [
    { ...chunks[0], id: sha256(randomBytes(E2E_CHUNK_BYTES)) },
    chunks[1],
  ] as typeof chunks;
  expect(await codeOf(commit({ receipts }, invented))).toBe("RECEIPT_INVALID");
  expect((await commit({ receipts })).body.version).toBe(1);
});
