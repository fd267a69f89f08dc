/**
 * What permessage-deflate costs in memory: for each setting, a server in its own process,
 * N `ws` clients with perMessageDeflate each exchanging one compressible message (so every
 * zlib context that will exist does), then idle; and then all of them exchanging messages
 * for a few seconds. Reports the server's RSS per connection (from /proc) in both states.
 *
 * `node --import tsx bench/deflate-memory.ts [--connections 1000] [--seconds 3]`
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";

const { values } = parseArgs({
  options: { connections: { type: "string", default: "1000" }, seconds: { type: "string", default: "3" } },
});
const N = Number(values.connections);
const SECONDS = Number(values.seconds);

const settings: Array<[string, string]> = [
  ["compression off", "off"],
  ["compression: true (context takeover, 15-bit windows, memLevel 8)", "{}"],
  [
    "serverNoContextTakeover + clientNoContextTakeover",
    '{"serverNoContextTakeover":true,"clientNoContextTakeover":true}',
  ],
  [
    "context takeover, windows 10 bits, memLevel 4",
    '{"serverMaxWindowBits":10,"clientMaxWindowBits":10,"memLevel":4}',
  ],
];

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

const message = JSON.stringify(
  Array.from({ length: 200 }, (_, i) => ({ id: i, name: `user ${i}`, online: i % 3 === 0 })),
);

async function measure(label: string, arg: string): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/deflate-server.ts", arg], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve) =>
    child.stdout.once("data", (d: Buffer) => resolve(Number(d))),
  );
  await new Promise((r) => setTimeout(r, 300));
  const before = rssKiB(child.pid!);
  const clients: WebSocket[] = [];
  for (let i = 0; i < N; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: arg !== "off" });
    clients.push(ws);
    await new Promise((resolve) => ws.once("open", resolve));
    const echoed = new Promise((resolve) => ws.once("message", resolve));
    ws.send(message);
    await echoed;
  }
  await new Promise((r) => setTimeout(r, 1000));
  const idle = rssKiB(child.pid!);
  // Load: every client keeps one message in flight for SECONDS.
  let peak = idle;
  let exchanged = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(child.pid!))), 50);
  await Promise.all(
    clients.map(
      (ws) =>
        new Promise<void>((resolve) => {
          const next = () => {
            if (Date.now() >= deadline) return resolve();
            ws.once("message", () => {
              exchanged++;
              next();
            });
            ws.send(message);
          };
          next();
        }),
    ),
  );
  clearInterval(sampler);
  for (const ws of clients) ws.terminate();
  child.kill("SIGTERM");
  const perIdle = (idle - before) / N;
  const perLoad = (peak - before) / N;
  return `| ${label} | ${perIdle.toFixed(1)} | ${perLoad.toFixed(1)} | ${Math.round(exchanged / SECONDS)} |`;
}

console.log(`server RSS per connection, ${N} connections, message ${message.length} B of JSON\n`);
console.log("| setting | KiB per idle connection | KiB per connection under load | echoes/s |");
console.log("| --- | --- | --- | --- |");
for (const [label, arg] of settings) console.log(await measure(label, arg));
