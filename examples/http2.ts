/**
 * undercurrent on an HTTP/2 server of your own (`node:http2`), WebSockets over HTTP/2 (RFC 8441)
 * and HTTP/1.1 on one port: `attach(server, handler)` advertises SETTINGS_ENABLE_CONNECT_PROTOCOL,
 * takes extended CONNECT streams and HTTP/1.1 upgrades, and leaves plain requests to the server's
 * own request listener. A browser that loads the page over HTTP/2 opens `wss://…/echo` as a
 * stream on the same connection. The certificate and key are read from `TLS_CERT` and `TLS_KEY`.
 *
 *     openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
 *       -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout key.pem -out cert.pem
 *     TLS_CERT=cert.pem TLS_KEY=key.pem PORT=8443 npx tsx examples/http2.ts
 */
import http2 from "node:http2";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { attach, handshake } from "undercurrent";

/** A running example: where it listens, and how to stop it. */
export interface Running {
  readonly port: number;
  /** Closes every WebSocket with 1001 (then GOAWAY), waits for them, and stops the server. */
  close(): Promise<void>;
}

/** The server's certificate chain and private key, PEM. */
export interface Tls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>echo</title><pre id="log"></pre><script>
const ws = new WebSocket(\`wss://\${location.host}/echo\`);
ws.onopen = () => ws.send("hello over " + performance.getEntriesByType("navigation")[0].nextHopProtocol);
ws.onmessage = (event) => (document.getElementById("log").textContent += event.data + "\\n");
</script>`;

/** Starts the example on 127.0.0.1:`port` (0 picks a free port). */
export async function start(port: number, tls: Tls): Promise<Running> {
  const echo = handshake(
    {
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else void channel.sendBinary(data);
      },
    },
    { path: "/echo" },
  );

  // The application's own server and request listener; `allowHTTP1` keeps HTTP/1.1 clients.
  const server = http2.createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true }, (_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(PAGE);
  });
  attach(server, echo);
  server.listen(port, "127.0.0.1");
  await once(server, "listening");

  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await echo.close();
      await stopped;
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const certPath = process.env["TLS_CERT"];
  const keyPath = process.env["TLS_KEY"];
  if (certPath === undefined || keyPath === undefined) {
    console.error("set TLS_CERT and TLS_KEY to the paths of a PEM certificate and its key");
    process.exit(1);
  }
  const running = await start(Number(process.env["PORT"] ?? 8443), {
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
  });
  const base = `127.0.0.1:${running.port}`;
  console.log(`listening on https://${base}/ (WebSocket: wss://${base}/echo, HTTP/2 or HTTP/1.1)`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void running.close().then(() => process.exit(0)));
  }
}
