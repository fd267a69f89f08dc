/**
 * Topic servers and subscriber clients for the pub/sub tests. A topic server subscribes each
 * connection to the topics in its URL (`?id=a&topics=x,y`), then sends it `"subscribed"`, so a
 * client that has connected knows its subscriptions are in place.
 * @module
 */
import { WebSocket } from "ws";
import {
  handshake,
  serve,
  type Broker,
  type Channel,
  type Options,
  type Server,
  type WebSocketHandler,
} from "../../src/index.js";
import { withTimeout } from "../helpers/echo-server.js";

export const WAIT = 10_000;

/** A running topic server. */
export interface TopicServer {
  readonly server: Server;
  readonly handler: WebSocketHandler;
  /** The server-side channel of the client connected with `id`. */
  channel(id: string): Channel;
  /** The URL a client with `id` subscribed to `topics` connects to. */
  urlFor(id: string, topics: readonly string[]): string;
  close(): Promise<void>;
}

/** Starts a topic server on 127.0.0.1, port 0. */
export async function startTopicServer(broker?: Broker, options: Options = {}): Promise<TopicServer> {
  const channels = new Map<string, Channel>();
  const handler = handshake(
    {
      onConnect({ channel, exchange }) {
        const id = exchange.url.searchParams.get("id") ?? "";
        channels.set(id, channel);
        const topics = exchange.url.searchParams.get("topics") ?? "";
        for (const topic of topics.split(",")) if (topic !== "") channel.subscribe(topic);
        void channel.sendText("subscribed");
      },
      onMessage() {},
    },
    broker === undefined ? options : { ...options, broker },
  );
  const server = await serve(handler, { port: 0, host: "127.0.0.1" });
  const base = server.url.replace(/^http/, "ws");
  return {
    server,
    handler,
    channel(id) {
      const channel = channels.get(id);
      if (channel === undefined) throw new Error(`no connection "${id}"`);
      return channel;
    },
    urlFor: (id, topics) =>
      `${base}/?id=${encodeURIComponent(id)}&topics=${encodeURIComponent(topics.join(","))}`,
    close: () => server.close(),
  };
}

/** A message as a client received it. */
export type Received = string | Buffer;

/** A `ws` client that records every message after `"subscribed"`. */
export class SubscriberClient {
  readonly ws: WebSocket;
  readonly messages: Received[] = [];
  #wake: (() => void) | undefined = undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      this.messages.push(isBinary ? bytes : bytes.toString("utf8"));
      this.#wake?.();
    });
  }

  /** Connects and waits for the server's `"subscribed"`. */
  static async connect(url: string): Promise<SubscriberClient> {
    const client = new SubscriberClient(new WebSocket(url));
    await client.waitFor(1, `"subscribed" from ${url}`);
    const first = client.messages.shift();
    if (first !== "subscribed") throw new Error(`expected "subscribed", got ${String(first)}`);
    return client;
  }

  /** Waits until at least `count` messages arrived. */
  async waitFor(count: number, label = `${count} messages`, ms = WAIT): Promise<void> {
    await this.waitUntil(() => this.messages.length >= count, label, ms);
  }

  /** Waits until `predicate` holds, checked after every message. */
  async waitUntil(predicate: () => boolean, label: string, ms = WAIT): Promise<void> {
    if (predicate()) return;
    await withTimeout(
      new Promise<void>((resolve) => {
        this.#wake = () => {
          if (!predicate()) return;
          this.#wake = undefined;
          resolve();
        };
      }),
      ms,
      `${label} (got ${this.messages.length})`,
    ).finally(() => (this.#wake = undefined));
  }

  /** The text messages received, in order. */
  get texts(): string[] {
    return this.messages.filter((m): m is string => typeof m === "string");
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.ws.once("close", () => resolve()));
    this.ws.close(1000);
    await withTimeout(closed, WAIT, "client close");
  }
}

/** Polls `predicate` every 5 ms until it holds. */
export async function eventually(predicate: () => boolean, label: string, ms = WAIT): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
