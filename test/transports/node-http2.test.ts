/**
 * The behaviour suite over HTTP/2 (RFC 8441): `handshake()` + `serve()` with `tls` (HTTPS, ALPN
 * h2 and http/1.1 on one port), on 127.0.0.1 and a free port. The HTTP/2 client opens each
 * WebSocket as an extended CONNECT stream; the `ws` client, on the same server, takes its
 * HTTP/1.1 side (ALPN http/1.1, an upgrade over TLS). A self-signed certificate is made for the
 * run (test/helpers/certificate.ts) and the clients trust exactly it.
 */
import { after } from "node:test";
import { handshake, serve } from "../../src/index.js";
import { selfSignedCertificate } from "../helpers/certificate.js";
import { behaviourSuite, type TransportUnderTest } from "./behaviour-suite.js";
import { h2Client, wssClient } from "./clients.js";

const certificate = await selfSignedCertificate();
after(() => certificate.remove());

const nodeHttp2: TransportUnderTest = {
  name: "Node HTTP/2 extended CONNECT",
  async start(definition) {
    const handler = handshake(definition.callbacks, definition.options);
    const server = await serve(handler, {
      host: "127.0.0.1",
      port: 0,
      tls: { cert: certificate.cert, key: certificate.key },
    });
    return {
      url: server.url,
      connections: handler.connections,
      closeHandler: (code, reason) => handler.close(code, reason),
      stop: () => server.close(),
    };
  },
  clients: [h2Client(certificate.cert), wssClient(certificate.cert)],
};

behaviourSuite(nodeHttp2);
