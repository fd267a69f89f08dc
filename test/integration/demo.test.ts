/**
 * `npm start` builds the package and serves the demo: an echo endpoint at /echo that takes
 * 16 MiB messages, Prometheus metrics at /metrics, the chat panel's figures at /stats, and a
 * plain HTTP answer elsewhere; and the same over HTTPS with HTTP/2, where the echo endpoint is
 * reached as an extended CONNECT stream (RFC 8441) with the development certificate it made.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { H2WebSocket, h2Session } from "../helpers/h2-client.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test("npm start serves the echo endpoint and a plain page", { timeout: 120_000 }, async () => {
  const child = spawn("npm", ["start", "--silent"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  try {
    const [url, secureUrl] = await new Promise<[string, string]>((resolve, reject) => {
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const plain = /echo: (ws:\/\/\S+)\)/.exec(output);
        const secure = /echo: (wss:\/\/\S+)\)/.exec(output);
        if (plain && secure) resolve([plain[1]!, secure[1]!]);
      });
      child.once("exit", (code) => reject(new Error(`npm start exited with ${code}: ${output}`)));
    });
    assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/echo$/);
    assert.match(secureUrl, /^wss:\/\/127\.0\.0\.1:\d+\/echo$/);

    // HTTPS with HTTP/2: the echo endpoint as an extended CONNECT stream, trusting the
    // development certificate the demo made in .dev-tls/.
    const ca = await readFile(`${ROOT}.dev-tls/cert.pem`);
    const session = await h2Session(secureUrl.replace("wss://", "https://").replace("/echo", ""), ca);
    try {
      const h2 = await H2WebSocket.open(session, "/echo");
      h2.sendMessage("text", "hello over h2");
      assert.deepEqual(await h2.nextMessage(), { text: "hello over h2" });
      h2.close(1000);
      await h2.closed();
    } finally {
      // Not in the tick a stream closes in: Node's client can spin there.
      await new Promise((resolve) => setImmediate(resolve));
      session.destroy();
    }

    const page = await fetch(url.replace("ws://", "http://").replace("/echo", "/"));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /undercurrent/);

    // Prometheus metrics of both handlers, and the chat page's panel figures.
    const metrics = await fetch(url.replace("ws://", "http://").replace("/echo", "/metrics"));
    assert.equal(metrics.status, 200);
    const exposition = await metrics.text();
    assert.match(exposition, /^undercurrent_connections\{handler="echo"\} \d+$/m);
    assert.match(exposition, /^undercurrent_connections\{handler="chat"\} \d+$/m);
    const panel = await fetch(url.replace("ws://", "http://").replace("/echo", "/stats"));
    assert.deepEqual(Object.keys((await panel.json()) as object), [
      "connections",
      "messagesIn",
      "messagesOut",
      "at",
    ]);

    const client = new WebSocket(url, { maxPayload: 32 * 1024 * 1024 });
    await once(client, "open");
    const big = Buffer.alloc(16 * 1024 * 1024, 0x5a);
    const replies: Array<[boolean, number]> = [];
    const done = new Promise<void>((resolve) =>
      client.on("message", (data: Buffer, isBinary) => {
        replies.push([isBinary, data.length]);
        if (replies.length === 2) resolve();
      }),
    );
    client.send("hello");
    client.send(big);
    await done;
    assert.deepEqual(replies, [
      [false, 5],
      [true, big.length],
    ]);
    client.close(1000);
    await once(client, "close");
  } finally {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
  }
});
