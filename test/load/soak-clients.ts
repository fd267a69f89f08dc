/**
 * The client side of the soak: `node --import tsx test/load/soak-clients.ts URL N SECONDS`.
 * Opens N `ws` connections, each keeping a few numbered messages in flight for SECONDS, checks
 * every echo arrives in order with its content, closes cleanly, and prints one JSON line.
 */
import { WebSocket } from "ws";

const [url = "", countArg = "100", secondsArg = "5"] = process.argv.slice(2);
const count = Number(countArg);
const deadline = Date.now() + Number(secondsArg) * 1000;
const WINDOW = 2;

let sent = 0;
let received = 0;
let lost = 0;
let reordered = 0;
let errors = 0;
let opened = 0;

function client(id: number): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let next = 0;
    let expected = 0;
    const pump = () => {
      while (next - expected < WINDOW && Date.now() < deadline) {
        ws.send(`${id}:${next}:${"x".repeat(next % 64)}`);
        next++;
        sent++;
      }
      if (next === expected && Date.now() >= deadline) ws.close(1000);
    };
    ws.on("open", () => {
      opened++;
      // Wait until every client is connected, so they are all held at once.
      const start = () => (opened >= count ? pump() : setTimeout(start, 20));
      start();
    });
    ws.on("message", (data) => {
      const [from, seq] = String(data).split(":");
      if (Number(from) !== id) errors++;
      else if (Number(seq) !== expected) reordered++;
      expected++;
      received++;
      pump();
    });
    ws.on("error", () => errors++);
    ws.on("close", () => {
      lost += next - expected;
      resolve();
    });
  });
}

const all: Array<Promise<void>> = [];
for (let i = 0; i < count; i++) {
  all.push(client(i));
  if (i % 200 === 199) await new Promise((resolve) => setTimeout(resolve, 10));
}
const timer = setTimeout(
  () => {
    console.log(JSON.stringify({ opened, sent, received, lost, reordered, errors, timeout: true }));
    process.exit(1);
  },
  Number(secondsArg) * 1000 + 60_000,
);
await Promise.all(all);
clearTimeout(timer);
console.log(JSON.stringify({ opened, sent, received, lost, reordered, errors }));
