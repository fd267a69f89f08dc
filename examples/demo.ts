/**
 * The demo server behind `npm start`, built with the public API exactly as an application
 * would: the chat page at `/` (its WebSocket at `/chat`, rooms as topics), an echo endpoint at
 * `/echo` (16 MiB messages, compression on), Prometheus metrics at `/metrics`, the chat page's
 * live panel at `/stats`, and a plain answer elsewhere. With `REDIS_URL`
 * set, several demo processes share chat rooms through Redis.
 */
import { Registry } from "prom-client";
import { handshake, serve, type Broker } from "undercurrent";
import { chat, chatPage } from "./chat/server.js";
import { registerMetrics } from "./prometheus.js";

const port = Number(process.env["PORT"] ?? 8080);
const redisUrl = process.env["REDIS_URL"];

let broker: Broker | undefined;
if (redisUrl !== undefined && redisUrl !== "") {
  const { RedisBroker } = await import("undercurrent/redis");
  broker = new RedisBroker({ url: redisUrl, onError: (error) => console.error(`redis: ${error.message}`) });
}

// Prometheus metrics of both handlers at /metrics (see examples/prometheus.ts).
const registry = new Registry();

const plain = chatPage((request, response) => {
  if ((request.url ?? "/").split("?")[0] === "/metrics") {
    registry.metrics().then(
      (text) => response.writeHead(200, { "Content-Type": registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
    return;
  }
  response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
  response.end("undercurrent demo: the chat is at /, the echo endpoint at /echo, metrics at /metrics\n");
});

const chatHandler = chat(plain, broker === undefined ? {} : { broker });
const site = handshake(
  chatHandler,
  {
    onMessage({ channel, text, data }) {
      if (text !== undefined) void channel.sendText(text);
      else void channel.sendBinary(data);
    },
  },
  { path: "/echo", maxPayload: 16 * 1024 * 1024, compression: true },
);

registerMetrics(registry, { chat: chatHandler, echo: site }, { topics: true });

const server = await serve(site, { port, host: "127.0.0.1" });
console.log(`undercurrent demo: chat at http://127.0.0.1:${server.port}/ (echo: ${server.url}/echo)`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void server
      .close()
      .then(() => broker?.close())
      .then(() => process.exit(0));
  });
}
