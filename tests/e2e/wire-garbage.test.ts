/**
 * Bad bytes straight to a real server's port (guarantee 3): garbage, an oversize frame length,
 * another protocol version, a malformed request body, and a client that connects and vanishes
 * mid-frame. Each gets a typed error (or a clean close) and the node keeps serving everyone else.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { encodeFrameBytes, FRAME_BYTES_MAX, FRAME_KIND } from "@ftfs/protocol/core";
import { RpcClient } from "@ftfs/protocol/io";
import { startCluster, type LocalCluster } from "@ftfs/protocol/testing";
import { E2E_CHUNK_BYTES, E2E_TEST_TIMEOUT_MS, sendRaw } from "./helpers.ts";

setDefaultTimeout(E2E_TEST_TIMEOUT_MS);

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startCluster({
    directories: 1,
    groups: [{ name: "s1", size: 1 }],
    chunkBytes: E2E_CHUNK_BYTES,
  });
});

afterAll(async () => {
  await cluster?.stop();
});

function oversizePrefix(): Uint8Array {
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, FRAME_BYTES_MAX + 1);
  return prefix;
}

function otherVersionFrame(): Uint8Array {
  const frame = encodeFrameBytes(FRAME_KIND.request, 9, {
    op: "listFiles",
    epoch: 0,
    body: { uid: "x" },
  });
  frame[4] = 99;
  return frame;
}

async function stillServes(): Promise<void> {
  const directory = await RpcClient.connect(cluster.directoryAddresses[0] ?? "");
  const status = await directory.call("clusterStatus", {});
  expect(status.body.groups.map((group) => group.group)).toEqual(["s1"]);
  directory.close();
  const storage = await RpcClient.connect(cluster.node("s1a").address);
  expect((await storage.call("hasChunks", { chunkIds: [] })).body.present).toEqual([]);
  storage.close();
}

test("every server answers garbage, oversize, foreign-version and malformed frames with a typed error, and keeps serving", async () => {
  for (const node of cluster.nodes) {
    expect(
      await sendRaw(node.address, new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
    ).toMatch(/BAD_FRAME|FRAME_TOO_LARGE/);
    expect(await sendRaw(node.address, oversizePrefix())).toContain("FRAME_TOO_LARGE");
    expect(await sendRaw(node.address, otherVersionFrame())).toContain("UNSUPPORTED_VERSION");
    const malformed = encodeFrameBytes(FRAME_KIND.request, 3, {
      op: "getManifest",
      epoch: 0,
      body: { uid: 7 },
    });
    expect(await sendRaw(node.address, malformed)).toMatch(/BAD_REQUEST|UNKNOWN_OP/);
    const halfFrame = encodeFrameBytes(FRAME_KIND.request, 4, {
      op: "listFiles",
      epoch: 0,
      body: { uid: "x" },
    });
    await sendRaw(node.address, halfFrame.subarray(0, 10), { closeAfterSend: true });
  }
  await stillServes();
  for (const node of cluster.nodes) expect(node.running).toBe(true);
});
