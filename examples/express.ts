/**
 * undercurrent with Express: `app.use(echo)` lets plain requests through to the routes, the
 * handler also works as route middleware, and `server.on("upgrade", echo.upgrade)` on the
 * server `app.listen()` returns takes the WebSocket upgrades (Express never sees those).
 *
 *     PORT=8080 npx tsx examples/express.ts
 *
 * Then: `curl http://127.0.0.1:8080/`, `curl http://127.0.0.1:8080/stats`, and a WebSocket
 * client on ws://127.0.0.1:8080/echo.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import express from "express";
import { handshake } from "undercurrent";

/** A running example: where it listens, and how to stop it. */
export interface Running {
  readonly port: number;
  /** Closes every WebSocket with 1001, waits for them, and stops the server. */
  close(): Promise<void>;
}

/** Starts the example on 127.0.0.1:`port` (0 picks a free port). */
export async function start(port = 0): Promise<Running> {
  const echo = handshake(
    {
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else void channel.sendBinary(data);
      },
    },
    { path: "/echo" },
  );

  const app = express();
  // As application middleware: a request without `Upgrade: websocket` goes on to `next()`.
  app.use(echo);
  app.get("/", (_request, response) => {
    response.type("text/plain").send("hello from express\n");
  });
  // As route middleware: a plain GET /echo (a browser, say) falls through to the next handler.
  app.get("/echo", echo, (_request, response) => {
    response
      .status(426)
      .set("Upgrade", "websocket")
      .type("text/plain")
      .send("connect a WebSocket client here\n");
  });
  app.get("/stats", (_request, response) => {
    response.json({ connections: echo.connections.size });
  });

  const server = app.listen(port, "127.0.0.1");
  server.on("upgrade", echo.upgrade);
  await once(server, "listening");

  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await echo.close();
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
