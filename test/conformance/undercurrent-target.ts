/**
 * The server under test: undercurrent as an echo server (text as text, binary as binary,
 * 16 MiB messages, permessage-deflate with its defaults, so categories 12 and 13 apply and
 * categories 1–10 run with compression enabled but not negotiated). Kept apart from `targets.ts`
 * so that only what tests undercurrent depends on `src/`.
 * @module
 */
import { createServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { attach, handshake, serve } from "../../src/index.js";
import type { EchoTarget } from "./targets.js";

/** Which transport the echo server is reached over. */
export type Transport = "http1" | "http2";

/**
 * Starts undercurrent's echo server on 127.0.0.1 and an ephemeral port: over HTTP/1.1 (a
 * `ws://` URL), or over cleartext HTTP/2 with prior knowledge (an `h2c://` URL, which
 * `RawClient` opens as an extended CONNECT stream, RFC 8441).
 */
export async function startUndercurrentEcho(transport: Transport = "http1"): Promise<EchoTarget> {
  const handler = handshake(
    {
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else if (data !== undefined) void channel.sendBinary(data);
      },
    },
    { maxPayload: 16 * 1024 * 1024, compression: true },
  );
  if (transport === "http1") {
    const server = await serve(handler, { port: 0, host: "127.0.0.1" });
    return { url: server.url, close: () => server.close() };
  }
  const server = createServer();
  attach(server, handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `h2c://127.0.0.1:${port}/`,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await handler.close();
      await stopped;
    },
  };
}
