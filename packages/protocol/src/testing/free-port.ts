/**
 * Free loopback ports for tests: bind port 0 on both TCP and UDP (nodes use one port for both),
 * read what the kernel chose, release it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const tcp = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = tcp.port;
    tcp.stop(true);
    try {
      const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port });
      udp.close();
      return port;
    } catch {
      // UDP side taken: try another port
    }
  }
  throw new Error("no free loopback port found after 20 attempts");
}
