/**
 * An echo server with compression settings from argv (JSON), for bench/deflate-memory.ts:
 * `node --import tsx bench/deflate-server.ts '{"serverNoContextTakeover":true}'` ("off" for no
 * compression). Prints its port, then serves until killed.
 */
import { handshake, serve, type CompressionOptions } from "../src/index.js";

const arg = process.argv[2] ?? "{}";
const compression: boolean | CompressionOptions =
  arg === "off" ? false : (JSON.parse(arg) as CompressionOptions);
const handler = handshake(
  {
    onMessage({ channel, text, data }) {
      if (text !== undefined) void channel.sendText(text);
      else void channel.sendBinary(data);
    },
  },
  { compression, maxConnections: 100_000 },
);
const server = await serve(handler, { port: 0 });
console.log(server.port);
process.on("SIGTERM", () => process.exit(0));
