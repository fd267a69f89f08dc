/**
 * OpenTelemetry metrics for an undercurrent handler, with `@opentelemetry/api`: every field of
 * `handler.stats()` as an observable instrument, read once per collection with a batch
 * callback. Any OpenTelemetry SDK and exporter (OTLP, Prometheus, console…) can take them.
 *
 * @example
 * ```ts
 * import { metrics } from "@opentelemetry/api";
 * const stop = observeHandler(metrics.getMeter("chat"), chat);
 * ```
 */
import type { Attributes, Meter } from "@opentelemetry/api";
import type { WebSocketHandler } from "undercurrent";

/**
 * Registers undercurrent's instruments on `meter` for `handler` and returns a function that
 * removes them. Counters are cumulative totals since the handler was made; `attributes` (a
 * handler name, say) go on every data point.
 */
export function observeHandler(
  meter: Meter,
  handler: Pick<WebSocketHandler, "stats">,
  attributes: Attributes = {},
): () => void {
  const connections = meter.createObservableUpDownCounter("undercurrent.connections", {
    description: "Open WebSocket connections",
  });
  const upgrades = meter.createObservableCounter("undercurrent.upgrades", {
    description: "Upgrade requests answered, by result and HTTP status",
  });
  const messages = meter.createObservableCounter("undercurrent.messages", {
    description: "WebSocket messages, by direction",
  });
  const bytes = meter.createObservableCounter("undercurrent.bytes", {
    description: "Bytes on the wire, framing included, by direction",
    unit: "By",
  });
  const closes = meter.createObservableCounter("undercurrent.closes", {
    description: "Closed connections, by close code",
  });
  const backpressure = meter.createObservableCounter("undercurrent.backpressure", {
    description: "What the backpressure policy did",
  });
  const buffered = meter.createObservableGauge("undercurrent.buffered", {
    description: "Bytes accepted for sending and not yet written",
    unit: "By",
  });
  const zlib = meter.createObservableGauge("undercurrent.zlib.queued", {
    description: "zlib operations waiting for a slot",
  });
  const observables = [connections, upgrades, messages, bytes, closes, backpressure, buffered, zlib];

  const collect = (result: {
    observe(observable: (typeof observables)[number], value: number, attributes?: Attributes): void;
  }): void => {
    const stats = handler.stats();
    const tagged = (extra: Attributes): Attributes => ({ ...attributes, ...extra });
    result.observe(connections, stats.connections, attributes);
    result.observe(upgrades, stats.upgrades.accepted, tagged({ result: "accepted", status: 101 }));
    for (const [status, n] of Object.entries(stats.upgrades.refused)) {
      result.observe(upgrades, n, tagged({ result: "refused", status: Number(status) }));
    }
    result.observe(messages, stats.messages.in, tagged({ direction: "in" }));
    result.observe(messages, stats.messages.out, tagged({ direction: "out" }));
    result.observe(bytes, stats.bytes.in, tagged({ direction: "in" }));
    result.observe(bytes, stats.bytes.out, tagged({ direction: "out" }));
    for (const [code, n] of Object.entries(stats.closes))
      result.observe(closes, n, tagged({ code: Number(code) }));
    result.observe(backpressure, stats.backpressure.closes, tagged({ action: "close" }));
    result.observe(backpressure, stats.backpressure.drops, tagged({ action: "drop" }));
    result.observe(buffered, stats.bufferedBytes, attributes);
    result.observe(zlib, stats.zlibQueued, attributes);
  };
  meter.addBatchObservableCallback(collect, observables);
  return () => meter.removeBatchObservableCallback(collect, observables);
}
