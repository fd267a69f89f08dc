/**
 * Fan-out: deliveries per second to N subscribers (default 1000) of 64-byte text messages,
 * undercurrent's `handler.publish` next to the same broadcast written idiomatically with `ws`
 * (`for (const c of wss.clients) c.send(data)`), in the same run, against the same clients.
 * The clients live in a child process and are raw TCP sockets that did the opening handshake and
 * then only count bytes (every frame is 66 bytes from either server), so the clients cost little
 * and the same for both; a delivery counts once the client process has received it.
 *
 *   node --import tsx bench/fanout.ts [--subscribers 1000] [--messages 200] [--rounds 3]
 *
 * Bounded: each round publishes a fixed number of messages and waits for every client (at
 * most 20 s per round); the whole run stays under a minute at the defaults.
 * @module
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";
import { handshake, serve } from "../src/index.js";

const { values } = parseArgs({
  options: {
    subscribers: { type: "string", default: "1000" },
    messages: { type: "string", default: "200" },
    rounds: { type: "string", default: "3" },
    child: { type: "string" },
  },
});
const SUBSCRIBERS = Number(values.subscribers);
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const PAYLOAD = "x".repeat(64);
const BATCH = 100; // messages published per event-loop turn
const FRAME = 2 + PAYLOAD.length;

// ---------------------------------------------------------------------------------------------
// Child: the subscribers. Told a URL, it opens the connections; told "expect n", it reports when
// every client has received n more messages.

if (values.child !== undefined) {
  const sockets: Socket[] = [];
  let received = 0;
  let target = Infinity;
  const request =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const open = (url: URL): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      sockets.push(socket);
      let head = "";
      socket.once("error", reject);
      socket.on("connect", () => socket.write(request));
      const onHead = (chunk: Buffer): void => {
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(head.split("\r\n")[0]));
        socket.off("data", onHead);
        socket.on("data", onFrames);
        const rest = head.length - end - 4;
        if (rest > 0) onFrames(chunk.subarray(chunk.length - rest));
        resolve();
      };
      socket.on("data", onHead);
    });
  // Every frame is FRAME bytes (2-byte header, 64-byte payload) from either server, so counting
  // bytes counts deliveries without parsing.
  const onFrames = (chunk: Buffer): void => {
    received += chunk.length;
    if (received === target) process.send!({ done: received / FRAME });
  };
  process.on("message", async (message: { connect?: string; expect?: number; close?: true }) => {
    if (message.connect !== undefined) {
      const url = new URL(message.connect);
      for (let i = 0; i < SUBSCRIBERS; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, SUBSCRIBERS - i) }, () => open(url)));
      }
      process.send!({ connected: sockets.length });
    } else if (message.expect !== undefined) {
      received = 0;
      target = message.expect * FRAME;
      process.send!({ expecting: message.expect });
    } else if (message.close) {
      for (const socket of sockets) socket.destroy();
      process.exit(0);
    }
  });
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------
// Parent: the servers.

interface Target {
  readonly name: string;
  readonly url: string;
  /** Resolves when `count` subscribers are connected. */
  connected(count: number): Promise<void>;
  publish(): void;
  close(): Promise<void>;
}

async function undercurrentTarget(): Promise<Target> {
  const handler = handshake({
    onConnect({ channel }) {
      channel.subscribe("bench");
    },
  });
  const server = await serve(handler, { port: 0, host: "127.0.0.1" });
  return {
    name: "undercurrent handler.publish",
    url: server.url,
    connected: (count) => until(() => handler.subscriberCount("bench") >= count),
    publish: () => void handler.publish("bench", PAYLOAD),
    close: () => server.close(),
  };
}

async function wsTarget(): Promise<Target> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const { port } = http.address() as AddressInfo;
  return {
    name: "ws: for (c of wss.clients) c.send",
    url: `ws://127.0.0.1:${port}`,
    connected: (count) => until(() => wss.clients.size >= count),
    publish: () => {
      for (const client of wss.clients) client.send(PAYLOAD);
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      http.close();
    },
  };
}

async function until(predicate: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for subscribers");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function request<R>(child: ChildProcess, message: object, key: string, ms = 20_000): Promise<R> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not answer ${key} in ${ms} ms`)), ms);
    const listener = (answer: Record<string, R>): void => {
      if (!(key in answer)) return;
      clearTimeout(timer);
      child.off("message", listener);
      resolve(answer[key]!);
    };
    child.on("message", listener);
    child.send(message);
  });
}

/** Publishes MESSAGES messages, BATCH per turn, and returns deliveries per second. */
async function round(target: Target, child: ChildProcess): Promise<number> {
  const deliveries = MESSAGES * SUBSCRIBERS;
  // The count must be reset before the first byte arrives: wait for the child to say so.
  await request<number>(child, { expect: deliveries }, "expecting");
  const done = request<number>(child, {}, "done");
  const start = process.hrtime.bigint();
  for (let sent = 0; sent < MESSAGES;) {
    for (let i = 0; i < BATCH && sent < MESSAGES; i++, sent++) target.publish();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await done;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return deliveries / seconds;
}

async function measure(make: () => Promise<Target>): Promise<{ name: string; rate: number }> {
  const target = await make();
  const child = fork(
    new URL(import.meta.url).pathname,
    ["--child", "1", "--subscribers", String(SUBSCRIBERS)],
    {
      execArgv: ["--import", "tsx"],
    },
  );
  try {
    await request<number>(child, { connect: target.url }, "connected", 30_000);
    await target.connected(SUBSCRIBERS);
    await round(target, child); // warm-up
    const rates: number[] = [];
    for (let i = 0; i < ROUNDS; i++) rates.push(await round(target, child));
    rates.sort((x, y) => x - y);
    return { name: target.name, rate: rates[Math.floor(rates.length / 2)]! };
  } finally {
    child.send({ close: true });
    await Promise.race([once(child, "exit"), new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
    await target.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `fan-out: ${SUBSCRIBERS} subscribers, ${MESSAGES} messages of ${PAYLOAD.length} B per round, ` +
      `median of ${ROUNDS} rounds (after one warm-up), node ${process.version}`,
  );
  const ours = await measure(undercurrentTarget);
  const theirs = await measure(wsTarget);
  const format = (rate: number): string => `${(rate / 1e6).toFixed(2)} M deliveries/s`;
  console.log(`${ours.name.padEnd(34)} ${format(ours.rate)}`);
  console.log(`${theirs.name.padEnd(34)} ${format(theirs.rate)}`);
  console.log(`ratio undercurrent / ws: ${(ours.rate / theirs.rate).toFixed(2)}×`);
}
