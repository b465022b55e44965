/**
 * A loopback TCP sink for machine-limits.ts: prints its port, reads `argv[2]` bytes from one
 * connection, answers one byte, exits. A separate process, as FTFS's nodes are.
 */
const expectedBytes = Number(process.argv[2]);
let received = 0;
const listener = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    data(socket, bytes) {
      received += bytes.length;
      if (received >= expectedBytes) {
        socket.write(new Uint8Array([1]));
        socket.end();
        listener.stop();
        setTimeout(() => process.exit(0), 10);
      }
    },
  },
});
console.log(listener.port);
