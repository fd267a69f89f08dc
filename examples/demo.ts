/**
 * The demo server behind `npm start`, built with the public API exactly as an application
 * would: the chat page at `/` (its WebSocket at `/chat`, rooms as topics), an echo endpoint at
 * `/echo` (16 MiB messages, compression on), Prometheus metrics at `/metrics`, the chat page's
 * live panel at `/stats`, and a plain answer elsewhere. With `REDIS_URL`
 * set, several demo processes share chat rooms through Redis.
 *
 * The same site is also served over HTTPS on `HTTPS_PORT` (default 8443), with HTTP/2 and
 * HTTP/1.1 on one port: a browser that loads the chat from there opens its WebSocket as an
 * extended CONNECT stream on the page's HTTP/2 connection (RFC 8441), and the page says so. The
 * certificate comes from `TLS_CERT`/`TLS_KEY`, or is a development one made at the first start
 * (see dev-certificate.ts). `HTTPS_PORT=off` turns it off.
 */
import { Registry } from "prom-client";
import { handshake, serve, type Broker } from "undercurrent";
import { devCertificate } from "./dev-certificate.js";
import { chat, chatPage } from "./chat/server.js";
import { registerMetrics } from "./prometheus.js";

const port = Number(process.env["PORT"] ?? 8080);
// PORT=0 (a free port, as tests ask) picks a free HTTPS port too.
const httpsPort = process.env["HTTPS_PORT"] ?? (port === 0 ? "0" : "8443");
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

let secure: { close(): Promise<void> } | undefined;
if (httpsPort !== "off") {
  const certificate = await devCertificate();
  if ("missing" in certificate) console.log(`undercurrent demo: HTTPS off: ${certificate.missing}`);
  else {
    try {
      const tls = await serve(site, { port: Number(httpsPort), host: "127.0.0.1", tls: certificate });
      secure = tls;
      const selfSigned = certificate.source === "TLS_CERT/TLS_KEY" ? "" : ", self-signed: accept it once";
      console.log(
        `undercurrent demo: chat over HTTPS with HTTP/2 at https://127.0.0.1:${tls.port}/ ` +
          `(certificate: ${certificate.source}${selfSigned}; echo: ${tls.url}/echo)`,
      );
    } catch (error) {
      console.log(
        `undercurrent demo: HTTPS off: ${(error as Error).message} (HTTPS_PORT=… to choose another port)`,
      );
    }
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void Promise.all([server.close(), secure?.close()])
      .then(() => broker?.close())
      .then(() => process.exit(0));
  });
}
