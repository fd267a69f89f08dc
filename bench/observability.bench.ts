/**
 * What observability costs, measured in one process without sockets (the core over a byte
 * stream that discards what it is given), so the figures are the library's own CPU time:
 *
 *   node --import tsx bench/observability.bench.ts
 *
 * - echo of 64-byte text messages through the session core, and connections opened and closed,
 *   each with no listener, with a `diagnostics_channel` subscriber on every handler channel,
 *   and with `onEvent`;
 * - `handler.stats()` with 10 000 open connections.
 *
 * Variants alternate, several rounds each, and the medians are printed.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { nodeEvents } from "../src/adapters/node/events.js";
import { nodeClock } from "../src/adapters/node/clock.js";
import type { Callbacks } from "../src/core/callbacks.js";
import { createContext, type HandlerContext } from "../src/core/context.js";
import { HANDLER_EVENTS, type EventSink } from "../src/core/events.js";
import { resolveOptions, type Options } from "../src/core/options.js";
import type { ByteSink, ByteStream, Done } from "../src/core/ports.js";
import { Session } from "../src/core/session.js";
import { snapshot } from "../src/core/stats.js";
import { Opcode } from "../src/protocol/opcodes.js";
import { SlabPool } from "../src/protocol/outgoing.js";
import { ByteLink } from "../src/wire/link.js";
import { clientFrame, closePayload } from "../test/helpers/frames.js";

/** A byte stream that takes every write at once and keeps nothing. */
class NullStream implements ByteStream {
  sink: ByteSink | undefined;
  bufferedAmount = 0;
  needsDrain = false;
  destroyed = false;
  remoteAddress = "127.0.0.1";
  remotePort = 1;
  start(sink: ByteSink): void {
    this.sink = sink;
  }
  write(_chunks: readonly Uint8Array[], done?: Done): void {
    done?.();
  }
  end(): void {}
  abort(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.sink?.closed();
  }
  pause(): void {}
  resume(): void {}
}

type Variant = "none" | "diagnostics_channel" | "onEvent";

function context(variant: Variant): HandlerContext<unknown> {
  const options: Options = variant === "onEvent" ? { onEvent: () => {} } : {};
  const sink: EventSink | undefined = variant === "onEvent" ? undefined : nodeEvents;
  const callbacks: Callbacks = { onMessage: ({ channel, text }) => void channel.sendText(text!) };
  return createContext(callbacks, resolveOptions(options), nodeClock, (d) => d, undefined, sink);
}

function open(
  ctx: HandlerContext<unknown>,
  slabs: SlabPool,
): { stream: NullStream; session: Session<unknown> } {
  const stream = new NullStream();
  const link = new ByteLink(stream, {
    maxPayload: 1 << 20,
    maxFragments: 1000,
    fragmentSize: 1 << 20,
    slabs,
    clock: nodeClock,
    compression: undefined,
    extensions: "",
  });
  const session = new Session(link, ctx, "");
  session.start({ request: undefined, url: new URL("http://127.0.0.1/") });
  return { stream, session };
}

const listener = (): void => {};
function attach(variant: Variant): void {
  if (variant === "diagnostics_channel") for (const name of HANDLER_EVENTS) subscribe(name, listener);
}
function detach(variant: Variant): void {
  if (variant === "diagnostics_channel") for (const name of HANDLER_EVENTS) unsubscribe(name, listener);
}

const FRAMES_PER_READ = 100;
const frame = clientFrame(Opcode.Text, "x".repeat(64));
const batch = new Uint8Array(frame.length * FRAMES_PER_READ);
for (let i = 0; i < FRAMES_PER_READ; i++) batch.set(frame, i * frame.length);

/** Echoed messages per second over one connection. */
async function echo(variant: Variant, ms: number): Promise<number> {
  attach(variant);
  const ctx = context(variant);
  const { stream } = open(ctx, new SlabPool());
  const input = new Uint8Array(batch.length);
  let messages = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) {
      input.set(batch); // frames are unmasked in place: a fresh copy each read
      stream.sink!.data(input);
      messages += FRAMES_PER_READ;
    }
    await new Promise((resolve) => setImmediate(resolve)); // let the deferred writes run
  }
  const rate = messages / ((performance.now() - start) / 1000);
  stream.abort();
  detach(variant);
  return rate;
}

/** Connections opened, sent a close frame, answered and closed, per second. */
async function churn(variant: Variant, ms: number): Promise<number> {
  attach(variant);
  const ctx = context(variant);
  const slabs = new SlabPool();
  const close = clientFrame(Opcode.Close, closePayload(1000, ""));
  const input = new Uint8Array(close.length);
  let connections = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 200; i++) {
      const { stream } = open(ctx, slabs);
      input.set(close);
      stream.sink!.data(input);
      stream.abort();
      connections++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const rate = connections / ((performance.now() - start) / 1000);
  detach(variant);
  return rate;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const VARIANTS: readonly Variant[] = ["none", "diagnostics_channel", "onEvent"];
const ROUNDS = 5;
const MS = 1000;

for (const [name, run, unit] of [
  ["echo 64 B", echo, "msgs/s"],
  ["open + close", churn, "connections/s"],
] as const) {
  const results = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  await run("none", 300); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of VARIANTS) results.get(variant)!.push(await run(variant, MS));
  }
  const base = median(results.get("none")!);
  for (const variant of VARIANTS) {
    const m = median(results.get(variant)!);
    console.log(
      `${name.padEnd(13)} ${variant.padEnd(20)} ${Math.round(m).toLocaleString("en").padStart(11)} ${unit}  ${(m / base).toFixed(3)}×`,
    );
  }
}

// stats() with 10 000 open connections.
{
  const ctx = context("none");
  const slabs = new SlabPool();
  for (let i = 0; i < 10_000; i++) open(ctx, slabs);
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const start = performance.now();
    snapshot(ctx.counters, ctx.topics, 0, undefined);
    times.push(performance.now() - start);
  }
  console.log(`stats() with 10 000 open connections: median ${(median(times) * 1000).toFixed(0)} µs`);
}
