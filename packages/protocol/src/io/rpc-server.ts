/**
 * An RPC server on Bun.listen: decodes frames, validates each request against its op's schema,
 * dispatches to a handler, and answers. A bad frame gets one error answer and the connection is
 * closed (framing is lost); a bad request gets an error answer and the connection lives on.
 * A connection with CONNECTION_REQUESTS_IN_FLIGHT_MAX unanswered requests is paused: the server
 * stops reading it until answers drain, so one greedy client cannot queue unbounded work.
 *
 * Every connection starts with `hello` (channel-auth.ts): it sets the connection's principal,
 * and with a cluster key, the MAC every later frame carries. Each op's access (OP_ACCESS) is
 * checked against the principal before its handler runs. The server also bounds connections:
 * how many in all and per remote address, how long a handshake may take, how long a client may
 * sit idle, and how slowly a frame may arrive (connection-guard.ts holds the rules). Every
 * refusal, of a connection or of a request, is counted by its reason (REFUSAL_REASONS).
 */

import type { Socket, TCPSocketListener } from "bun";
import {
  type Counter,
  type Histogram,
  type MetricsRegistry,
  ANONYMOUS,
  assertNever,
  CONNECTION_REQUESTS_IN_FLIGHT_MAX,
  countRequest,
  decodeEnvelope,
  describePrincipal,
  fail,
  FRAME_KIND,
  FtfsError,
  mayCall,
  newTrafficCount,
  ok,
  OP_ACCESS,
  OPS,
  parseAddress,
  RATE_LIMIT_BURST_DEFAULT,
  RATE_LIMIT_PER_SECOND_DEFAULT,
  RateLimiter,
  tryDecode,
  type Access,
  type Principal,
  type RateLimitConfig,
  type ServerRole,
  type TrafficCount,
  type UserPrincipal,
  type ErrorCode,
  type ErrorHint,
  type Frame,
  type FrameDecodeError,
  type Op,
  type RequestBody,
  type ResponseBody,
  type Result,
} from "../core/index.ts";
import {
  ChannelMac,
  connectionKey,
  HASH_CHECKED_FIELD,
  HASH_CHECKED_REQUEST_OPS,
  HASH_CHECKED_RESPONSE_OPS,
  hashChecked,
  randomNonce,
} from "./security/channel-auth.ts";
import {
  CONNECTION_SWEEP_INTERVAL_MS,
  connectionLimitsWith,
  slowConnectionReason,
  type ConnectionLimits,
  type ConnectionState,
} from "./connection-guard.ts";
import {
  channelSocketHandlers,
  FrameChannel,
  type ChannelEvents,
  type ChannelSlot,
} from "./frame-channel.ts";
import type { Keyring } from "./security/keyring.ts";
import { describeError, type Logger } from "./logger.ts";

export interface RequestContext {
  readonly op: Op;
  readonly epoch: number;
  readonly payload: Uint8Array;
  readonly remoteAddress: string;
  /** Who sent it, as the connection's handshake established (see OP_ACCESS). */
  readonly principal: Principal;
  /** Whether the principal was proven (a cluster key on this node), or only claimed. */
  readonly authenticated: boolean;
}

/** What the app says about a user's session token: who it is and the key the channel MACs with. */
export interface UserSession {
  readonly principal: UserPrincipal;
  readonly sessionKey: Uint8Array;
}

/** TLS for the listener: certificate chain and private key, PEM. */
export interface ServerTls {
  readonly cert: string;
  readonly key: string;
}

export interface Reply<O extends Op> {
  readonly body: ResponseBody<O>;
  readonly payload?: Uint8Array;
}

export type Handler<O extends Op> = (
  body: RequestBody<O>,
  context: RequestContext,
) => Promise<Result<Reply<O>>>;

/** The ops a server serves; the rest are answered UNKNOWN_OP. */
export type Handlers = { readonly [O in Op]?: Handler<O> };

export interface ServerStats {
  connections: number;
  requests: number;
  errors: number;
  badFrames: number;
  /** Connections refused at a limit, or closed for a slow handshake, idleness or trickling. */
  refusedConnections: number;
  closedConnections: number;
  authFailures: number;
  /** File bytes carried by requests (in) and by answers (out). */
  payloadBytesIn: number;
  payloadBytesOut: number;
  /** Requests of user-facing operations (OP_ACCESS "user"): what the cluster's users asked. */
  readonly userTraffic: TrafficCount;
}

export interface RpcServerOptions {
  readonly listen: string;
  readonly handlers: Handlers;
  readonly logger: Logger;
  /**
   * The cluster keyring. With keys, nodes prove themselves with its "channel" sub-key, users
   * with sessions, and OP_ACCESS holds; open (or absent) is insecure mode: claims are believed.
   */
  readonly keyring?: Keyring;
  /** Checks a user's session token (the users' app code); without it, user claims fail. */
  readonly authenticateUser?: (token: string) => Result<UserSession>;
  readonly limits?: Partial<ConnectionLimits>;
  readonly tls?: ServerTls;
  /** This node's id, for error messages people read. */
  readonly node?: string;
  /** What kind of node serves here: told to a client that asks for what it does not serve. */
  readonly role?: ServerRole;
  /**
   * Requests per principal (a user by uid, an anonymous caller per connection; nodes are not
   * limited) before RATE_LIMITED; null turns it off. Default RATE_LIMIT_*_DEFAULT.
   */
  readonly rateLimit?: RateLimitConfig | null;
  /** Where requests, their latency and bytes are counted (a node's /metrics); none: not. */
  readonly metrics?: MetricsRegistry;
}

/**
 * Why the server refused a connection or a request, or cut a connection off: the label of
 * ftfs_rpc_refused_total. At a connection limit (in all, or per address); a handshake, frame
 * or client that overstayed its bound; a failed or missing proof of who is calling; bytes that
 * are not frames of this protocol; an op the caller may not call; a caller past its rate.
 */
export const REFUSAL_REASONS = [
  "connections_max",
  "connections_per_address_max",
  "handshake_timeout",
  "slow_frame",
  "idle",
  "auth_failed",
  "bad_frame",
  "forbidden",
  "rate_limited",
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The RPC server's metrics in a node's registry. */
class RpcMetrics {
  readonly requests: Counter;
  readonly duration: Histogram;
  readonly payloadBytes: Counter;
  readonly refused: Counter;

  constructor(registry: MetricsRegistry, stats: ServerStats) {
    this.requests = registry.counter(
      "ftfs_rpc_requests_total",
      "Requests this node answered, by operation and result code (ok, or the error's code).",
      ["op", "code"],
    );
    this.duration = registry.histogram(
      "ftfs_rpc_request_duration_seconds",
      "Time from a request's arrival to its answer being queued, by operation.",
      ["op"],
    );
    this.payloadBytes = registry.counter(
      "ftfs_rpc_payload_bytes_total",
      "File bytes carried by requests (in) and answers (out).",
      ["direction"],
    );
    this.refused = registry.counter(
      "ftfs_rpc_refused_total",
      "Connections and requests this node refused or cut off, by reason.",
      ["reason"],
    );
    // Every reason from the start: a rate over a series that appears only later misses its first.
    for (const reason of REFUSAL_REASONS) this.refused.inc({ reason }, 0);
    const connections = registry.gauge("ftfs_rpc_connections", "Client connections open now.");
    registry.collect(() => connections.set({}, stats.connections));
  }
}

export class RpcServer {
  readonly stats: ServerStats = {
    connections: 0,
    requests: 0,
    errors: 0,
    badFrames: 0,
    refusedConnections: 0,
    closedConnections: 0,
    authFailures: 0,
    payloadBytesIn: 0,
    payloadBytesOut: 0,
    userTraffic: newTrafficCount(),
  };
  readonly limits: ConnectionLimits;
  private readonly handlers: Handlers;
  private readonly logger: Logger;
  private readonly keyring: Keyring | null;
  private readonly rateLimiter: RateLimiter | null;
  /** Anonymous callers are limited per connection: each gets a number for its bucket's key. */
  private readonly connectionIds = new WeakMap<ServerConnection, number>();
  private nextConnectionId = 1;
  private readonly authenticateUser: ((token: string) => Result<UserSession>) | null;
  private readonly nodeName: string;
  private readonly role: ServerRole | null;
  private readonly connections = new Set<ServerConnection>();
  private readonly perAddress = new Map<string, number>();
  private listener: TCPSocketListener<ChannelSlot> | null = null;
  private readonly metrics: RpcMetrics | null;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;

  private constructor(options: RpcServerOptions) {
    this.handlers = options.handlers;
    this.logger = options.logger;
    this.keyring = options.keyring === undefined || options.keyring.isOpen ? null : options.keyring;
    this.authenticateUser = options.authenticateUser ?? null;
    const rateLimit =
      options.rateLimit === undefined
        ? { perSecond: RATE_LIMIT_PER_SECOND_DEFAULT, burst: RATE_LIMIT_BURST_DEFAULT }
        : options.rateLimit;
    this.rateLimiter = rateLimit === null ? null : new RateLimiter(rateLimit);
    this.metrics =
      options.metrics === undefined ? null : new RpcMetrics(options.metrics, this.stats);
    this.limits = connectionLimitsWith(options.limits);
    this.nodeName = options.node ?? "this node";
    this.role = options.role ?? null;
  }

  /** An op this node has no handler for: say what kind of node it is, so a client can tell. */
  private unknownOp(): Result<Reply<Op>> {
    if (this.role === null)
      return fail("UNKNOWN_OP", `${this.nodeName} does not serve that request`);
    return fail(
      "UNKNOWN_OP",
      `${this.nodeName} is a ${this.role} node, which does not serve that request`,
      { role: this.role },
    );
  }

  static start(options: RpcServerOptions): RpcServer {
    const parsed = parseAddress(options.listen);
    if (!parsed.ok) throw parsed.error;
    const server = new RpcServer(options);
    server.listener = Bun.listen<ChannelSlot>({
      hostname: parsed.value.host,
      port: parsed.value.port,
      data: { channel: null },
      ...(options.tls === undefined
        ? {}
        : { tls: { cert: options.tls.cert, key: options.tls.key } }),
      socket: {
        ...channelSocketHandlers,
        open: (socket) => {
          // Bun.listen hands every accepted socket the same `data` object: give each its own.
          socket.data = { channel: null };
          socket.setNoDelay(true);
          server.accept(socket);
        },
      },
    });
    server.sweepTimer = setInterval(() => server.sweep(), CONNECTION_SWEEP_INTERVAL_MS);
    return server;
  }

  get port(): number {
    if (this.listener === null) throw new Error("server is not listening");
    return this.listener.port;
  }

  /** Whether this node authenticates connections (it has a cluster key). */
  get secure(): boolean {
    return this.keyring !== null;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  stop(): void {
    this.listener?.stop(true);
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    for (const connection of [...this.connections]) connection.channel.close();
    this.connections.clear();
  }

  private accept(socket: Socket<ChannelSlot>): void {
    const connection = new ServerConnection(this, socket);
    const address = connection.channel.remoteAddress;
    const fromAddress = this.perAddress.get(address) ?? 0;
    const refusal: [RefusalReason, string] | null =
      this.connections.size >= this.limits.connectionsMax
        ? [
            "connections_max",
            `${this.nodeName} has ${this.connections.size} connections, its limit ` +
              "(--connections-max)",
          ]
        : fromAddress >= this.limits.connectionsPerAddressMax
          ? [
              "connections_per_address_max",
              `${this.nodeName} has ${fromAddress} connections from ${address}, the limit per ` +
                "address (--connections-per-address-max)",
            ]
          : null;
    if (refusal !== null) {
      this.stats.refusedConnections += 1;
      this.countRefusal(refusal[0]);
      this.closeWithError(connection.channel, "CONNECTION_LIMIT", refusal[1]);
      return;
    }
    this.connections.add(connection);
    this.perAddress.set(address, fromAddress + 1);
    this.stats.connections += 1;
  }

  /** Counts a refusal for /metrics (ServerStats keeps its own, coarser, counts). */
  countRefusal(reason: RefusalReason): void {
    this.metrics?.refused.inc({ reason });
  }

  /** Called by a connection when it ends. */
  forget(connection: ServerConnection): void {
    if (!this.connections.delete(connection)) return;
    const address = connection.channel.remoteAddress;
    const left = (this.perAddress.get(address) ?? 1) - 1;
    if (left <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, left);
  }

  /** Closes connections past a bound: handshake, idleness, trickling frames. */
  private sweep(): void {
    const nowMs = performance.now();
    for (const connection of this.connections) {
      const slow = slowConnectionReason(connection.state(), nowMs, this.limits);
      if (slow === null) continue;
      this.stats.closedConnections += 1;
      this.countRefusal(slow.kind);
      this.logger.warn("closing a connection", {
        remote: connection.channel.remoteAddress,
        reason: slow.message,
      });
      this.closeWithError(
        connection.channel,
        "TIMEOUT",
        `${this.nodeName} closed the connection: ${slow.message}`,
      );
    }
  }

  /** One error answer about the whole connection (request id 0), then close. */
  closeWithError(channel: FrameChannel, code: ErrorCode, message: string, requestId = 0): void {
    channel.refuse();
    channel
      .send(FRAME_KIND.error, requestId, { code, message })
      .catch(() => undefined) // the peer may already be gone; there is nothing more to tell it
      .finally(() => channel.close());
  }

  /**
   * The handshake, synchronously: the answer goes out untagged, then the connection's MAC (if
   * any) applies to every later frame in both directions.
   */
  handshake(connection: ServerConnection, frame: Frame, body: RequestBody<"hello">): void {
    const outcome = this.accepted(body);
    if (!outcome.ok) {
      this.stats.authFailures += 1;
      this.countRefusal("auth_failed");
      const { code, message } = outcome.error;
      this.logger.warn("handshake refused", {
        remote: connection.channel.remoteAddress,
        reason: message,
      });
      this.closeWithError(connection.channel, code, message, frame.requestId);
      return;
    }
    const { principal, baseKey } = outcome.value;
    const serverNonce = randomNonce();
    const answer = { body: { serverNonce, mac: baseKey !== null } };
    connection.channel.send(FRAME_KIND.response, frame.requestId, answer).catch(() => undefined);
    if (baseKey !== null) {
      const connKey = connectionKey(baseKey, body.clientNonce, serverNonce, body.principal);
      connection.channel.authenticate(new ChannelMac(connKey, "server"));
    }
    connection.principal = principal;
  }

  /** The principal a hello proves (or, in insecure mode, claims), and the key it MACs with. */
  private accepted(body: RequestBody<"hello">): Result<Accepted> {
    const claim = body.principal;
    if (claim.kind === "node" && claim.node === undefined) {
      return fail("BAD_REQUEST", "hello: a node claim names its node");
    }
    if (this.keyring === null) {
      // Insecure mode: nothing can be proven, so a claim is taken as made.
      const principal: Principal =
        claim.kind === "node" ? { kind: "node", node: claim.node ?? "" } : ANONYMOUS;
      return ok({ principal, baseKey: null });
    }
    switch (claim.kind) {
      case "anonymous":
        return ok({ principal: ANONYMOUS, baseKey: null });
      case "node":
        return this.acceptedNode(this.keyring, claim.node ?? "", claim.keyId);
      case "user": {
        if (claim.token === undefined || this.authenticateUser === null) {
          return fail("AUTH_FAILED", `${this.nodeName} cannot check a user session here`);
        }
        const session = this.authenticateUser(claim.token);
        if (!session.ok) return session;
        return ok({ principal: session.value.principal, baseKey: session.value.sessionKey });
      }
      default:
        return assertNever(claim.kind, "hello claim");
    }
  }

  /** A node proves itself with the channel sub-key of the cluster key it names. */
  private acceptedNode(
    keyring: Keyring,
    node: string,
    keyId: string | undefined,
  ): Result<Accepted> {
    const key = keyId === undefined ? undefined : keyring.subKeys("channel").lookup(keyId);
    if (key === undefined) {
      const why =
        keyId === undefined
          ? "no cluster key"
          : `cluster key ${keyId}, which ${this.nodeName} does not hold`;
      return fail("AUTH_FAILED", `node ${node} signs with ${why}`);
    }
    return ok({ principal: { kind: "node", node }, baseKey: key });
  }

  /** Called by a connection for each request after the handshake; answers it. */
  async serve(connection: ServerConnection, frame: Frame, request: DecodedRequest): Promise<void> {
    this.stats.requests += 1;
    const channel = connection.channel;
    const startedMs = performance.now();
    const answer = await this.dispatch(frame, request, connection);
    this.stats.payloadBytesIn += frame.payload.length;
    if (answer.ok) this.stats.payloadBytesOut += answer.value.payload?.length ?? 0;
    if (OP_ACCESS[request.op] === "user") {
      countRequest(this.stats.userTraffic, answer.ok, performance.now() - startedMs);
    }
    if (this.metrics !== null) {
      const { op } = request;
      this.metrics.requests.inc({ op, code: answer.ok ? "ok" : answer.error.code });
      this.metrics.duration.observe({ op }, (performance.now() - startedMs) / 1000);
      this.metrics.payloadBytes.inc({ direction: "in" }, frame.payload.length);
      if (answer.ok) {
        this.metrics.payloadBytes.inc({ direction: "out" }, answer.value.payload?.length ?? 0);
      }
    }
    try {
      if (answer.ok) {
        const header = responseHeader(
          request.op,
          answer.value.body,
          channel.authenticated && answer.value.payload !== undefined,
        );
        await channel.send(FRAME_KIND.response, frame.requestId, header, answer.value.payload);
      } else {
        this.stats.errors += 1;
        await channel.send(
          FRAME_KIND.error,
          frame.requestId,
          errorHeader(answer.error.code, answer.error.message, answer.error.hint),
        );
      }
    } catch (error) {
      // The client went away before its answer; the connection is already being torn down.
      if (!(error instanceof FtfsError && error.code === "CONNECTION_CLOSED")) throw error;
    }
  }

  /** Called by a connection whose byte stream is not frames of this protocol (or fails its MAC). */
  rejectStream(channel: FrameChannel, error: FrameDecodeError): void {
    if (error.code === "AUTH_FAILED") this.stats.authFailures += 1;
    else this.stats.badFrames += 1;
    this.countRefusal(error.code === "AUTH_FAILED" ? "auth_failed" : "bad_frame");
    this.logger.warn("bad frame", {
      code: error.code,
      reason: error.message,
      remote: channel.remoteAddress,
    });
    this.closeWithError(channel, error.code, error.message, error.requestId ?? 0);
  }

  /** The principal's token bucket on this node; RATE_LIMITED says when one is back. */
  private admitRate(principal: Principal, connection: ServerConnection): Result<void> {
    if (this.rateLimiter === null || principal.kind === "node")
      return { ok: true, value: undefined };
    const key =
      principal.kind === "user" ? `user:${principal.uid}` : `connection:${this.idOf(connection)}`;
    const verdict = this.rateLimiter.admit(key, performance.now());
    if (verdict.ok) return { ok: true, value: undefined };
    const retryAfterMs = verdict.retryAfterMs;
    return fail(
      "RATE_LIMITED",
      `too many requests from ${describePrincipal(principal)}; retry in ${retryAfterMs} ms`,
      {
        retryAfterMs,
      },
    );
  }

  private idOf(connection: ServerConnection): number {
    let id = this.connectionIds.get(connection);
    if (id === undefined) {
      id = this.nextConnectionId;
      this.nextConnectionId += 1;
      this.connectionIds.set(connection, id);
    }
    return id;
  }

  private async dispatch(
    frame: Frame,
    request: DecodedRequest,
    connection: ServerConnection,
  ): Promise<Result<Reply<Op>>> {
    const { op, epoch, body } = request;
    const principal = connection.principal;
    const handler = this.handlers[op] as Handler<Op> | undefined;
    // Asked first: a client that reached the wrong kind of node should hear that, whoever it is.
    if (handler === undefined) return this.unknownOp();
    if (this.keyring !== null && !mayCall(principal, OP_ACCESS[op])) {
      this.countRefusal("forbidden");
      return fail("FORBIDDEN", forbiddenMessage(OP_ACCESS[op], principal));
    }
    const limited = this.admitRate(principal, connection);
    if (!limited.ok) {
      this.countRefusal("rate_limited");
      return limited;
    }
    const context: RequestContext = {
      op,
      epoch,
      payload: frame.payload,
      remoteAddress: connection.channel.remoteAddress,
      principal,
      authenticated: this.keyring !== null,
    };
    try {
      return await handler(body as RequestBody<Op>, context);
    } catch (error) {
      if (error instanceof FtfsError) return { ok: false, error };
      this.logger.error("handler failed", { op, error: describeError(error) });
      return {
        ok: false,
        error: new FtfsError("INTERNAL", `the request failed on ${this.nodeName}; see its log`),
      };
    }
  }
}

/** What a handshake established: who, and the key its frames are MACed with (null: none). */
interface Accepted {
  readonly principal: Principal;
  readonly baseKey: Uint8Array | null;
}

/** A request frame whose envelope and body fit their schemas. */
interface DecodedRequest {
  readonly op: Op;
  readonly epoch: number;
  readonly body: unknown;
}

function decodeRequest(frame: Frame): Result<DecodedRequest> {
  if (frame.kind !== FRAME_KIND.request) {
    return { ok: false, error: new FtfsError("BAD_FRAME", "expected a request frame") };
  }
  const envelope = decodeEnvelope(frame.header);
  if (!envelope.ok) return { ok: false, error: new FtfsError(envelope.code, envelope.message) };
  const { op, epoch, body } = envelope.value;
  const decoded = tryDecode(OPS[op].request, body);
  if (!decoded.ok)
    return { ok: false, error: new FtfsError("BAD_REQUEST", `${op}: ${decoded.message}`) };
  return { ok: true, value: { op, epoch, body: decoded.value } };
}

function responseHeader(op: Op, body: unknown, tagged: boolean): unknown {
  if (tagged && HASH_CHECKED_RESPONSE_OPS.has(op)) return { body, [HASH_CHECKED_FIELD]: true };
  return { body };
}

function errorHeader(code: ErrorCode, message: string, hint: ErrorHint | undefined): unknown {
  return hint === undefined ? { code, message } : { code, message, hint };
}

/**
 * One accepted connection: its principal (set by hello), its unanswered requests (reading
 * pauses at the bound), and what the sweep needs to judge it.
 */
class ServerConnection implements ChannelEvents {
  readonly channel: FrameChannel;
  principal: Principal = ANONYMOUS;
  private readonly server: RpcServer;
  private readonly openedMs = performance.now();
  private handshaken = false;
  private inFlight = 0;

  constructor(server: RpcServer, socket: Socket<ChannelSlot>) {
    this.server = server;
    this.channel = new FrameChannel(socket, this);
  }

  state(): ConnectionState {
    return {
      openedMs: this.openedMs,
      handshaken: this.handshaken,
      idleCounts: this.principal.kind !== "node",
      requestsInFlight: this.inFlight,
      lastActivityMs: this.channel.lastActivityMs,
      progress: this.channel.progress,
    };
  }

  onFrame(frame: Frame): void {
    const request = decodeRequest(frame);
    if (!request.ok) {
      this.answerNow(frame, request.error);
      return;
    }
    const { op } = request.value;
    if (!this.handshaken) {
      if (op !== "hello") {
        this.server.countRefusal("auth_failed");
        this.server.closeWithError(
          this.channel,
          "AUTH_FAILED",
          "a connection must open with hello",
          frame.requestId,
        );
        return;
      }
      this.handshaken = true;
      this.server.handshake(this, frame, request.value.body as RequestBody<"hello">);
      return;
    }
    if (op === "hello") {
      this.answerNow(
        frame,
        new FtfsError("BAD_REQUEST", "hello: this connection already said hello"),
      );
      return;
    }
    if (hashChecked(frame.header) && !HASH_CHECKED_REQUEST_OPS.has(op)) {
      this.server.countRefusal("auth_failed");
      this.server.closeWithError(
        this.channel,
        "AUTH_FAILED",
        `${op} payloads are MACed`,
        frame.requestId,
      );
      return;
    }
    this.inFlight += 1;
    if (this.inFlight === CONNECTION_REQUESTS_IN_FLIGHT_MAX) this.channel.pause();
    void this.server.serve(this, frame, request.value).finally(() => {
      if (this.inFlight === CONNECTION_REQUESTS_IN_FLIGHT_MAX) this.channel.resume();
      this.inFlight -= 1;
    });
  }

  /** An error answer to one request; the connection lives on (framing is intact). */
  private answerNow(frame: Frame, error: FtfsError): void {
    this.server.stats.errors += 1;
    this.channel
      .send(FRAME_KIND.error, frame.requestId, errorHeader(error.code, error.message, error.hint))
      .catch(() => undefined); // the peer left; its connection is being torn down
  }

  onDecodeError(error: FrameDecodeError): void {
    this.server.rejectStream(this.channel, error);
  }

  onClose(): void {
    this.server.forget(this);
  }
}

/**
 * Why a caller may not make a request, without naming the request's internal op: the client
 * knows what its user asked for and says it in the user's words.
 */
function forbiddenMessage(access: Access, principal: Principal): string {
  const who = describePrincipal(principal);
  switch (access) {
    case "anyone":
    case "user":
      return `that needs a logged-in user; ${who} may only log in`;
    case "admin":
      return `that needs an administrator, which ${who} is not`;
    case "node":
      return `only the cluster's own nodes may do that, and ${who} is not one`;
    default:
      return assertNever(access, "op access");
  }
}
