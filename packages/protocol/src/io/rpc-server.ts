/**
 * An RPC server on Bun.listen: decodes frames, validates each request against its op's schema,
 * dispatches to a handler, and answers. A bad frame gets one error answer and the connection is
 * closed (framing is lost); a bad request gets an error answer and the connection lives on.
 * A connection with CONNECTION_REQUESTS_IN_FLIGHT_MAX unanswered requests is paused: the server
 * stops reading it until answers drain, so one greedy client cannot queue unbounded work.
 */

import type { Socket, TCPSocketListener } from "bun";
import {
  CONNECTION_REQUESTS_IN_FLIGHT_MAX,
  decodeEnvelope,
  FRAME_KIND,
  FtfsError,
  OPS,
  parseAddress,
  tryDecode,
  type ErrorCode,
  type ErrorHint,
  type Frame,
  type FrameDecodeError,
  type Op,
  type RequestBody,
  type ResponseBody,
  type Result,
} from "../core/index.ts";
import { channelSocketHandlers, FrameChannel, type ChannelEvents, type ChannelSlot } from "./frame-channel.ts";
import type { Logger } from "./logger.ts";

export interface RequestContext {
  readonly op: Op;
  readonly epoch: number;
  readonly payload: Uint8Array;
  readonly remoteAddress: string;
}

export interface Reply<O extends Op> {
  readonly body: ResponseBody<O>;
  readonly payload?: Uint8Array;
}

export type Handler<O extends Op> = (body: RequestBody<O>, context: RequestContext) => Promise<Result<Reply<O>>>;

/** The ops a server serves; the rest are answered UNKNOWN_OP. */
export type Handlers = { readonly [O in Op]?: Handler<O> };

export interface ServerStats {
  connections: number;
  requests: number;
  errors: number;
  badFrames: number;
}

export interface RpcServerOptions {
  readonly listen: string;
  readonly handlers: Handlers;
  readonly logger: Logger;
}

export class RpcServer {
  readonly stats: ServerStats = { connections: 0, requests: 0, errors: 0, badFrames: 0 };
  private readonly handlers: Handlers;
  private readonly logger: Logger;
  private readonly channels = new Set<FrameChannel>();
  private listener: TCPSocketListener<ChannelSlot> | null = null;

  private constructor(options: RpcServerOptions) {
    this.handlers = options.handlers;
    this.logger = options.logger;
  }

  static start(options: RpcServerOptions): RpcServer {
    const parsed = parseAddress(options.listen);
    if (!parsed.ok) throw parsed.error;
    const server = new RpcServer(options);
    server.listener = Bun.listen<ChannelSlot>({
      hostname: parsed.value.host,
      port: parsed.value.port,
      data: { channel: null },
      socket: {
        ...channelSocketHandlers,
        open: (socket) => {
          // Bun.listen hands every accepted socket the same `data` object: give each its own.
          socket.data = { channel: null };
          socket.setNoDelay(true);
          const connection = new ServerConnection(server);
          server.accept(connection.attach(socket));
        },
      },
    });
    return server;
  }

  get port(): number {
    if (this.listener === null) throw new Error("server is not listening");
    return this.listener.port;
  }

  stop(): void {
    this.listener?.stop(true);
    for (const channel of this.channels) channel.close();
    this.channels.clear();
  }

  private accept(channel: FrameChannel): void {
    this.channels.add(channel);
    this.stats.connections += 1;
  }

  /** Called by a connection when it ends. */
  forget(channel: FrameChannel): void {
    this.channels.delete(channel);
  }

  /** Called by a connection for each frame; answers it and reports when the answer is out. */
  async serve(channel: FrameChannel, frame: Frame): Promise<void> {
    this.stats.requests += 1;
    const answer = await this.dispatch(frame, channel.remoteAddress);
    try {
      if (answer.ok) {
        await channel.send(FRAME_KIND.response, frame.requestId, { body: answer.value.body }, answer.value.payload);
      } else {
        this.stats.errors += 1;
        await channel.send(FRAME_KIND.error, frame.requestId, errorHeader(answer.error.code, answer.error.message, answer.error.hint));
      }
    } catch (error) {
      // The client went away before its answer; the connection is already being torn down.
      if (!(error instanceof FtfsError && error.code === "CONNECTION_CLOSED")) throw error;
    }
  }

  /** Called by a connection whose byte stream is not frames of this protocol. */
  rejectStream(channel: FrameChannel, error: FrameDecodeError): void {
    this.stats.badFrames += 1;
    this.logger.warn("bad frame", { code: error.code, reason: error.message, remote: channel.remoteAddress });
    channel
      .send(FRAME_KIND.error, error.requestId ?? 0, { code: error.code, message: error.message })
      .catch(() => undefined) // the peer may already be gone; there is nothing more to tell it
      .finally(() => channel.close());
  }

  private async dispatch(frame: Frame, remoteAddress: string): Promise<Result<Reply<Op>>> {
    if (frame.kind !== FRAME_KIND.request) {
      return { ok: false, error: new FtfsError("BAD_FRAME", "expected a request frame") };
    }
    const envelope = decodeEnvelope(frame.header);
    if (!envelope.ok) return { ok: false, error: new FtfsError(envelope.code, envelope.message) };
    const { op, epoch, body } = envelope.value;
    const handler = this.handlers[op] as Handler<Op> | undefined;
    if (handler === undefined) {
      return { ok: false, error: new FtfsError("UNKNOWN_OP", `this node does not serve '${op}'`) };
    }
    const decoded = tryDecode(OPS[op].request, body);
    if (!decoded.ok) return { ok: false, error: new FtfsError("BAD_REQUEST", `${op}: ${decoded.message}`) };
    try {
      return await handler(decoded.value as RequestBody<Op>, { op, epoch, payload: frame.payload, remoteAddress });
    } catch (error) {
      if (error instanceof FtfsError) return { ok: false, error };
      this.logger.error("handler failed", { op, error: describeError(error) });
      return { ok: false, error: new FtfsError("INTERNAL", `${op} failed on the server; see its log`) };
    }
  }
}

function errorHeader(code: ErrorCode, message: string, hint: ErrorHint | undefined): unknown {
  return hint === undefined ? { code, message } : { code, message, hint };
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}${error.stack ? `\n${error.stack}` : ""}`;
  return String(error);
}

/** One accepted connection: counts its unanswered requests and pauses reading at the bound. */
class ServerConnection implements ChannelEvents {
  private readonly server: RpcServer;
  private channel: FrameChannel | null = null;
  private inFlight = 0;

  constructor(server: RpcServer) {
    this.server = server;
  }

  attach(socket: Socket<ChannelSlot>): FrameChannel {
    this.channel = new FrameChannel(socket, this);
    return this.channel;
  }

  onFrame(frame: Frame): void {
    const channel = this.channel;
    if (channel === null) return;
    this.inFlight += 1;
    if (this.inFlight === CONNECTION_REQUESTS_IN_FLIGHT_MAX) channel.pause();
    void this.server.serve(channel, frame).finally(() => {
      if (this.inFlight === CONNECTION_REQUESTS_IN_FLIGHT_MAX) channel.resume();
      this.inFlight -= 1;
    });
  }

  onDecodeError(error: FrameDecodeError): void {
    if (this.channel !== null) this.server.rejectStream(this.channel, error);
  }

  onClose(): void {
    if (this.channel !== null) this.server.forget(this.channel);
  }
}
