/**
 * The benchmark server: `node --import tsx bench/server.ts PORT MODE [--h2c]`, MODE `echo` or
 * `broadcast`, serving ws://127.0.0.1:PORT/ with compression off (the interface of bench/run.ts
 * and of the referee harness). Broadcast uses topics: every connection subscribes to one topic
 * and each message is published to it, framed once, the sender included. With
 * `BENCH_SUBSCRIBERS=1` in the environment, a no-op subscriber listens on every handler channel.
 *
 * With `--h2c`, the same handler with the same options serves WebSockets over cleartext HTTP/2
 * (prior knowledge, RFC 8441 extended CONNECT) instead: `http2.createServer()` with `attach`, and
 * Node's default HTTP/2 settings. `--h2-window BYTES` (an experiment of bench/README.md, not used
 * by `npm run bench`) raises the server's receive windows, the stream's initial one (a setting)
 * and each session's, from HTTP/2's 65,535 bytes.
 */
import { subscribe } from "node:diagnostics_channel";
import { createServer } from "node:http2";
import { HANDLER_EVENTS, attach, handshake, serve } from "../src/index.js";

// BENCH_SUBSCRIBERS=1: a (no-op) diagnostics_channel subscriber on every handler channel, to
// measure what listening costs (see README, Observability).
if (process.env["BENCH_SUBSCRIBERS"] === "1") for (const name of HANDLER_EVENTS) subscribe(name, () => {});

const argv = process.argv.slice(2);
const h2c = argv.includes("--h2c");
const windowAt = argv.indexOf("--h2-window");
const h2Window = windowAt === -1 ? undefined : Number(argv.splice(windowAt, 2)[1]);
const [portArg = "9001", mode = "echo"] = argv.filter((a) => a !== "--h2c").slice(-2);
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
  const server = createServer(h2Window === undefined ? {} : { settings: { initialWindowSize: h2Window } });
  if (h2Window !== undefined) server.on("session", (session) => session.setLocalWindowSize(h2Window));
  attach(server, handler);
  await new Promise<void>((listening) => server.listen(Number(portArg), "127.0.0.1", listening));
} else {
  await serve(handler, { port: Number(portArg), host: "127.0.0.1" });
}
process.on("SIGTERM", () => process.exit(0));
