/**
 * The `ws` side of the benchmark: `node --import tsx bench/ws-server.ts PORT MODE`, MODE `echo` or
 * `broadcast`, serving ws://127.0.0.1:PORT/ with compression off, as bench/server.ts does for
 * undercurrent. Broadcast is ws's idiomatic loop over `wss.clients`.
 */
import { WebSocketServer, type RawData, type WebSocket } from "ws";

const [portArg = "9001", mode = "echo"] = process.argv.slice(-2);

const wss = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(portArg),
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024,
});

wss.on("connection", (socket: WebSocket) => {
  socket.on("message", (data: RawData, binary: boolean) => {
    if (mode === "broadcast") {
      for (const client of wss.clients) client.send(data, { binary });
    } else {
      socket.send(data, { binary });
    }
  });
});

process.on("SIGTERM", () => process.exit(0));
