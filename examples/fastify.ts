/**
 * undercurrent with Fastify: Fastify answers the plain routes, and `echo.upgrade` listens to
 * the `upgrade` event of `fastify.server` (the underlying `http.Server`). A `preClose` hook
 * closes the WebSockets, which would otherwise keep `fastify.close()` waiting.
 *
 *     PORT=8080 npx tsx examples/fastify.ts
 *
 * Then: `curl http://127.0.0.1:8080/` and a WebSocket client on ws://127.0.0.1:8080/echo.
 */
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import Fastify from "fastify";
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

  const fastify = Fastify();
  fastify.get("/", async () => "hello from fastify\n");
  fastify.get("/stats", async () => ({ connections: echo.connections.size }));
  fastify.server.on("upgrade", echo.upgrade);
  fastify.addHook("preClose", async () => {
    await echo.close(); // 1001 to every WebSocket; resolves once they have closed
  });

  await fastify.listen({ port, host: "127.0.0.1" });

  return {
    port: (fastify.server.address() as AddressInfo).port,
    close: () => fastify.close(),
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
