/**
 * The benchmark server: `node --import tsx bench/server.ts PORT MODE`, MODE `echo` or
 * `broadcast`, serving ws://127.0.0.1:PORT/ with compression off (the interface of bench/run.ts
 * and of the referee harness). Broadcast uses topics: every connection subscribes to one topic
 * and each message is published to it, framed once, the sender included. With
 * `BENCH_SUBSCRIBERS=1` in the environment, a no-op subscriber listens on every handler channel.
 */
import { subscribe } from "node:diagnostics_channel";
import { HANDLER_EVENTS, handshake, serve } from "../src/index.js";

// BENCH_SUBSCRIBERS=1: a (no-op) diagnostics_channel subscriber on every handler channel, to
// measure what listening costs (see README, Observability).
if (process.env["BENCH_SUBSCRIBERS"] === "1") for (const name of HANDLER_EVENTS) subscribe(name, () => {});

const [portArg = "9001", mode = "echo"] = process.argv.slice(-2);
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

await serve(handler, { port: Number(portArg), host: "127.0.0.1" });
process.on("SIGTERM", () => process.exit(0));
