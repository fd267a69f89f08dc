/**
 * undercurrent on a plain `node:http` server: the handler is the request listener (plain
 * requests go on to `site`) and its `.upgrade` takes the server's `upgrade` event.
 *
 *     PORT=8080 npx tsx examples/http.ts
 *
 * Then: `curl http://127.0.0.1:8080/` and a WebSocket client on ws://127.0.0.1:8080/echo.
 */
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { handshake } from "undercurrent";

/** A running example: where it listens, and how to stop it. */
export interface Running {
  readonly port: number;
  /** Closes every WebSocket with 1001, waits for them, and stops the server. */
  close(): Promise<void>;
}

/** Starts the example on 127.0.0.1:`port` (0 picks a free port). */
export async function start(port = 0): Promise<Running> {
  // Plain requests (no `Upgrade: websocket`) go to this listener.
  const site: http.RequestListener = (_request, response) => {
    response.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    response.end("hello from node:http\n");
  };

  const echo = handshake(
    site,
    {
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else void channel.sendBinary(data);
      },
    },
    { path: "/echo" }, // upgrades for any other path are refused with 404
  );

  const server = http.createServer(echo).on("upgrade", echo.upgrade);
  server.listen(port, "127.0.0.1");
  await once(server, "listening");

  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await echo.close(); // 1001 to every WebSocket; resolves once they have closed
      server.closeAllConnections();
      await stopped;
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const running = await start(Number(process.env["PORT"] ?? 8080));
  const base = `127.0.0.1:${running.port}`;
  console.log(`listening on http://${base}/ (WebSocket: ws://${base}/echo)`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void running.close().then(() => process.exit(0)));
  }
}
