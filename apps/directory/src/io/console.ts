/**
 * The web console, served by a directory node on its HTTP listener (`--http-listen`) beside
 * /metrics. It owns: a sampler that asks the cluster for its status once a second (through
 * the client library, as `ftfs status` does, so it follows the directory primary wherever it
 * is, with this node's own credentials) and feeds a ClusterTimeline; the console's sessions
 * (an admin logs in with the same uid and secret as the CLI; the console keeps the session
 * token, never the secret, and checks it on every request so a removed or demoted user is
 * out at once); and the page and its script: built into the one binary by `bun run build`, or
 * from a checkout read and bundled by `Bun.build` on the first request. On an
 * insecure cluster (no cluster key) there are no users: the console is as open as the cluster.
 * It must not change anything in the cluster: it only reads.
 */

import { resolve } from "node:path";
import { FtfsClient, type LoginSession } from "@ftfs/client";
import { ClusterTimeline } from "@ftfs/client/core";
import { FtfsError, type Result, toBase64Url } from "@ftfs/protocol/core";
import {
  type ClientTls,
  type Logger,
  type RpcPool,
  secureRandomBytes,
  type UserSession,
} from "@ftfs/protocol/io";

/** How often the console asks the cluster for its status. */
export const CONSOLE_SAMPLE_INTERVAL_MS = 1_000;
/** One status round (the primary, then each other directory) must end within this. */
const CONSOLE_STATUS_DEADLINE_MS = 3_000;
/** Samples a page gets: the last five minutes. */
const CONSOLE_PAGE_SAMPLES = 300;
/** Events a page gets, newest first. */
const CONSOLE_PAGE_EVENTS = 50;
/** Logged-in browsers kept at once; a new login past it ends the oldest session. */
const CONSOLE_SESSIONS_MAX = 64;
const CONSOLE_SESSION_ID_BYTES = 32;
/** A login request's body: a uid and a secret, no more. */
const CONSOLE_LOGIN_BODY_BYTES_MAX = 4_096;
export const CONSOLE_COOKIE_NAME = "ftfs_console";

const APP_ENTRY_PATH = resolve(import.meta.dir, "../../console/app.ts");
const PAGE_PATH = resolve(import.meta.dir, "../../console/index.html");

/**
 * Set by `bun run build` (bin/src/build.ts, with buildConsoleAssets below) in the one binary,
 * which carries no source files to read or bundle; undefined when run from a checkout.
 */
declare const FTFS_CONSOLE_PAGE: string | undefined;
declare const FTFS_CONSOLE_SCRIPT: string | undefined;

export interface ConsoleAssets {
  readonly page: string;
  /** app.ts bundled for browsers. */
  readonly script: string;
}

/** The page and its script bundled for browsers, from the source files. */
export async function buildConsoleAssets(): Promise<ConsoleAssets> {
  const [page, script] = await Promise.all([Bun.file(PAGE_PATH).text(), bundle(APP_ENTRY_PATH)]);
  return { page, script };
}

/** The binary's built-in assets, or (from a checkout) those built from the sources now. */
function consoleAssets(): Promise<ConsoleAssets> {
  if (typeof FTFS_CONSOLE_PAGE === "string" && typeof FTFS_CONSOLE_SCRIPT === "string") {
    return Promise.resolve({ page: FTFS_CONSOLE_PAGE, script: FTFS_CONSOLE_SCRIPT });
  }
  return buildConsoleAssets();
}

export interface ConsoleOptions {
  readonly node: string;
  /** Client addresses of the directory nodes (this one included). */
  readonly directories: () => readonly string[];
  /** This node's own connections (its credentials may read the cluster's status). */
  readonly pool: RpcPool;
  readonly clientTls?: ClientTls | undefined;
  /** False on an insecure cluster: no users, no login. */
  readonly secure: boolean;
  /** Checks a user's session token as this node's RPC server would. */
  readonly authenticate: (token: string) => Result<UserSession>;
  readonly nowMs: () => number;
  readonly logger: Logger;
}

interface ConsoleSession {
  readonly uid: string;
  readonly token: string;
  readonly expiresAtMs: number;
}

export class WebConsole {
  private readonly options: ConsoleOptions;
  private readonly timeline = new ClusterTimeline();
  private readonly sessions = new Map<string, ConsoleSession>();
  /** Made for the directories known when it was made; remade when they change. */
  private statusClient: { readonly key: string; readonly client: FtfsClient } | null = null;
  private readonly sampler: ReturnType<typeof setInterval>;
  private sampling = false;
  private lastError: { readonly atMs: number; readonly message: string } | null = null;
  private assets: Promise<ConsoleAssets> | null = null;

  constructor(options: ConsoleOptions) {
    this.options = options;
    this.sampler = setInterval(() => void this.sample(), CONSOLE_SAMPLE_INTERVAL_MS);
    this.sampler.unref();
  }

  stop(): void {
    clearInterval(this.sampler);
    this.statusClient?.client.close();
  }

  private clientForStatus(): FtfsClient {
    const directories = [...this.options.directories()].sort();
    const key = directories.join(",");
    if (this.statusClient?.key !== key) {
      this.statusClient?.client.close();
      const client = new FtfsClient({
        directories,
        pool: this.options.pool,
        retryDeadlineMs: CONSOLE_STATUS_DEADLINE_MS,
        firstContactDeadlineMs: CONSOLE_STATUS_DEADLINE_MS,
        directoryTimeoutMs: CONSOLE_STATUS_DEADLINE_MS,
      });
      this.statusClient = { key, client };
    }
    return this.statusClient.client;
  }

  /** The console's answer to an HTTP request, or null when the path is not the console's. */
  async handle(request: Request): Promise<Response | null> {
    const path = new URL(request.url).pathname;
    switch (`${request.method} ${path}`) {
      case "GET /":
      case "GET /console":
        return new Response((await this.pageAssets()).page, { headers: pageHeaders("text/html") });
      case "GET /console/app.js":
        return new Response((await this.pageAssets()).script, {
          headers: pageHeaders("text/javascript"),
        });
      case "GET /console/api/session":
        return json({ secure: this.options.secure, uid: this.sessionOf(request)?.uid ?? null });
      case "POST /console/api/login":
        return this.onLogin(request);
      case "POST /console/api/logout":
        return this.onLogout(request);
      case "GET /console/api/state":
        return this.onState(request);
      default:
        return null;
    }
  }

  private async sample(): Promise<void> {
    if (this.sampling) return; // a slow round is still out: skip a tick rather than pile up
    this.sampling = true;
    try {
      const status = await this.clientForStatus().status();
      this.timeline.observe(this.options.nowMs(), status);
      this.lastError = null;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!(error instanceof FtfsError)) {
        // Our bug, not the cluster's state: said loudly, but the node keeps serving.
        this.options.logger.error("console sampling failed", { reason: message });
      }
      this.lastError = { atMs: this.options.nowMs(), message };
    } finally {
      this.sampling = false;
    }
  }

  private onState(request: Request): Response {
    if (this.options.secure && this.sessionOf(request) === null) {
      return problem(401, "LOGIN_REQUIRED", "log in with an admin uid and secret");
    }
    const latest = this.timeline.latest();
    return json({
      servedBy: this.options.node,
      answeredBy: latest?.status.node ?? null,
      verdict: latest?.verdict ?? null,
      members: latest?.status.members ?? [],
      groups: latest?.status.groups ?? [],
      unreachable: latest?.status.unreachable ?? [],
      catchUps: this.timeline.catchUps(),
      samples: this.timeline.samples().slice(-CONSOLE_PAGE_SAMPLES),
      events: this.timeline.events().slice(-CONSOLE_PAGE_EVENTS).reverse(),
      sampleIntervalMs: CONSOLE_SAMPLE_INTERVAL_MS,
      lastError: this.lastError,
    });
  }

  private async onLogin(request: Request): Promise<Response> {
    if (!this.options.secure) return json({ uid: null, secure: false });
    const credentials = await loginBody(request);
    if (!credentials.ok) return problem(400, "BAD_REQUEST", credentials.error.message);
    const { uid, secret } = credentials.value;
    let login: LoginSession;
    const client = new FtfsClient({
      directories: this.options.directories(),
      tls: this.options.clientTls,
      firstContactDeadlineMs: CONSOLE_STATUS_DEADLINE_MS,
    });
    try {
      const challenge = await client.loginStart(uid);
      if (challenge === null) return problem(409, "NOT_SECURE", "the cluster has no users");
      login = await client.loginFinish(challenge, secret);
    } catch (error) {
      if (!(error instanceof FtfsError)) throw error;
      const status = error.code === "AUTH_FAILED" ? 401 : error.retryable ? 503 : 400;
      return problem(status, error.code, error.message);
    } finally {
      client.close();
    }
    if (!login.admin) {
      return problem(403, "FORBIDDEN", `the console is for admin users, and ${uid} is not one`);
    }
    const id = toBase64Url(secureRandomBytes(CONSOLE_SESSION_ID_BYTES));
    this.remember(id, { uid, token: login.token, expiresAtMs: login.expiresAtMs });
    this.options.logger.info("console login", { uid });
    const maxAgeS = Math.max(0, Math.floor((login.expiresAtMs - this.options.nowMs()) / 1000));
    return json(
      { uid, secure: true },
      {
        "set-cookie": `${CONSOLE_COOKIE_NAME}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}`,
      },
    );
  }

  private onLogout(request: Request): Response {
    const id = cookieOf(request);
    if (id !== null) this.sessions.delete(id);
    return json(
      { uid: null, secure: this.options.secure },
      { "set-cookie": `${CONSOLE_COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` },
    );
  }

  private remember(id: string, session: ConsoleSession): void {
    if (this.sessions.size >= CONSOLE_SESSIONS_MAX) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    this.sessions.set(id, session);
  }

  /**
   * The request's live session: its cookie names one, it has not expired, and its user is
   * still an admin as this node knows it now (a node that has not yet applied the user's
   * creation cannot judge, and lets it be).
   */
  private sessionOf(request: Request): ConsoleSession | null {
    const id = cookieOf(request);
    const session = id === null ? undefined : this.sessions.get(id);
    if (id === null || session === undefined) return null;
    const checked = this.options.authenticate(session.token);
    const live = checked.ok
      ? checked.value.principal.admin
      : checked.error.code === "UNAVAILABLE" && session.expiresAtMs > this.options.nowMs();
    if (!live) {
      this.sessions.delete(id);
      return null;
    }
    return session;
  }

  private pageAssets(): Promise<ConsoleAssets> {
    this.assets ??= consoleAssets();
    return this.assets;
  }
}

async function bundle(entry: string): Promise<string> {
  const built = await Bun.build({ entrypoints: [entry], target: "browser", minify: true });
  const output = built.outputs[0];
  if (!built.success || output === undefined) {
    throw new Error(`the console's script did not build: ${built.logs.join("; ")}`);
  }
  return output.text();
}

async function loginBody(
  request: Request,
): Promise<Result<{ readonly uid: string; readonly secret: string }>> {
  const text = await request.text();
  if (text.length > CONSOLE_LOGIN_BODY_BYTES_MAX) {
    return { ok: false, error: new FtfsError("BAD_REQUEST", "the login is too long") };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: new FtfsError("BAD_REQUEST", "the login is not JSON") };
  }
  const { uid, secret } = (typeof value === "object" && value !== null ? value : {}) as Record<
    string,
    unknown
  >;
  if (typeof uid !== "string" || typeof secret !== "string" || uid === "" || secret === "") {
    return { ok: false, error: new FtfsError("BAD_REQUEST", "give a uid and a secret") };
  }
  return { ok: true, value: { uid, secret } };
}

function cookieOf(request: Request): string | null {
  const header = request.headers.get("cookie") ?? "";
  for (const part of header.split(";")) {
    const [name, value] = part.trim().split("=", 2);
    if (name === CONSOLE_COOKIE_NAME && value !== undefined && value !== "") return value;
  }
  return null;
}

function pageHeaders(type: string): Record<string, string> {
  return {
    "content-type": `${type}; charset=utf-8`,
    "cache-control": "no-store",
    // Everything the page loads comes from this node; nothing may frame it.
    "content-security-policy":
      "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
  };
}

function json(body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

function problem(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ error: code, message }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
