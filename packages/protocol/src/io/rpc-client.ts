/**
 * A multiplexed RPC client over one TCP connection: many requests in flight, matched to their
 * responses by request id, each with its own deadline. Responses are validated against the op's
 * schema before the caller sees them. Every connection opens with the `hello` handshake
 * (channel-auth.ts) under the client's credentials; `connect` returns once it is done, so every
 * call after it is tagged. Also a small per-address pool of such clients.
 */

import {
  assertNever,
  CONNECT_TIMEOUT_MS_DEFAULT,
  errorHeaderSchema,
  FRAME_KIND,
  FrameBufferPool,
  FtfsError,
  isErrorCode,
  OPS,
  parseAddress,
  REQUEST_ID_MAX,
  REQUEST_TIMEOUT_MS_DEFAULT,
  tryDecode,
  type ErrorCode,
  type Frame,
  type FrameDecodeError,
  type Op,
  type RequestBody,
  type ResponseBody,
} from "../core/index.ts";
import {
  ANONYMOUS_CREDENTIALS,
  ChannelMac,
  claimOf,
  connectionKey,
  HASH_CHECKED_FIELD,
  HASH_CHECKED_REQUEST_OPS,
  HASH_CHECKED_RESPONSE_OPS,
  hashChecked,
  randomNonce,
  type ClientCredentials,
} from "./security/channel-auth.ts";
import { channelSocketHandlers, FrameChannel, type ChannelSlot } from "./frame-channel.ts";

/** TLS for a connection: the CA that signed the servers' certificates (PEM). */
export interface ClientTls {
  readonly ca: string;
}

export interface ConnectOptions {
  /** Who this client proves itself as; anonymous by default. */
  readonly credentials?: ClientCredentials;
  /** Connect with TLS, trusting this CA; plain TCP when absent. */
  readonly tls?: ClientTls | undefined;
  /** Large answers (chunks) are read into this pool's buffers; see RpcPool.release. */
  readonly framePool?: FrameBufferPool | undefined;
}

export interface CallOptions {
  readonly payload?: Uint8Array;
  /** The epoch the caller believes current; 0 means "not checked". */
  readonly epoch?: number;
  readonly timeoutMs?: number;
}

export interface CallResult<O extends Op> {
  readonly body: ResponseBody<O>;
  readonly payload: Uint8Array;
}

interface PendingCall {
  readonly op: Op;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (error: FtfsError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

function ignore(): void {}

export class RpcClient {
  readonly address: string;
  /** Called once when the connection ends, whoever ended it (a peer that died, or close()). */
  onClosed: (() => void) | null = null;
  private channel: FrameChannel | null = null;
  private readonly pending = new Map<number, PendingCall>();
  private nextRequestId = 1;

  private constructor(address: string) {
    this.address = address;
  }

  static async connect(
    address: string,
    timeoutMs = CONNECT_TIMEOUT_MS_DEFAULT,
    options: ConnectOptions = {},
  ): Promise<RpcClient> {
    const startedMs = performance.now();
    const client = await RpcClient.open(address, timeoutMs, options.tls, options.framePool);
    const remainingMs = Math.max(1, timeoutMs - (performance.now() - startedMs));
    try {
      await client.hello(options.credentials ?? ANONYMOUS_CREDENTIALS, remainingMs);
    } catch (error) {
      client.close();
      if (error instanceof FtfsError && error.code === "TIMEOUT") {
        throw new ConnectError(
          "CONNECT_FAILED",
          "timeout",
          `no handshake from ${address} within ${timeoutMs} ms`,
        );
      }
      throw error;
    }
    return client;
  }

  /** Opens the TCP (or TLS) connection, without the handshake. */
  private static async open(
    address: string,
    timeoutMs: number,
    tls: ClientTls | undefined,
    framePool: FrameBufferPool | undefined,
  ): Promise<RpcClient> {
    const parsed = parseAddress(address);
    if (!parsed.ok) throw parsed.error;
    const client = new RpcClient(address);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ConnectError(
              "CONNECT_FAILED",
              "timeout",
              `no answer from ${address} within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      const socket = await Promise.race([
        Bun.connect<ChannelSlot>({
          hostname: parsed.value.host,
          port: parsed.value.port,
          data: { channel: null },
          socket: channelSocketHandlers,
          ...(tls === undefined ? {} : { tls: { ca: tls.ca, serverName: parsed.value.host } }),
        }),
        deadline,
      ]);
      socket.setNoDelay(true);
      client.channel = new FrameChannel(
        socket,
        {
          onFrame: (frame) => client.onFrame(frame),
          onDecodeError: (error) => client.failAll(decodeFailure(address, error)),
          onClose: (error) => {
            client.failAll(error);
            client.onClosed?.();
          },
        },
        framePool ?? null,
      );
      return client;
    } catch (error) {
      if (error instanceof FtfsError) throw error;
      throw noConnection(address, parsed.value.host, error);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The handshake: claim the credentials' principal; with a key, both ends derive the
   * connection key and every later frame is tagged. A client that holds a key refuses a server
   * that does not MAC back: it cannot tell that server from an impostor.
   */
  private async hello(credentials: ClientCredentials, timeoutMs: number): Promise<void> {
    const { claim, baseKey } = claimOf(credentials);
    const clientNonce = randomNonce();
    const answer = await this.call("hello", { principal: claim, clientNonce }, { timeoutMs });
    const channel = this.channel;
    if (channel === null)
      throw new FtfsError("CONNECTION_CLOSED", `connection to ${this.address} is closed`);
    if (baseKey === null) return;
    if (!answer.body.mac) {
      throw new FtfsError(
        "AUTH_FAILED",
        `${this.address} does not authenticate connections (started with --insecure?)`,
      );
    }
    const connKey = connectionKey(baseKey, clientNonce, answer.body.serverNonce, claim);
    channel.authenticate(new ChannelMac(connKey, "client"));
  }

  get closed(): boolean {
    return this.channel === null || this.channel.closed;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Milliseconds since the server last sent anything on this connection. */
  get heardAgoMs(): number {
    const channel = this.channel;
    if (channel === null || channel.closed) return Number.POSITIVE_INFINITY;
    return performance.now() - channel.lastReceivedMs;
  }

  async call<O extends Op>(
    op: O,
    body: RequestBody<O>,
    options: CallOptions = {},
  ): Promise<CallResult<O>> {
    const channel = this.channel;
    if (channel === null || channel.closed) {
      throw new FtfsError("CONNECTION_CLOSED", `connection to ${this.address} is closed`);
    }
    const requestId = this.allocateRequestId();
    const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT;
    const response = new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new FtfsError("TIMEOUT", `${this.address} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(requestId, { op, resolve, reject, timer });
    });
    const header = requestHeader(
      op,
      options.epoch ?? 0,
      body,
      channel.authenticated && options.payload !== undefined,
    );
    const sending = channel.send(FRAME_KIND.request, requestId, header, options.payload).then(
      () => undefined,
      (error: unknown) => this.settle(requestId)?.reject(asConnectionError(error, this.address)),
    );
    // The answer may come (an early error, the deadline) while a large payload is still being
    // written to a peer that does not read: the caller hears it then, not when the write ends.
    await Promise.race([sending, response.then(ignore, ignore)]);
    return decodeResponse(op, await response);
  }

  close(): void {
    this.channel?.close();
  }

  private allocateRequestId(): number {
    // Ids wrap; an id still pending after 4 billion calls is skipped.
    for (;;) {
      const id = this.nextRequestId;
      this.nextRequestId = id >= REQUEST_ID_MAX ? 1 : id + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  private onFrame(frame: Frame): void {
    if (frame.requestId === 0 && frame.kind === FRAME_KIND.error) {
      // About the connection, not one call (a limit, a failed handshake): every call hears it.
      this.failAll(decodeErrorFrame(frame, this.address));
      return;
    }
    const call = this.settle(frame.requestId);
    if (call === undefined) return; // a late answer to a call that timed out
    if (hashChecked(frame.header) && !HASH_CHECKED_RESPONSE_OPS.has(call.op)) {
      this.failAll(
        new FtfsError("AUTH_FAILED", `${this.address} left a ${call.op} payload unMACed`),
      );
      return;
    }
    if (frame.kind === FRAME_KIND.error) {
      call.reject(decodeErrorFrame(frame, this.address));
      return;
    }
    if (frame.kind !== FRAME_KIND.response) {
      call.reject(new FtfsError("BAD_FRAME", `${this.address} sent a request frame to a client`));
      return;
    }
    call.resolve(frame);
  }

  private settle(requestId: number): PendingCall | undefined {
    const call = this.pending.get(requestId);
    if (call === undefined) return undefined;
    this.pending.delete(requestId);
    clearTimeout(call.timer);
    return call;
  }

  private failAll(error: FtfsError): void {
    for (const requestId of [...this.pending.keys()]) this.settle(requestId)?.reject(error);
    this.channel?.close();
  }
}

/**
 * Why a node could not be reached, as a client can act on it: a name that does not resolve
 * (fix the address), a refused or silent port (is it running?), or a port where something
 * other than FTFS answers (the wrong address).
 */
export type ConnectFailure = "dns" | "refused" | "unreachable" | "timeout" | "foreign" | "other";

/** A connection to a node failed before any FTFS answer: why, in `reason`. */
export class ConnectError extends FtfsError {
  readonly reason: ConnectFailure;
  constructor(code: ErrorCode, reason: ConnectFailure, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.reason = reason;
  }
}

/** The ConnectError behind `error`, following causes; null if none. */
export function connectFailureOf(error: unknown): ConnectFailure | null {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current instanceof ConnectError) return current.reason;
  }
  return null;
}

/** Why a TCP connection could not be opened, in words a person can act on. */
function noConnection(address: string, host: string, error: unknown): ConnectError {
  const code =
    typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  const failed = (reason: ConnectFailure, message: string): ConnectError =>
    new ConnectError("CONNECT_FAILED", reason, message, error);
  switch (code) {
    case "ENOTFOUND":
    case "EAI_NONAME":
    case "EAI_AGAIN":
    case "EAI_FAIL":
      return failed("dns", `no such host '${host}' (the name does not resolve)`);
    case "ECONNREFUSED":
      return failed("refused", `nothing listens at ${address} (connection refused)`);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return failed("unreachable", `${address} is unreachable (no route to it)`);
    default:
      return failed(
        "other",
        `cannot connect to ${address}${error instanceof Error ? `: ${error.message}` : ""}`,
      );
  }
}

/** Bytes from `address` that are not frames; another protocol's are named as such. */
function decodeFailure(address: string, error: FrameDecodeError): FtfsError {
  switch (error.foreign) {
    case undefined:
      return new FtfsError(error.code, `bad frame from ${address}: ${error.message}`);
    case "TLS":
      return new ConnectError(
        error.code,
        "foreign",
        `${address} answered with TLS: the cluster expects TLS connections (give its CA)`,
      );
    case "HTTP":
    case "SSH":
      return new ConnectError(
        error.code,
        "foreign",
        `${address} is not an FTFS node (it answered ${error.foreign})`,
      );
    default:
      return assertNever(error.foreign);
  }
}

function requestHeader(op: Op, epoch: number, body: unknown, tagged: boolean): unknown {
  if (tagged && HASH_CHECKED_REQUEST_OPS.has(op))
    return { op, epoch, body, [HASH_CHECKED_FIELD]: true };
  return { op, epoch, body };
}

function asConnectionError(error: unknown, address: string): FtfsError {
  if (error instanceof FtfsError) return error;
  return new FtfsError("CONNECTION_CLOSED", `connection to ${address} failed`, { cause: error });
}

function decodeResponse<O extends Op>(op: O, frame: Frame): CallResult<O> {
  const header = frame.header as { body?: unknown } | null;
  const decoded = tryDecode(OPS[op].response, header?.body);
  if (!decoded.ok) throw new FtfsError("BAD_FRAME", `malformed ${op} response: ${decoded.message}`);
  return { body: decoded.value as ResponseBody<O>, payload: frame.payload };
}

function decodeErrorFrame(frame: Frame, address: string): FtfsError {
  const decoded = tryDecode(errorHeaderSchema, frame.header);
  if (!decoded.ok)
    return new FtfsError("BAD_FRAME", `malformed error from ${address}: ${decoded.message}`);
  const { code, message, hint } = decoded.value;
  const knownCode = isErrorCode(code) ? code : "INTERNAL";
  if (hint === undefined) return new FtfsError(knownCode, message);
  const cleanHint = {
    ...(hint.primary === undefined ? {} : { primary: hint.primary }),
    ...(hint.epoch === undefined ? {} : { epoch: hint.epoch }),
    ...(hint.retryAfterMs === undefined ? {} : { retryAfterMs: hint.retryAfterMs }),
    ...(hint.deleteMarker === undefined ? {} : { deleteMarker: hint.deleteMarker }),
    ...(hint.role === undefined ? {} : { role: hint.role }),
  };
  return new FtfsError(knownCode, message, { hint: cleanHint });
}

/**
 * Answers that mean the connection, not the node's judgement, failed: it could not be opened,
 * it closed, a call on it went unanswered, or it carried a frame that does not decode. The
 * pool drops such a connection itself; callers also read them as "that node is down or stuck".
 */
export const CONNECTION_FAILURE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "CONNECT_FAILED",
  "CONNECTION_CLOSED",
  "TIMEOUT",
  "BAD_FRAME",
]);

/**
 * One live client per address, reconnecting on demand. Concurrent callers share one connect
 * attempt instead of racing to open several sockets. A call that fails for the connection
 * (CONNECTION_FAILURE_CODES) drops it, so the next call reconnects: callers never clean up.
 */
export class RpcPool {
  private readonly clients = new Map<string, RpcClient>();
  private readonly connecting = new Map<string, Promise<RpcClient>>();
  private readonly connectTimeoutMs: number;
  private readonly options: ConnectOptions;
  /** Buffers of large answers, shared by the pool's connections (see release). */
  private readonly framePool = new FrameBufferPool();
  private closed = false;

  constructor(connectTimeoutMs = CONNECT_TIMEOUT_MS_DEFAULT, options: ConnectOptions = {}) {
    this.connectTimeoutMs = connectTimeoutMs;
    this.options = { ...options, framePool: this.framePool };
  }

  /**
   * Give back the buffer of an answer's payload (a chunk) once nothing reads it any more: the
   * next large answer is read into the same pages instead of fresh ones. Only a caller that
   * knows every holder of the bytes is done may call it; a payload never given back is left to
   * the garbage collector. Anything else (a payload not from this pool, one given back before)
   * is ignored.
   */
  release(payload: Uint8Array): void {
    this.framePool.give(payload);
  }

  async get(address: string): Promise<RpcClient> {
    const existing = this.clients.get(address);
    if (existing !== undefined && !existing.closed) return existing;
    const inProgress = this.connecting.get(address);
    if (inProgress !== undefined) return inProgress;
    const attempt = RpcClient.connect(address, this.connectTimeoutMs, this.options)
      .then((client) => {
        // Closed while the connection (and its handshake) was under way: an open socket kept
        // here would outlive its owner and hold the process open.
        if (this.closed) {
          client.close();
          throw new FtfsError("CONNECTION_CLOSED", `the pool for ${address} was closed`);
        }
        this.clients.set(address, client);
        return client;
      })
      .finally(() => this.connecting.delete(address));
    this.connecting.set(address, attempt);
    return attempt;
  }

  async call<O extends Op>(
    address: string,
    op: O,
    body: RequestBody<O>,
    options?: CallOptions,
  ): Promise<CallResult<O>> {
    const client = await this.get(address);
    try {
      return await client.call(op, body, options);
    } catch (error) {
      if (error instanceof FtfsError && CONNECTION_FAILURE_CODES.has(error.code)) {
        this.drop(address, client);
      }
      throw error;
    }
  }

  /**
   * Milliseconds since `address` last sent anything on our connection to it; Infinity when
   * there is none. A peer streaming answers is alive even while one call waits its turn.
   */
  heardAgoMs(address: string): number {
    return this.clients.get(address)?.heardAgoMs ?? Number.POSITIVE_INFINITY;
  }

  /** Drop `client` if it is still the one kept for `address` (a newer one is left alone). */
  private drop(address: string, client: RpcClient): void {
    if (this.clients.get(address) !== client) return;
    client.close();
    this.clients.delete(address);
  }

  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
