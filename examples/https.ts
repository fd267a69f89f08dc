/**
 * undercurrent on `node:https`: the same wiring as plain HTTP, and clients connect with
 * `wss://`. The certificate and key are read from the files named by `TLS_CERT` and `TLS_KEY`.
 *
 *     openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
 *       -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout key.pem -out cert.pem
 *     TLS_CERT=cert.pem TLS_KEY=key.pem PORT=8443 npx tsx examples/https.ts
 *
 * Then: `curl --cacert cert.pem https://localhost:8443/` and a WebSocket client on
 * wss://localhost:8443/echo.
 */
import https from "node:https";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { handshake } from "undercurrent";

/** A running example: where it listens, and how to stop it. */
export interface Running {
  readonly port: number;
  /** Closes every WebSocket with 1001, waits for them, and stops the server. */
  close(): Promise<void>;
}

/** The server's certificate chain and private key, PEM. */
export interface Tls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/** Starts the example on 127.0.0.1:`port` (0 picks a free port). */
export async function start(port: number, tls: Tls): Promise<Running> {
  const echo = handshake(
    (_request, response) => {
      response.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      response.end("hello from node:https\n");
    },
    {
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else void channel.sendBinary(data);
      },
    },
    { path: "/echo" },
  );

  // TLS is the server's business: the handler sees decrypted requests and sockets.
  const server = https.createServer({ cert: tls.cert, key: tls.key }, echo).on("upgrade", echo.upgrade);
  server.listen(port, "127.0.0.1");
  await once(server, "listening");

  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await echo.close();
      server.closeAllConnections();
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
  console.log(`listening on https://${base}/ (WebSocket: wss://${base}/echo)`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void running.close().then(() => process.exit(0)));
  }
}
