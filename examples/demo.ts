/**
 * The demo server behind `npm start`: a WebSocket echo endpoint at /echo and a plain HTTP
 * answer everywhere else, built with the public API exactly as an application would.
 */
import { handshake, serve } from "undercurrent";

const port = Number(process.env["PORT"] ?? 8080);

const site = handshake(
  (_request, response) => {
    response.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    response.end("undercurrent demo: connect a WebSocket client to /echo\n");
  },
  {
    onMessage({ channel, text, data }) {
      if (text !== undefined) void channel.sendText(text);
      else void channel.sendBinary(data);
    },
  },
  { path: "/echo", maxPayload: 16 * 1024 * 1024, compression: true },
);

const server = await serve(site, { port, host: "127.0.0.1" });
console.log(`undercurrent demo listening on http://127.0.0.1:${server.port}/ (echo: ${server.url}/echo)`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
