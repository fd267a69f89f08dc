/**
 * examples/prometheus.ts: `/metrics` is scraped over HTTP and read as the Prometheus text
 * exposition format; each metric follows what the clients did.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import WebSocket from "ws";
import { start } from "../../../examples/prometheus.js";
import { TEST, get, runExample, type Running } from "../frameworks/kit.js";

/** One sample of the exposition format: `name{label="value",…} number`. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the text exposition format (version 0.0.4): samples, and each metric's TYPE. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([key, v]) => s.labels[key] === v),
  )?.value;
}

let app: Running;
let base: string;
before(async () => {
  app = await start(0);
  base = `127.0.0.1:${app.port}`;
});
after(() => app.close());

test("the scrape follows connections, upgrades, messages, bytes, closes and durations", TEST, async () => {
  const a = new WebSocket(`ws://${base}/echo`);
  const b = new WebSocket(`ws://${base}/echo`);
  await Promise.all([once(a, "open"), once(b, "open")]);
  a.send("hello");
  await once(a, "message");
  const refused = new WebSocket(`ws://${base}/nowhere`);
  await once(refused, "error");

  let scrape = await get(`http://${base}/metrics`);
  assert.equal(scrape.status, 200);
  assert.match(String(scrape.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  const parsed = parseExposition(scrape.body);
  const types = parsed.types;
  let samples = parsed.samples;
  assert.equal(types.get("undercurrent_connections"), "gauge");
  assert.equal(types.get("undercurrent_messages_total"), "counter");
  assert.equal(types.get("undercurrent_connection_duration_seconds"), "histogram");
  const echo = { handler: "echo" };
  assert.equal(value(samples, "undercurrent_connections", echo), 2);
  assert.equal(value(samples, "undercurrent_upgrades_total", { ...echo, result: "accepted" }), 2);
  assert.equal(value(samples, "undercurrent_upgrades_total", { result: "refused", status: "404" }), 1);
  assert.equal(value(samples, "undercurrent_messages_total", { ...echo, direction: "in" }), 1);
  assert.equal(value(samples, "undercurrent_messages_total", { ...echo, direction: "out" }), 1);
  assert.equal(value(samples, "undercurrent_bytes_total", { direction: "in" }), 6 + 5);
  assert.equal(value(samples, "undercurrent_bytes_total", { direction: "out" }), 2 + 5);
  assert.equal(value(samples, "undercurrent_buffered_bytes", echo), 0);
  assert.equal(value(samples, "undercurrent_zlib_queued", echo), 0);
  assert.equal(value(samples, "undercurrent_backpressure_total", { action: "drop" }), 0);

  // The server's side of a close may trail the client's: wait for the server to tell both.
  let closes = 0;
  const bothClosed = new Promise<void>((resolve) => {
    const listener = (): void => {
      if (++closes < 2) return;
      unsubscribe("undercurrent:connection:close", listener);
      resolve();
    };
    subscribe("undercurrent:connection:close", listener);
  });
  a.close(4000);
  b.close(1000);
  await bothClosed;
  scrape = await get(`http://${base}/metrics`);
  ({ samples } = parseExposition(scrape.body));
  assert.equal(value(samples, "undercurrent_connections", echo), 0);
  assert.equal(value(samples, "undercurrent_closes_total", { code: "4000" }), 1);
  assert.equal(value(samples, "undercurrent_closes_total", { code: "1000" }), 1);
  assert.equal(value(samples, "undercurrent_connection_duration_seconds_count"), 2);
});

test("runs on its own with PORT", TEST, async () => {
  await runExample("examples/prometheus.ts", { PORT: "0" }, async (url) => {
    const scrape = await get(url.replace("ws://", "http://").replace("/echo", "/metrics"));
    assert.equal(scrape.status, 200);
    assert.match(scrape.body, /^# HELP undercurrent_connections /m);
  });
});
