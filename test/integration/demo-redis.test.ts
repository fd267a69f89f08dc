/**
 * The demo with REDIS_URL: two demo processes on different ports share chat rooms through a
 * real redis-server.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { WebSocket } from "ws";
import { startRedisServer, type RedisServer } from "../helpers/redis-server.js";

let redis: RedisServer | undefined;
const demos: ChildProcess[] = [];

before(async () => {
  redis = await startRedisServer();
});

after(async () => {
  for (const demo of demos) if (demo.exitCode === null && demo.signalCode === null) demo.kill("SIGTERM");
  await Promise.all(demos.map((demo) => (demo.exitCode === null ? once(demo, "exit") : undefined)));
  await redis?.stop();
});

/** Starts `examples/demo.ts` (what npm start builds) and resolves with its chat WebSocket URL. */
async function startDemo(): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/demo.ts"], {
    env: { ...process.env, PORT: "0", REDIS_URL: redis!.url },
    stdio: ["ignore", "pipe", "inherit"],
  });
  demos.push(child);
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`no URL from the demo: ${output}`)), 30_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /echo: (ws:\/\/\S+)\/echo\)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(`${match[1]}/chat`);
      }
    });
  });
}

interface ChatEvent {
  type: string;
  text?: string;
  nick?: string;
}

async function member(url: string, nick: string): Promise<{ ws: WebSocket; events: ChatEvent[] }> {
  const ws = new WebSocket(url);
  const events: ChatEvent[] = [];
  ws.on("message", (data) => events.push(JSON.parse(String(data)) as ChatEvent));
  await once(ws, "open");
  ws.send(JSON.stringify({ type: "join", room: "shared", nick }));
  await waitFor(() => events.some((e) => e.type === "welcome"));
  return { ws, events };
}

async function waitFor(condition: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("two demo processes with REDIS_URL share a chat room", { timeout: 90_000 }, async () => {
  const [first, second] = await Promise.all([startDemo(), startDemo()]);
  assert.notEqual(first, second);
  const ada = await member(first, "ada");
  const bob = await member(second, "bob");
  // Subscriptions travel to Redis asynchronously: retry until a message crosses.
  let sent = 0;
  await waitFor(() => {
    if (bob.events.some((e) => e.type === "message" && e.nick === "ada")) return true;
    ada.ws.send(JSON.stringify({ type: "say", text: `hello ${sent++}` }));
    return false;
  });
  bob.ws.send(JSON.stringify({ type: "say", text: "hi ada" }));
  await waitFor(() => ada.events.some((e) => e.type === "message" && e.text === "hi ada"));
  ada.ws.close();
  bob.ws.close();
});
