/**
 * The benchmark server: `node --import tsx bench/server.ts PORT MODE [--h2c]`, MODE `echo` or
 * `broadcast`, serving ws://127.0.0.1:PORT/ with compression off (the interface of bench/run.ts
 * and of the referee harness). Broadcast uses topics: every connection subscribes to one topic
 * and each message is published to it, framed once, the sender included.
 *
 * With `--h2c`, the same handler with the same options serves WebSockets over cleartext HTTP/2
 * (prior knowledge, RFC 8441 extended CONNECT) instead: `http2.createServer()` with `attach`, and
 * Node's default HTTP/2 settings.
 */
import { createServer } from "node:http2";
import { attach, handshake, serve } from "../src/index.js";

const h2c = process.argv.includes("--h2c");
const [portArg = "9001", mode = "echo"] = process.argv
  .slice(2)
  .filter((a) => a !== "--h2c")
  .slice(-2);
const options = { maxPayload: 64 * 1024 * 1024, maxBackpressure: 64 * 1024 * 1024 };

const handler =
  mode === "broadcast"
    ? handshake(
        {
          onConnect({ channel }) {
            channel.subscribe("all");
          },
          onMessage({ text, data }) {
            handler.publish("all", text ?? data!);
          },
        },
        options,
      )
    : handshake(
        {
          onMessage({ channel, text, data }) {
            if (text !== undefined) void channel.sendText(text);
            else void channel.sendBinary(data);
          },
        },
        options,
      );

if (h2c) {
  const server = createServer();
  attach(server, handler);
  await new Promise<void>((listening) => server.listen(Number(portArg), "127.0.0.1", listening));
} else {
  await serve(handler, { port: Number(portArg), host: "127.0.0.1" });
}
process.on("SIGTERM", () => process.exit(0));
