/**
 * Handler options: one frozen table of defaults, validated once when the handler is built.
 * @module
 */

import { InvalidArgumentError, describeValue, type UndercurrentError } from "../common/errors.js";
import type { Broker } from "../pubsub/broker.js";
import { isTimeout, timeoutMessage } from "../common/validate.js";
import type { Exchange, Runtime } from "./exchange.js";
import type { EventListener } from "./events.js";

export type { Exchange, Runtime };

/**
 * Picks a subprotocol from those the client offered (in its order of preference): return one of
 * them, undefined for none (the connection goes ahead without one), or `false` to refuse the
 * upgrade with 400. Any other result (a name the client did not offer, `null`, a Promise) and a
 * throw are refused with 500 and reported to `onUpgradeError`.
 */
export type ProtocolSelector<R extends Runtime = Runtime> = (
  offered: readonly string[],
  exchange: Exchange<R>,
) => string | undefined | false;

/**
 * Refuses an upgrade with an HTTP answer of your own. Every part is validated before it is
 * written, as Node's `res.setHeader` would (no CR, LF or other control characters in a value,
 * names that are tokens); an invalid answer is replaced by a plain 500 and reported to
 * `onUpgradeError`. `Content-Length`, `Transfer-Encoding` and `Connection` are the library's
 * (the answer always closes the connection and its length is the body's): values given for them
 * here are dropped. A `Content-Type` given here replaces the default `text/plain; charset=utf-8`.
 * Names are case-insensitive; of two that differ only in case, the last wins.
 *
 * @example
 * ```ts
 * return { status: 401, headers: { "WWW-Authenticate": "Bearer" }, body: "log in first" };
 * ```
 */
export interface UpgradeRefusal {
  /** An HTTP status: an integer 400–599. */
  readonly status: number;
  /** Header values are strings (or numbers); each is written on one line, as Latin-1. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A body, sent as UTF-8 text; by default "refused". */
  readonly body?: string;
}

/**
 * Argument of `onUpgradeError`: why an upgrade was answered with 500 instead of what the
 * application meant (`UpgradeResponseError`, `UpgradeCallbackError`), and for which request.
 */
export interface UpgradeErrorEvent<R extends Runtime = Runtime> {
  readonly error: UndercurrentError;
  readonly exchange: Exchange<R>;
}

/** Accepts an upgrade and sets `channel.data` before `onConnect`. */
export interface UpgradeAcceptance<T> {
  readonly data: T;
}

/**
 * What `onUpgrade` decides: nothing (or `true`) accepts, `{ data }` accepts with per-connection
 * data, `false` refuses with 403, and an {@link UpgradeRefusal} refuses with its own answer.
 * The shapes are read strictly: an acceptance has exactly one own key, `data`; a refusal has an
 * own `status` and at most `headers` and `body` besides. Any other value (`null`, `{}`, a
 * number, an object with other keys…) is refused with 500 and reported to `onUpgradeError`,
 * never taken as an acceptance. A thenable of any realm is awaited, then read the same way.
 */
export type UpgradeDecision<T> = void | boolean | UpgradeAcceptance<T> | UpgradeRefusal;

/**
 * permessage-deflate settings (RFC 7692). Memory per connection is the cost to weigh: see the
 * README's compression section for measured figures.
 */
export interface CompressionOptions {
  /** Reset our compression context after every message: less memory, worse ratio. Default false. */
  readonly serverNoContextTakeover?: boolean;
  /** Ask clients to reset theirs, so our inflater can be released between messages. Default false. */
  readonly clientNoContextTakeover?: boolean;
  /** Our compression window, 9–15 (2^n bytes). Default 15. */
  readonly serverMaxWindowBits?: number;
  /** The largest window clients may use, 8–15 (only limited if the client offers to be). Default 15. */
  readonly clientMaxWindowBits?: number;
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  readonly threshold?: number;
  /** zlib memLevel for compression, 1–9: memory against speed. Default 8. */
  readonly memLevel?: number;
  /** Most zlib operations this handler runs at once; the rest wait in order. Default 10. */
  readonly concurrency?: number;
}

/** What to do with a send that would take a connection's buffered bytes past `maxBackpressure`. */
export type BackpressurePolicy = "close" | "drop" | "buffer";

/** Options of `handshake()`. Every field is optional; see {@link DEFAULTS}. */
export interface Options<T = unknown, R extends Runtime = Runtime> {
  /**
   * Which request paths this handler takes: an exact pathname such as `"/chat"`, or a
   * predicate. Default: every path. Upgrade requests for other paths go to the next handler.
   */
  readonly path?: string | ((pathname: string) => boolean);
  /**
   * Largest message accepted, in bytes, all fragments together, counted after inflation.
   * Default 1 MiB. Larger: 1009.
   */
  readonly maxPayload?: number;
  /** permessage-deflate: `true` for the defaults, or {@link CompressionOptions}. Default off. */
  readonly compression?: boolean | CompressionOptions;
  /** Most frames one message may be split into. Default 131072. More: 1009. */
  readonly maxFragments?: number;
  /**
   * Outgoing messages (uncompressed) larger than this many bytes go out as fragments of at most
   * this size, one at a time as the transport drains, so pings, pongs and a close reply can go
   * between them (RFC 6455 §5.4); streamed sends use it as their largest fragment too. Default
   * 1 MiB; `Infinity` sends every whole message as one frame.
   */
  readonly fragmentSize?: number;
  /**
   * Subprotocols the server speaks: a list (the client's first offer that is in the list
   * wins) or a {@link ProtocolSelector}. Default: none; a subprotocol is never echoed back
   * unless selected.
   */
  readonly protocols?: readonly string[] | ProtocolSelector<R>;
  /**
   * Origins allowed to connect (the `Origin` header browsers send): a list of origins such as
   * `"https://example.com"` (compared case-insensitively), or a predicate. Others get 403.
   * Requests without an `Origin` (non-browser clients, which can send any) are let through to
   * a list and passed to a predicate as undefined. A predicate lets a request through only by
   * returning `true`; `false` is 403, and any other value (or a throw) is 500, reported to
   * `onUpgradeError`. Default: any.
   */
  readonly origins?: readonly string[] | ((origin: string | undefined, exchange: Exchange<R>) => boolean);
  /**
   * Runs before the 101 and may be async: authenticate, attach data, or refuse (see
   * {@link UpgradeDecision}). A throw or rejection, or a decision that is none of the documented
   * shapes, refuses with 500 and is reported to `onUpgradeError`. No WebSocket callback runs for a
   * refused request.
   */
  readonly onUpgrade?: (exchange: Exchange<R>) => UpgradeDecision<T> | Promise<UpgradeDecision<T>>;
  /**
   * Hears about every upgrade the library answered with 500 because of the application: an
   * `onUpgrade`, `origins` or `protocols` callback that threw or rejected
   * (`UpgradeCallbackError`), or a decision that could not be written as HTTP
   * (`UpgradeResponseError`). Default: each such error is written once with `console.error`. A
   * throw or rejection inside this hook is written with `console.error` and goes no further.
   *
   * @example
   * ```ts
   * handshake(callbacks, { onUpgradeError: ({ error, exchange }) => log.error(exchange.url.pathname, error) });
   * ```
   */
  readonly onUpgradeError?: (event: UpgradeErrorEvent<R>) => void;
  /** Most open connections of this handler; more get 503. Default: no limit. */
  readonly maxConnections?: number;
  /**
   * How long to wait for the peer's close frame (and TCP close) after ours, in ms, from 1 to
   * 2³¹−1; then the connection is cut. `Infinity`: never cut, wait for the peer however long it
   * takes (and `handler.close()` with it). Default 5000.
   */
  readonly closeTimeout?: number;
  /**
   * A connection with no input for this many ms (up to 2³¹−1) is dropped (onClose reports
   * 1006); after half of it in silence the server pings. 0 or `Infinity` disables both.
   * Default 120000.
   */
  readonly idleTimeout?: number;
  /**
   * Longest time from the request's first byte to the 101, in ms, from 1 to 2³¹−1: a client that
   * trickles its request (slowloris) or an `onUpgrade` that never settles is cut. `serve()`
   * applies it to the HTTP server's header timeout too. `Infinity`: no limit at all, neither on
   * `onUpgrade` nor (with `serve()`) on the HTTP request. Default 10000.
   */
  readonly handshakeTimeout?: number;
  /**
   * Bytes a connection may have waiting to be written before {@link Options.backpressure}
   * applies. Default 16 MiB.
   */
  readonly maxBackpressure?: number;
  /**
   * Past `maxBackpressure`: `"close"` the connection with 1008 (default), `"drop"` the message
   * (the send resolves `"dropped"`), or `"buffer"` it anyway.
   */
  readonly backpressure?: BackpressurePolicy;
  /**
   * Carries published messages between handlers and processes (see `channel.publish`): a
   * `MemoryBroker` shared with other handlers of this process, or a `RedisBroker` from
   * `undercurrent/redis` to join processes. Default: an in-process broker of this handler's
   * own, closed with the handler. A broker passed here is detached, not closed, by
   * `handler.close()`.
   */
  readonly broker?: Broker;
  /**
   * Hears every observability event of this handler (the messages of the
   * `undercurrent:*` diagnostics channels, see the README's Observability section), on any
   * runtime. A throw is written with `console.error` and goes no further. Default: none.
   *
   * @example
   * ```ts
   * handshake(callbacks, {
   *   onEvent: (event) => {
   *     if (event.name === "undercurrent:upgrade:refused") log.warn(event.message.check, event.message.status);
   *   },
   * });
   * ```
   */
  readonly onEvent?: EventListener<T, R>;
}

/** The defaults, one place. */
export const DEFAULTS = Object.freeze({
  maxPayload: 1024 * 1024,
  maxFragments: 131072,
  fragmentSize: 1024 * 1024,
  maxConnections: Infinity,
  closeTimeout: 5000,
  idleTimeout: 120_000,
  handshakeTimeout: 10_000,
  maxBackpressure: 16 * 1024 * 1024,
  backpressure: "close" as BackpressurePolicy,
  compression: Object.freeze({
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    threshold: 1024,
    memLevel: 8,
    concurrency: 10,
  }),
});

/** Compression settings after validation. */
export type ResolvedCompression = Required<CompressionOptions>;

/** Options after validation, every field present. */
export interface ResolvedOptions<T = unknown, R extends Runtime = Runtime> {
  readonly matchPath: (pathname: string) => boolean;
  readonly maxPayload: number;
  readonly maxFragments: number;
  readonly fragmentSize: number;
  readonly selectProtocol: ProtocolSelector<R> | undefined;
  readonly allowOrigin: ((origin: string | undefined, exchange: Exchange<R>) => boolean) | undefined;
  readonly onUpgrade: Options<T, R>["onUpgrade"];
  readonly onUpgradeError: Options<T, R>["onUpgradeError"];
  readonly maxConnections: number;
  readonly closeTimeout: number;
  readonly idleTimeout: number;
  readonly handshakeTimeout: number;
  readonly maxBackpressure: number;
  readonly backpressure: BackpressurePolicy;
  /** Undefined when compression is off. */
  readonly compression: ResolvedCompression | undefined;
  readonly onEvent: EventListener<T, R> | undefined;
}

/** Refuses a list that holds anything but strings. */
function strings(name: string, list: readonly unknown[]): void {
  for (const item of list) {
    if (typeof item !== "string")
      throw new InvalidArgumentError(`${name} holds strings, not ${describeValue(item)}`);
  }
}

/** A boolean option: undefined for the default, else exactly true or false. */
function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean")
    throw new InvalidArgumentError(`${name} is a boolean, not ${describeValue(value)}`);
  return value;
}

function count(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!(Number.isSafeInteger(value) || value === Infinity) || value < min) {
    throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${describeValue(value)}`);
  }
  return value;
}

/** A timeout: Infinity ("never") or a delay a timer honours (see `validate.ts`). */
function timeout(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!isTimeout(value, min)) throw new InvalidArgumentError(timeoutMessage(name, value, min));
  return value;
}

/** Validates options once, failing fast with an {@link InvalidArgumentError}. */
export function resolveOptions<T, R extends Runtime = Runtime>(
  options: Options<T, R> = {},
): ResolvedOptions<T, R> {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(`options are an object, not ${describeValue(options)}`);
  }
  const { path, protocols, origins, onUpgrade, backpressure = DEFAULTS.backpressure } = options;
  let matchPath: (pathname: string) => boolean;
  if (path === undefined) matchPath = () => true;
  else if (typeof path === "string") {
    if (!path.startsWith("/")) throw new InvalidArgumentError(`path must start with "/", got "${path}"`);
    matchPath = (pathname) => pathname === path;
  } else if (typeof path === "function") matchPath = path;
  else throw new InvalidArgumentError(`path is a string or a function, not ${describeValue(path)}`);

  let selectProtocol: ProtocolSelector<R> | undefined;
  if (Array.isArray(protocols)) {
    strings("protocols", protocols);
    const supported = new Set<string>(protocols);
    selectProtocol = (offered) => offered.find((p) => supported.has(p));
  } else if (typeof protocols === "function") selectProtocol = protocols as ProtocolSelector<R>;
  else if (protocols !== undefined) throw new InvalidArgumentError("protocols must be a list or a function");

  let allowOrigin: ResolvedOptions<T, R>["allowOrigin"];
  if (Array.isArray(origins)) {
    strings("origins", origins);
    const allowed = new Set(origins.map((o: string) => o.toLowerCase()));
    allowOrigin = (origin) => origin === undefined || allowed.has(origin.toLowerCase());
  } else if (typeof origins === "function") allowOrigin = origins as ResolvedOptions<T, R>["allowOrigin"];
  else if (origins !== undefined) throw new InvalidArgumentError("origins must be a list or a function");

  if (onUpgrade !== undefined && typeof onUpgrade !== "function") {
    throw new InvalidArgumentError("onUpgrade must be a function");
  }
  const { onUpgradeError, onEvent } = options;
  if (onUpgradeError !== undefined && typeof onUpgradeError !== "function") {
    throw new InvalidArgumentError("onUpgradeError must be a function");
  }
  if (onEvent !== undefined && typeof onEvent !== "function") {
    throw new InvalidArgumentError("onEvent must be a function");
  }
  if (!["close", "drop", "buffer"].includes(backpressure)) {
    throw new InvalidArgumentError(
      `backpressure must be "close", "drop" or "buffer", got "${String(backpressure)}"`,
    );
  }

  return {
    matchPath,
    maxPayload: count("maxPayload", options.maxPayload, DEFAULTS.maxPayload),
    maxFragments: count("maxFragments", options.maxFragments, DEFAULTS.maxFragments),
    fragmentSize: count("fragmentSize", options.fragmentSize, DEFAULTS.fragmentSize),
    selectProtocol,
    allowOrigin,
    onUpgrade,
    onUpgradeError,
    maxConnections: count("maxConnections", options.maxConnections, DEFAULTS.maxConnections),
    closeTimeout: timeout("closeTimeout", options.closeTimeout, DEFAULTS.closeTimeout),
    idleTimeout: timeout("idleTimeout", options.idleTimeout, DEFAULTS.idleTimeout, 0),
    handshakeTimeout: timeout("handshakeTimeout", options.handshakeTimeout, DEFAULTS.handshakeTimeout),
    maxBackpressure: count("maxBackpressure", options.maxBackpressure, DEFAULTS.maxBackpressure),
    backpressure,
    compression: resolveCompression(options.compression),
    onEvent,
  };
}

function resolveCompression(
  option: boolean | CompressionOptions | undefined,
): ResolvedCompression | undefined {
  if (option === undefined || option === false) return undefined;
  if (option !== true && (option === null || typeof option !== "object")) {
    throw new InvalidArgumentError("compression must be a boolean or an object");
  }
  const given: CompressionOptions = option === true ? {} : option;
  const d = DEFAULTS.compression;
  const between = (name: string, value: number | undefined, fallback: number, min: number, max: number) => {
    const v = count(`compression.${name}`, value, fallback, min);
    if (v > max) throw new InvalidArgumentError(`compression.${name} must be at most ${max}, got ${v}`);
    return v;
  };
  return {
    serverNoContextTakeover: flag(
      "compression.serverNoContextTakeover",
      given.serverNoContextTakeover,
      d.serverNoContextTakeover,
    ),
    clientNoContextTakeover: flag(
      "compression.clientNoContextTakeover",
      given.clientNoContextTakeover,
      d.clientNoContextTakeover,
    ),
    serverMaxWindowBits: between(
      "serverMaxWindowBits",
      given.serverMaxWindowBits,
      d.serverMaxWindowBits,
      9,
      15,
    ),
    clientMaxWindowBits: between(
      "clientMaxWindowBits",
      given.clientMaxWindowBits,
      d.clientMaxWindowBits,
      8,
      15,
    ),
    threshold: count("compression.threshold", given.threshold, d.threshold, 0),
    memLevel: between("memLevel", given.memLevel, d.memLevel, 1, 9),
    concurrency: between("concurrency", given.concurrency, d.concurrency, 1, 1024),
  };
}
