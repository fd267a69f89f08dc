/**
 * undercurrent with Hono on `@hono/node-server`: Hono answers the plain routes, and
 * `serve()` returns the Node server, whose `upgrade` event goes to `echo.upgrade`.
 *
 *     PORT=8080 npx tsx examples/hono.ts
 *
 * Then: `curl http://127.0.0.1:8080/` and a WebSocket client on ws://127.0.0.1:8080/echo.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
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

  const app = new Hono();
  app.get("/", (c) => c.text("hello from hono\n"));
  app.get("/stats", (c) => c.json({ connections: echo.connections.size }));

  const server = await new Promise<Server>((resolve, reject) => {
    // Without `createServer` options, serve() makes a node:http server.
    const started = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, () =>
      resolve(started as Server),
    );
    started.once("error", reject);
  });
  server.on("upgrade", echo.upgrade);

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
