/**
 * Time limits: idle peers are pinged then dropped, live peers are kept, and a client that
 * trickles its upgrade request (slowloris) or sends oversized headers is cut.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { once } from "node:events";
import { WebSocket } from "ws";
import { handshake, serve, type CloseEvent } from "../../src/index.js";
import { RawClient, Opcode } from "../helpers/raw-client.js";

test("a dead peer is pinged at half the idle timeout, then dropped; onClose reports 1006", async () => {
  const closes: CloseEvent[] = [];
  const server = await serve(handshake({ onClose: (e) => void closes.push(e) }, { idleTimeout: 400 }), {
    port: 0,
  });
  try {
    const client = await RawClient.connect(server.url, { autoPong: false, replyToClose: false });
    const ping = await client.nextFrame(3000);
    assert.equal(ping.opcode, Opcode.Ping, "the server asks for a sign of life");
    const end = await client.closed(3000);
    assert.equal(end.by, "server");
    await waitFor(() => closes.length === 1);
    assert.equal(closes[0]!.code, 1006);
  } finally {
    await server.close();
  }
});

test("a peer that answers pings stays connected past the idle timeout", async () => {
  let closed = 0;
  const server = await serve(handshake({ onClose: () => void closed++ }, { idleTimeout: 300 }), { port: 0 });
  try {
    const client = new WebSocket(server.url); // ws answers pings with pongs by itself
    await once(client, "open");
    let pings = 0;
    client.on("ping", () => pings++);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal(client.readyState, WebSocket.OPEN);
    assert.ok(pings >= 1, "the silent but live client was pinged");
    assert.equal(closed, 0);
    client.close();
    await once(client, "close");
  } finally {
    await server.close();
  }
});

test("slowloris: a client trickling its upgrade request is cut after handshakeTimeout", async () => {
  const server = await serve(handshake({}, { handshakeTimeout: 500 }), { port: 0 });
  const socket = connect(server.port, "127.0.0.1");
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  let trickle: NodeJS.Timeout | undefined;
  try {
    await once(socket, "connect");
    socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    trickle = setInterval(() => socket.writable && socket.write("X-Slow: a\r\n"), 100);
    const cut = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 8000)),
    ]);
    assert.ok(cut, "the server closed the connection");
  } finally {
    clearInterval(trickle);
    socket.destroy();
    await server.close();
  }
});

test("an upgrade request with oversized headers is refused with 431", async () => {
  const server = await serve(handshake({}), { port: 0 });
  try {
    const error = await RawClient.connect(server.url, { headers: { "X-Big": "a".repeat(20_000) } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof Error && "status" in error);
    assert.equal(error.status, 431);
  } finally {
    await server.close();
  }
});

async function waitFor(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
