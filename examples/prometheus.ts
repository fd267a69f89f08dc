/**
 * Prometheus metrics for undercurrent handlers, with `prom-client`: every field of
 * `handler.stats()` as a metric, read at scrape time, and a histogram of connection durations
 * fed by the `undercurrent:connection:close` diagnostics channel. An echo server with
 * `/metrics` beside it shows the wiring.
 *
 *     PORT=8080 npx tsx examples/prometheus.ts
 *
 * Then: a WebSocket client on ws://127.0.0.1:8080/echo, and `curl http://127.0.0.1:8080/metrics`.
 */
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { pathToFileURL } from "node:url";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  handshake,
  type ConnectionCloseMessage,
  type HandlerStats,
  type WebSocketHandler,
} from "undercurrent";

/** What {@link registerMetrics} needs of a handler: its `stats()`. */
type Observed = Pick<WebSocketHandler, "stats">;

/** Options of {@link registerMetrics}. */
export interface MetricsOptions {
  /** Export each topic's subscriber count (one series per topic: mind the cardinality). */
  readonly topics?: boolean;
}

/**
 * Registers undercurrent's metrics on `registry`, for handlers named by the `handler` label,
 * and returns a function that removes the diagnostics channel subscription.
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * registerMetrics(registry, { chat });
 * app.get("/metrics", async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 * ```
 */
export function registerMetrics(
  registry: Registry,
  handlers: Readonly<Record<string, Observed>>,
  options: MetricsOptions = {},
): () => void {
  const registers = [registry];
  const each = (read: (stats: HandlerStats, handler: string) => void): void => {
    for (const [name, handler] of Object.entries(handlers)) read(handler.stats(options), name);
  };
  /** A counter that mirrors a running total of the snapshot at each scrape. */
  const total = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: (stats: HandlerStats, set: (labels: Record<L, string | number>, value: number) => void) => void,
  ): void =>
    void new Counter<L | "handler">({
      name,
      help,
      labelNames: [...labelNames, "handler"],
      registers,
      collect() {
        this.reset();
        each((stats, handler) => read(stats, (labels, value) => this.inc({ ...labels, handler }, value)));
      },
    });
  const level = (name: string, help: string, read: (stats: HandlerStats) => number): void =>
    void new Gauge<"handler">({
      name,
      help,
      labelNames: ["handler"],
      registers,
      collect() {
        each((stats, handler) => this.set({ handler }, read(stats)));
      },
    });

  level("undercurrent_connections", "Open WebSocket connections.", (s) => s.connections);
  level(
    "undercurrent_buffered_bytes",
    "Bytes accepted for sending and not yet written.",
    (s) => s.bufferedBytes,
  );
  level("undercurrent_zlib_queued", "zlib operations waiting for a slot.", (s) => s.zlibQueued);
  total(
    "undercurrent_upgrades_total",
    "Upgrade requests answered, by result and status.",
    ["result", "status"],
    (s, set) => {
      set({ result: "accepted", status: 101 }, s.upgrades.accepted);
      for (const [status, n] of Object.entries(s.upgrades.refused)) set({ result: "refused", status }, n);
    },
  );
  total("undercurrent_messages_total", "WebSocket messages, by direction.", ["direction"], (s, set) => {
    set({ direction: "in" }, s.messages.in);
    set({ direction: "out" }, s.messages.out);
  });
  total(
    "undercurrent_bytes_total",
    "Bytes on the wire, framing included, by direction.",
    ["direction"],
    (s, set) => {
      set({ direction: "in" }, s.bytes.in);
      set({ direction: "out" }, s.bytes.out);
    },
  );
  total("undercurrent_closes_total", "Closed connections, by close code.", ["code"], (s, set) => {
    for (const [code, n] of Object.entries(s.closes)) set({ code }, n);
  });
  total("undercurrent_backpressure_total", "What the backpressure policy did.", ["action"], (s, set) => {
    set({ action: "close" }, s.backpressure.closes);
    set({ action: "drop" }, s.backpressure.drops);
  });
  if (options.topics === true) {
    const subscribers = new Gauge<"handler" | "topic">({
      name: "undercurrent_topic_subscribers",
      help: "Subscribers of each topic.",
      labelNames: ["handler", "topic"],
      registers,
      collect() {
        subscribers.reset();
        each((stats, handler) => {
          for (const [topic, n] of Object.entries(stats.topics ?? {})) subscribers.set({ handler, topic }, n);
        });
      },
    });
  }

  // Durations come from the channel: a connection is observed once, when it closes.
  const durations = new Histogram({
    name: "undercurrent_connection_duration_seconds",
    help: "How long connections lasted.",
    buckets: [1, 10, 60, 600, 3600, 86400],
    registers,
  });
  const closed = (message: unknown): void =>
    durations.observe((message as ConnectionCloseMessage).duration / 1000);
  subscribe("undercurrent:connection:close", closed);
  return () => void unsubscribe("undercurrent:connection:close", closed);
}

/** A running example: where it listens, and how to stop it. */
export interface Running {
  readonly port: number;
  close(): Promise<void>;
}

/** An echo endpoint at `/echo` and its metrics at `/metrics`, on 127.0.0.1:`port`. */
export async function start(port = 0): Promise<Running> {
  const registry = new Registry();
  const site: http.RequestListener = (request, response) => {
    if (request.url !== "/metrics") return void response.writeHead(404).end();
    registry.metrics().then(
      (text) => response.writeHead(200, { "Content-Type": registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  };
  const echo = handshake(
    site,
    {
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else void channel.sendBinary(data);
      },
    },
    { path: "/echo" },
  );
  const stop = registerMetrics(registry, { echo });
  const server = http.createServer(echo).on("upgrade", echo.upgrade);
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await echo.close();
      server.closeAllConnections();
      await stopped;
      stop();
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const running = await start(Number(process.env["PORT"] ?? 8080));
  const base = `127.0.0.1:${running.port}`;
  console.log(`metrics at http://${base}/metrics (WebSocket: ws://${base}/echo)`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void running.close().then(() => process.exit(0)));
  }
}
