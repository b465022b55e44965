/**
 * systemd's readiness protocol (sd_notify): a unit with `Type=notify` is started only once the
 * node says `READY=1`, and `STOPPING=1` tells it a graceful leave is under way. The message is
 * one datagram to the unix socket systemd names in NOTIFY_SOCKET; Bun has no unix datagram
 * socket, so this calls libc's socket/sendto through bun:ffi. Without NOTIFY_SOCKET (not under
 * systemd) it does nothing. A failure to notify never stops a node: systemd's start timeout is
 * the judge, and the caller logs what went wrong.
 */

import { dlopen, FFIType, ptr } from "bun:ffi";

export const NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET";
const LIBC = "libc.so.6";
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
/** sockaddr_un: a 2-byte family, then the path; Linux's sun_path holds 108 bytes. */
const SOCKADDR_FAMILY_BYTES = 2;
const SUN_PATH_BYTES_MAX = 108;

type Libc = ReturnType<typeof openLibc>;
let libc: Libc | null = null;

function openLibc() {
  return dlopen(LIBC, {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: {
      args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32],
      returns: FFIType.i64,
    },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  }).symbols;
}

/**
 * The socket address systemd gave: a path, or an abstract name written with a leading '@'
 * (its first byte is then NUL, and the length is exact: abstract names are not terminated).
 */
export function notifySocketAddress(socketPath: string): Uint8Array {
  const abstract = socketPath.startsWith("@");
  const name = new TextEncoder().encode(abstract ? socketPath.slice(1) : socketPath);
  const pathBytes = name.length + 1; // the NUL that starts an abstract name or ends a path
  if (pathBytes > SUN_PATH_BYTES_MAX) {
    throw new Error(`${NOTIFY_SOCKET_ENV} is longer than a unix socket path may be`);
  }
  const address = new Uint8Array(SOCKADDR_FAMILY_BYTES + pathBytes);
  new DataView(address.buffer).setUint16(0, AF_UNIX, true);
  address.set(name, SOCKADDR_FAMILY_BYTES + (abstract ? 1 : 0));
  return abstract ? address.subarray(0, SOCKADDR_FAMILY_BYTES + 1 + name.length) : address;
}

/**
 * Send `fields` (e.g. `READY=1`) to systemd. Answers false when not under systemd; throws an
 * Error saying why when the datagram could not be sent.
 */
export function sdNotify(
  fields: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  const socketPath = env[NOTIFY_SOCKET_ENV] ?? "";
  if (socketPath === "") return false;
  const address = notifySocketAddress(socketPath);
  const message = new TextEncoder().encode(fields);
  libc ??= openLibc();
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error("cannot open a socket to tell systemd");
  try {
    const sent = libc.sendto(fd, ptr(message), message.length, 0, ptr(address), address.length);
    if (Number(sent) !== message.length) {
      throw new Error(`cannot tell systemd '${fields}' at ${socketPath}`);
    }
  } finally {
    libc.close(fd);
  }
  return true;
}
