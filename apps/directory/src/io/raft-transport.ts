/**
 * Raft messages between directory nodes over the RPC frames, both ways. Out: one TCP
 * connection per peer, messages written in order without waiting for each receipt (a receipt
 * only says the bytes arrived). In: snapshot parts assembled into whole messages. Sending never blocks Raft: a peer that cannot be reached has its queue bounded
 * and its messages dropped, which Raft tolerates by resending. A refused connection to a peer
 * is reported, since a dead primary's port refuses at once, long before any timeout.
 */

import { FtfsError, raft, type Result } from "@ftfs/protocol/core";
import { RpcClient, type ConnectOptions, type Logger } from "@ftfs/protocol/io";
import {
  RAFT_CONNECT_TIMEOUT_MS,
  RAFT_PEER_QUEUE_MESSAGES_MAX,
  RAFT_SEND_TIMEOUT_MS,
} from "../core/index.ts";

export interface RaftTransportOptions {
  readonly addressOf: (id: string) => string | undefined;
  readonly logger: Logger;
  /** The link to a peer broke or its port refused us. */
  readonly onPeerUnreachable: (id: string) => void;
  /** How this node proves itself to its peers (the cluster key). */
  readonly connect?: ConnectOptions;
}

interface WirePart {
  readonly header: ReturnType<typeof raft.splitRaftMessage>[number]["header"];
  readonly payload: Uint8Array;
}

class PeerLink {
  private readonly id: string;
  private readonly transport: RaftTransportOptions;
  private client: RpcClient | null = null;
  private connecting = false;
  private queue: WirePart[] = [];
  private closed = false;

  constructor(id: string, transport: RaftTransportOptions) {
    this.id = id;
    this.transport = transport;
  }

  send(parts: readonly WirePart[]): void {
    if (this.closed) return;
    if (this.queue.length + parts.length > RAFT_PEER_QUEUE_MESSAGES_MAX) return;
    this.queue.push(...parts);
    this.pump();
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.client?.close();
    this.client = null;
  }

  private pump(): void {
    if (this.closed || this.queue.length === 0) return;
    const client = this.client;
    if (client === null || client.closed) {
      void this.connect();
      return;
    }
    const parts = this.queue;
    this.queue = [];
    for (const part of parts) {
      client
        .call("raft", part.header, { payload: part.payload, timeoutMs: RAFT_SEND_TIMEOUT_MS })
        .catch((error: unknown) => this.broken(client, error));
    }
  }

  private async connect(): Promise<void> {
    if (this.connecting) return;
    const address = this.transport.addressOf(this.id);
    if (address === undefined) {
      this.queue = [];
      return;
    }
    this.connecting = true;
    try {
      const client = await RpcClient.connect(
        address,
        RAFT_CONNECT_TIMEOUT_MS,
        this.transport.connect,
      );
      // An idle link that closes is news too: a killed peer's kernel closes it at once.
      client.onClosed = () => this.broken(client, new Error("connection closed"));
      this.client = client;
      if (this.closed) client.close();
    } catch (error) {
      // The queued messages are stale by the time a peer comes back; Raft will send fresh ones.
      this.queue = [];
      this.transport.logger.debug("peer directory unreachable", {
        peer: this.id,
        address,
        error: error instanceof Error ? error.message : String(error),
      });
      this.transport.onPeerUnreachable(this.id);
    } finally {
      this.connecting = false;
    }
    this.pump();
  }

  private broken(client: RpcClient, error: unknown): void {
    if (this.client !== client || this.closed) return;
    this.client = null;
    client.close();
    const code = error instanceof FtfsError ? error.code : "INTERNAL";
    this.transport.logger.debug("link to peer directory broke", { peer: this.id, code });
    this.transport.onPeerUnreachable(this.id);
  }
}

export class RaftTransport {
  private readonly options: RaftTransportOptions;
  private readonly links = new Map<string, PeerLink>();
  /** Snapshots arrive in parts; the rest of the messages pass straight through. */
  private readonly assembler = new raft.SnapshotAssembler();

  constructor(options: RaftTransportOptions) {
    this.options = options;
  }

  send(message: raft.RaftMessage): void {
    let link = this.links.get(message.to);
    if (link === undefined) {
      link = new PeerLink(message.to, this.options);
      this.links.set(message.to, link);
    }
    link.send(raft.splitRaftMessage(message, raft.RAFT_SNAPSHOT_PART_BYTES));
  }

  /**
   * One frame from a peer: the whole message it completes, null while a snapshot's parts are
   * still arriving, or the reason it is refused.
   */
  receive(header: unknown, payload: Uint8Array): Result<raft.RaftMessage | null> {
    return this.assembler.accept(header, payload);
  }

  close(): void {
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }
}
