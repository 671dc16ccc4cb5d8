// A small TCP load balancer for the cluster example and its tests: each new connection goes to the next backend in
// turn, skipping a backend that refuses it. No sticky sessions: a client that reconnects may land on another node,
// and replay (Last-Event-ID) makes that safe.
import net from "node:net";

/**
 * Starts a balancer on 127.0.0.1 (port 0 by default) in front of `backends` (a list of ports, which may change).
 * Resolves with { port, close() }.
 */
export function startBalancer(backends, port = 0) {
  let next = 0;
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    client.pause();
    tryBackend(client, backends.length);
  });

  function tryBackend(client, attempts) {
    if (attempts === 0 || client.destroyed) {
      client.destroy();
      return;
    }
    const target = backends[next++ % backends.length];
    const upstream = net.connect(target, "127.0.0.1");
    upstream.once("error", () => {
      upstream.destroy();
      if (!upstream.connected) tryBackend(client, attempts - 1);
      else client.destroy();
    });
    upstream.once("connect", () => {
      upstream.connected = true;
      sockets.add(upstream);
      upstream.on("close", () => {
        sockets.delete(upstream);
        client.destroy();
      });
      client.on("close", () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }

  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () =>
      resolve({
        port: server.address().port,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}
