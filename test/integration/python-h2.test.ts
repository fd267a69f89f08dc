/**
 * Interop over HTTP/2 (RFC 8441) with a peer that shares no code with Node or undercurrent:
 * Python's `h2` and `wsproto` (Debian packages python3-h2 and python3-wsproto, for
 * /usr/bin/python3) as a client of an undercurrent echo server on HTTPS. On one TLS connection
 * with ALPN h2: a plain request, two WebSockets as extended-CONNECT streams at once (one with
 * permessage-deflate), text, binary, 1 MiB and fragmented messages, a ping, the closing handshake
 * both ways with the server ending its side of each stream, and a plain request afterwards.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { handshake, serve, type SecureServer } from "../../src/index.js";
import { program } from "../helpers/programs.js";
import { selfSignedCertificate, type Certificate } from "../helpers/certificate.js";

const PYTHON = program("python3 with h2 and wsproto");
const SCRIPT = fileURLToPath(new URL("./python_h2_client.py", import.meta.url));

interface ClientReport {
  alpn: string;
  enable_connect_protocol: number;
  plain: [string, string];
  status: string;
  accept_header: boolean;
  extensions: string | null;
  second_status: string;
  text: string;
  second_text: string;
  binary: string;
  large_binary: { length: number; equal: boolean };
  fragmented: string;
  pong: boolean;
  second_close: { code: number; reason: string };
  second_ended_by_server: boolean;
  after_second_closed: string;
  close: { code: number; reason: string };
  ended_by_server: boolean;
  plain_after: [string, string];
}

interface Seen {
  method: string;
  httpVersion: string;
  protocol: string | undefined;
  close?: { code: number; reason: string };
}

const seen = new Map<string, Seen>();
const closeWaiters = new Map<string, () => void>();

/** Resolves with what onClose saw for `id`, once it has fired (it may come after the client exits). */
function closeOf(id: string): Promise<{ code: number; reason: string } | undefined> {
  const entry = seen.get(id);
  if (entry === undefined || entry.close !== undefined) return Promise.resolve(entry?.close);
  return new Promise((resolve) => closeWaiters.set(id, () => resolve(seen.get(id)?.close)));
}
let certificate: Certificate | undefined;
let server: SecureServer | undefined;
let report: ClientReport;

function runPython(port: number): Promise<ClientReport> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [SCRIPT, "127.0.0.1", String(port)], { timeout: 40_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`python h2 client failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as ClientReport);
    });
  });
}

before(async () => {
  certificate = await selfSignedCertificate();
  const ids = new WeakMap<object, string>();
  const handler = handshake(
    (_request, response) => {
      response.setHeader("content-type", "text/plain");
      response.end("plain answer");
    },
    {
      onConnect({ channel, exchange }) {
        const id = exchange.url.searchParams.get("id") ?? "?";
        ids.set(channel, id);
        const request = exchange.request;
        const protocol = request.headers[":protocol"];
        seen.set(id, {
          method: request.method ?? "",
          httpVersion: request.httpVersion,
          protocol: typeof protocol === "string" ? protocol : undefined,
        });
      },
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else void channel.sendBinary(data);
      },
      onClose({ channel, code, reason }) {
        const id = ids.get(channel) ?? "?";
        const entry = seen.get(id);
        if (entry !== undefined) entry.close = { code, reason };
        closeWaiters.get(id)?.();
      },
    },
    { path: "/echo", compression: true, maxPayload: 16 * 1024 * 1024 },
  );
  server = await serve(handler, { port: 0, tls: { cert: certificate.cert, key: certificate.key } });
  report = await runPython(server.port);
});

after(async () => {
  await server?.close();
  await certificate?.remove();
});

test("python h2: the session is HTTP/2 and the server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL", () => {
  assert.equal(report.alpn, "h2");
  assert.equal(report.enable_connect_protocol, 1);
  assert.deepEqual(report.plain, ["200", "plain answer"], "a plain request reaches the next handler");
  assert.deepEqual(report.plain_after, ["200", "plain answer"], "and still does after two WebSockets");
});

test("python h2: both WebSockets are extended CONNECT streams answered with 200 and no Sec-WebSocket-Accept", () => {
  assert.equal(report.status, "200");
  assert.equal(report.second_status, "200");
  assert.equal(report.accept_header, false);
  for (const id of ["h2-normal", "h2-app"]) {
    const entry = seen.get(id);
    assert.ok(entry !== undefined, `onConnect saw ${id}`);
    assert.equal(entry.method, "CONNECT");
    assert.equal(entry.httpVersion, "2.0");
    assert.equal(entry.protocol, "websocket");
  }
});

test("python h2: permessage-deflate is agreed in the same header as over HTTP/1.1", () => {
  assert.match(report.extensions ?? "", /^permessage-deflate\b/);
});

test("python h2: messages of every kind come back intact, on two streams at once", () => {
  assert.equal(report.text, "héllo, wörld ✓ \u{1F30A}");
  assert.equal(report.second_text, "on the same session");
  assert.equal(report.binary, "00017f80feff");
  assert.deepEqual(report.large_binary, { length: 1024 * 1024, equal: true });
  assert.equal(report.fragmented, "fragmented");
  assert.equal(report.pong, true);
});

test("python h2: a close with 4001 ends that stream only; the server ends its side after the closing handshake", async () => {
  assert.equal(report.second_close.code, 4001);
  assert.equal(report.second_ended_by_server, true, "END_STREAM from the server");
  assert.equal(report.after_second_closed, "still here", "the other WebSocket goes on");
  assert.deepEqual(await closeOf("h2-app"), { code: 4001, reason: "app says bye" });
});

test("python h2: a close with 1000 reaches onClose as 1000, and the server ends its side", async () => {
  assert.equal(report.close.code, 1000);
  assert.equal(report.ended_by_server, true);
  assert.deepEqual(await closeOf("h2-normal"), { code: 1000, reason: "" });
});
