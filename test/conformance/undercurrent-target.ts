/**
 * The server under test: undercurrent as an echo server (text as text, binary as binary,
 * 16 MiB messages, permessage-deflate with its defaults, so categories 12 and 13 apply and
 * categories 1–10 run with compression enabled but not negotiated). Kept apart from `targets.ts` so that only what tests undercurrent
 * depends on `src/`.
 * @module
 */
import { handshake, serve } from "../../src/index.js";
import type { EchoTarget } from "./targets.js";

/** Starts undercurrent's echo server on 127.0.0.1 and an ephemeral port. */
export async function startUndercurrentEcho(): Promise<EchoTarget> {
  const handler = handshake(
    {
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else if (data !== undefined) void channel.sendBinary(data);
      },
    },
    { maxPayload: 16 * 1024 * 1024, compression: true },
  );
  const server = await serve(handler, { port: 0, host: "127.0.0.1" });
  return { url: server.url, close: () => server.close() };
}
