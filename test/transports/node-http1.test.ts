/**
 * The behaviour suite on Node's HTTP/1.1 upgrade: `handshake()` + `serve()` from the Node entry
 * point, on 127.0.0.1 and a free port, driven by the `ws` and undici clients.
 */
import { handshake, serve } from "../../src/index.js";
import { behaviourSuite, type TransportUnderTest } from "./behaviour-suite.js";
import { undiciClient, wsClient } from "./clients.js";

const nodeHttp1: TransportUnderTest = {
  name: "Node HTTP/1.1 upgrade",
  async start(definition) {
    const handler = handshake(definition.callbacks, definition.options);
    const server = await serve(handler, { host: "127.0.0.1", port: 0 });
    return {
      url: server.url,
      connections: handler.connections,
      closeHandler: (code, reason) => handler.close(code, reason),
      stop: () => server.close(),
    };
  },
  clients: [wsClient, undiciClient],
};

behaviourSuite(nodeHttp1);
