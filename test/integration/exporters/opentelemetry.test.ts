/**
 * examples/opentelemetry.ts: the instruments, collected by the OpenTelemetry metrics SDK into
 * its in-memory exporter, follow what the clients did.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
} from "@opentelemetry/sdk-metrics";
import { handshake, serve } from "../../../src/index.js";
import { observeHandler } from "../../../examples/opentelemetry.js";
import { TEST } from "../frameworks/kit.js";

test("the in-memory exporter receives every instrument with the handler's figures", TEST, async (t) => {
  const closed: number[] = [];
  let onClosed = (): void => {};
  const handler = handshake(
    {
      onMessage: ({ channel, text }) => void channel.sendText(text ?? ""),
      onClose: ({ code }) => {
        closed.push(code);
        onClosed();
      },
    },
    { path: "/echo" },
  );
  const server = await serve(handler, { port: 0, host: "127.0.0.1" });
  t.after(() => server.close());

  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // The interval is long: the test collects on demand with forceFlush().
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  t.after(() => provider.shutdown());
  let snapshots = 0;
  const counted = { stats: (): ReturnType<typeof handler.stats> => (snapshots++, handler.stats()) };
  const stop = observeHandler(provider.getMeter("undercurrent-test"), counted, { handler: "echo" });

  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/echo`);
  await once(ws, "open");
  ws.send("one");
  await once(ws, "message");
  ws.send("two");
  await once(ws, "message");
  const refused = new WebSocket(`ws://127.0.0.1:${server.port}/other`);
  await once(refused, "error");
  const serverClosed = new Promise<void>((resolve) => (onClosed = resolve));
  ws.close(4002);
  await serverClosed;

  await reader.forceFlush();
  const points = new Map<string, Array<DataPoint<number>>>();
  for (const resource of exporter.getMetrics())
    for (const scope of resource.scopeMetrics)
      for (const metric of scope.metrics)
        points.set(metric.descriptor.name, metric.dataPoints as Array<DataPoint<number>>);
  const value = (name: string, attributes: Record<string, string | number> = {}): number | undefined =>
    points.get(name)?.find((p) => Object.entries(attributes).every(([key, v]) => p.attributes[key] === v))
      ?.value;

  assert.deepEqual([...points.keys()].sort(), [
    "undercurrent.backpressure",
    "undercurrent.buffered",
    "undercurrent.bytes",
    "undercurrent.closes",
    "undercurrent.connections",
    "undercurrent.messages",
    "undercurrent.upgrades",
    "undercurrent.zlib.queued",
  ]);
  assert.equal(value("undercurrent.connections", { handler: "echo" }), 0);
  assert.equal(value("undercurrent.upgrades", { result: "accepted" }), 1);
  assert.equal(value("undercurrent.upgrades", { result: "refused", status: 404 }), 1);
  assert.equal(value("undercurrent.messages", { direction: "in" }), 2);
  assert.equal(value("undercurrent.messages", { direction: "out" }), 2);
  // Two masked 3-byte texts and a masked close frame with a code (6 + 2); two echoes and the reply.
  assert.equal(value("undercurrent.bytes", { direction: "in" }), 2 * 9 + 8);
  assert.equal(value("undercurrent.bytes", { direction: "out" }), 2 * 5 + 4);
  assert.equal(value("undercurrent.closes", { code: 4002 }), 1);
  assert.equal(value("undercurrent.backpressure", { action: "drop" }), 0);
  assert.equal(value("undercurrent.buffered"), 0);
  assert.equal(value("undercurrent.zlib.queued"), 0);
  assert.deepEqual(closed, [4002]);

  // One snapshot per collection, whatever the number of instruments; none once stopped.
  assert.equal(snapshots, 1);
  stop();
  await reader.forceFlush();
  assert.equal(snapshots, 1);
});
