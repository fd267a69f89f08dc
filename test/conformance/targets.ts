/**
 * Echo servers for the conformance suite, each on 127.0.0.1 and an ephemeral port:
 * `ws` as the control, and our raw echo server, strict or with deliberate defects.
 * The undercurrent target lives in `undercurrent-target.ts` so that only what tests
 * undercurrent depends on `src/`.
 * @module
 */
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { startRawEchoServer, type Defect, type EchoTarget } from "./raw-echo-server.js";

export type { Defect, EchoTarget };

/**
 * The control: `ws`, echoing text as text and binary as binary, 16 MiB messages,
 * permessage-deflate with its defaults (categories 12 and 13), no cap on the number of fragments.
 */
export async function startWsEcho(): Promise<EchoTarget> {
  const wss = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    maxPayload: 16 * 1024 * 1024,
    perMessageDeflate: true,
    // ws 8.23 caps a message at 16384 fragments by default (1008 beyond); Autobahn's 9.3.1 and
    // 9.4.1 send 65536. Lift the cap so the control measures RFC 6455 alone.
    maxFragments: 0,
  });
  wss.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** Our raw echo server with the given defects (none: strict). */
export function startBrokenEcho(...defects: Defect[]): Promise<EchoTarget> {
  return startRawEchoServer({ defects });
}
