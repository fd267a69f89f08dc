/**
 * Interop beyond Node: Python's `websockets` (Debian package python3-websockets, installed for
 * /usr/bin/python3) as a client of an undercurrent echo server: text, binary, 1 MiB messages,
 * a fragmented message, ping/pong, and the close codes the server's `onClose` sees.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { handshake, serve, type Channel, type Server } from "../../src/index.js";
import { program } from "../helpers/programs.js";

const PYTHON = program("python3 with websockets");
const SCRIPT = fileURLToPath(new URL("./python_websockets_client.py", import.meta.url));

interface ClientReport {
  version: string;
  text: string;
  binary: string;
  large_binary: { type: string; length: number; equal: boolean };
  large_text: { type: string; length: number; equal: boolean };
  fragmented: string;
  pong: boolean;
  close_normal: { code: number; reason: string };
  app_echo: string;
  close_app: { code: number; reason: string };
}

const ids = new WeakMap<Channel<unknown>, string>();
const closes = new Map<string, { code: number; reason: string }>();
let closeWaiters: (() => void)[] = [];
let server: Server | undefined;
let report: ClientReport;

function runPython(url: string): Promise<ClientReport> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [SCRIPT, url], { timeout: 40_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`python client failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as ClientReport);
    });
  });
}

async function closedConnection(id: string, timeoutMs = 5000): Promise<{ code: number; reason: string }> {
  const deadline = Date.now() + timeoutMs;
  while (!closes.has(id)) {
    if (Date.now() > deadline) throw new Error(`onClose never fired for ${id}`);
    await new Promise<void>((resolve) => {
      closeWaiters.push(resolve);
      setTimeout(resolve, 50);
    });
  }
  return closes.get(id) as { code: number; reason: string };
}

before(async () => {
  const handler = handshake(
    {
      onConnect({ channel, exchange }) {
        ids.set(channel, exchange.url.searchParams.get("id") ?? "?");
      },
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else if (data !== undefined) void channel.sendBinary(data);
      },
      onClose({ channel, code, reason }) {
        closes.set(ids.get(channel) ?? "?", { code, reason });
        const waiters = closeWaiters;
        closeWaiters = [];
        for (const w of waiters) w();
      },
    },
    { maxPayload: 16 * 1024 * 1024 },
  );
  server = await serve(handler, { port: 0, host: "127.0.0.1" });
  report = await runPython(server.url);
});

after(() => server?.close());

test("python websockets: text and binary messages are echoed with their type", () => {
  assert.equal(report.text, "héllo, wörld ✓ \u{1F30A}");
  assert.equal(report.binary, "00017f80feff");
  assert.equal(report.fragmented, "fragmented");
  assert.equal(report.pong, true);
});

test("python websockets: 1 MiB binary and text messages come back intact", () => {
  assert.deepEqual(report.large_binary, { type: "bytes", length: 1024 * 1024, equal: true });
  assert.equal(report.large_text.type, "str");
  assert.equal(report.large_text.equal, true);
});

test("python websockets: a client close with 1000 reaches onClose as 1000", async () => {
  assert.equal(report.close_normal.code, 1000);
  assert.deepEqual(await closedConnection("normal"), { code: 1000, reason: "" });
});

test("python websockets: a client close with 4001 and a reason reaches onClose as sent", async () => {
  assert.equal(report.app_echo, "bye soon");
  assert.equal(report.close_app.code, 4001);
  assert.deepEqual(await closedConnection("app"), { code: 4001, reason: "app says bye" });
});
