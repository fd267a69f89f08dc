/**
 * An undercurrent echo server for tests, built with the public API only: every text message is
 * echoed as text, every binary message as binary. It records what the server's callbacks saw
 * (connections, `onClose` code and reason, `onError` errors), each tagged with the connection's
 * id: the `id` query parameter of the upgrade URL (`echo.urlFor("a")` → `ws://…/?id=a`).
 *
 * @example
 * ```ts
 * const echo = await startEchoServer({ maxPayload: 16 * 1024 * 1024 });
 * const ws = new WebSocket(echo.urlFor("c1"));
 * // … talk …
 * ws.close(1000);
 * const record = await echo.closed("c1");   // { id: "c1", code: 1000, reason: "" }
 * await echo.close();
 * ```
 * @module
 */
import { EventEmitter } from "node:events";
import {
  handshake,
  serve,
  type Callbacks,
  type Channel,
  type ConnectEvent,
  type Options,
  type Server,
  type WebSocketHandler,
} from "../../src/index.js";
import { withTimeout } from "./timeout.js";

/** What the echo server keeps in `channel.data`. */
export interface EchoData {
  /** The `id` query parameter of the upgrade URL, or "" when there was none. */
  readonly id: string;
}

/** One `onClose` the server saw. */
export interface CloseRecord {
  readonly id: string;
  readonly code: number;
  readonly reason: string;
}

/** One `onError` the server saw. */
export interface ErrorRecord {
  readonly id: string;
  readonly error: Error;
}

/** Options of {@link startEchoServer}: handler options, plus hooks run inside the callbacks. */
export interface EchoServerOptions extends Options<EchoData> {
  /** Called in `onConnect` after the connection is recorded (may be async: frames are held). */
  readonly onConnect?: (event: ConnectEvent<EchoData>) => void | Promise<void>;
  /** Default timeout of every wait, in ms (default 10 000). */
  readonly waitTimeout?: number;
}

/** A running echo server and what its callbacks saw. */
export interface EchoServer {
  readonly server: Server;
  readonly handler: WebSocketHandler<EchoData>;
  /** `ws://127.0.0.1:PORT`. */
  readonly url: string;
  /** The server URL with `?id=<id>`, to tell connections apart in the records. */
  urlFor(id: string): string;
  /** How many times `onConnect` ran. */
  readonly connects: number;
  /** Every `onClose`, in order. */
  readonly closes: readonly CloseRecord[];
  /** Every `onError`, in order. */
  readonly errors: readonly ErrorRecord[];
  /** The server-side channel of connection `id`, once `onConnect` has run for it. */
  channel(id: string, timeoutMs?: number): Promise<Channel<EchoData>>;
  /** The `onClose` of connection `id`, once it has fired. */
  closed(id: string, timeoutMs?: number): Promise<CloseRecord>;
  /** The `onClose` records of connection `id` (to check it fired exactly once). */
  closesOf(id: string): CloseRecord[];
  /** Resolves when `predicate()` holds, re-checked after every callback; rejects after the timeout. */
  waitFor(predicate: () => boolean, label: string, timeoutMs?: number): Promise<void>;
  /** Stops the server (open connections are closed with 1001) and waits for it. */
  close(): Promise<void>;
}

export { withTimeout };

/** Starts an echo server on 127.0.0.1, port 0. */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const { onConnect: hook, waitTimeout = 10_000, ...handlerOptions } = options;
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const channels = new Map<string, Channel<EchoData>>();
  const closes: CloseRecord[] = [];
  const errors: ErrorRecord[] = [];
  let connects = 0;
  const changed = (): void => void changes.emit("change");

  const callbacks: Callbacks<EchoData> = {
    onConnect(event) {
      connects++;
      const id = event.exchange.url.searchParams.get("id") ?? "";
      event.channel.data = { id };
      channels.set(id, event.channel);
      changed();
      return hook?.(event);
    },
    onMessage({ channel, text, data }) {
      if (text !== undefined) void channel.sendText(text);
      else void channel.sendBinary(data);
    },
    onClose({ channel, code, reason }) {
      closes.push({ id: channel.data?.id ?? "", code, reason });
      changed();
    },
    onError({ channel, error }) {
      errors.push({ id: channel.data?.id ?? "", error });
      changed();
      // Keep the library's default behaviour: an error closes the connection.
      void channel.close(1011, "internal error");
    },
  };

  const handler = handshake(callbacks, handlerOptions);
  const server = await serve(handler, { port: 0 });

  const waitFor = (predicate: () => boolean, label: string, timeoutMs = waitTimeout): Promise<void> => {
    if (predicate()) return Promise.resolve();
    let listener: (() => void) | undefined;
    const met = new Promise<void>((resolve) => {
      listener = () => {
        if (predicate()) resolve();
      };
      changes.on("change", listener);
    });
    return withTimeout(met, timeoutMs, label).finally(() => {
      if (listener !== undefined) changes.off("change", listener);
    });
  };

  const closesOf = (id: string): CloseRecord[] => closes.filter((record) => record.id === id);

  return {
    server,
    handler,
    url: server.url,
    urlFor: (id) => `${server.url}/?id=${encodeURIComponent(id)}`,
    get connects() {
      return connects;
    },
    closes,
    errors,
    async channel(id, timeoutMs) {
      await waitFor(() => channels.has(id), `onConnect of "${id}"`, timeoutMs);
      return channels.get(id)!;
    },
    async closed(id, timeoutMs) {
      await waitFor(() => closesOf(id).length > 0, `onClose of "${id}"`, timeoutMs);
      return closesOf(id)[0]!;
    },
    closesOf,
    waitFor,
    close: () => withTimeout(server.close(), waitTimeout, "server.close()"),
  };
}
