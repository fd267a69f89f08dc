/**
 * The benchmark server: `node --import tsx bench/server.ts PORT MODE`, MODE `echo` or
 * `broadcast`, serving ws://127.0.0.1:PORT/ with compression off (the referee harness's
 * interface, and the one bench/ uses).
 */
import { handshake, serve } from "../src/index.js";

const [portArg = "9001", mode = "echo"] = process.argv.slice(-2);

const handler =
  mode === "broadcast"
    ? handshake(
        {
          onMessage({ channel, text, data }) {
            for (const peer of channel.peers) {
              if (text !== undefined) void peer.sendText(text);
              else void peer.sendBinary(data);
            }
          },
        },
        { maxPayload: 64 * 1024 * 1024 },
      )
    : handshake(
        {
          onMessage({ channel, text, data }) {
            if (text !== undefined) void channel.sendText(text);
            else void channel.sendBinary(data);
          },
        },
        { maxPayload: 64 * 1024 * 1024 },
      );

await serve(handler, { port: Number(portArg), host: "127.0.0.1" });
process.on("SIGTERM", () => process.exit(0));
