/**
 * Handler options: one frozen table of defaults, validated once when the handler is built.
 * @module
 */

import type { IncomingMessage } from "node:http";
import { InvalidArgumentError } from "./errors.js";

/** The HTTP side of an upgrade: the request, and its URL parsed. */
export interface Exchange {
  /** The upgrade request as Node received it. */
  readonly request: IncomingMessage;
  /** The request URL, resolved against the Host header. */
  readonly url: URL;
}

/**
 * Picks a subprotocol from those the client offered (in its order of preference): return one of
 * them, or undefined for none.
 */
export type ProtocolSelector = (offered: readonly string[], exchange: Exchange) => string | undefined;

/** Options of `handshake()`. Every field is optional; see {@link DEFAULTS}. */
export interface Options {
  /**
   * Which request paths this handler takes: an exact pathname such as `"/chat"`, or a
   * predicate. Default: every path. Upgrade requests for other paths go to the next handler.
   */
  readonly path?: string | ((pathname: string) => boolean);
  /** Largest message accepted, in bytes, all fragments together. Default 1 MiB. Larger: 1009. */
  readonly maxPayload?: number;
  /** Most frames one message may be split into. Default 131072. More: 1009. */
  readonly maxFragments?: number;
  /**
   * Subprotocols the server speaks: a list (the client's first offer that is in the list
   * wins) or a {@link ProtocolSelector}. Default: none; a subprotocol is never echoed back
   * unless selected.
   */
  readonly protocols?: readonly string[] | ProtocolSelector;
  /** How long to wait for the peer's close frame (and TCP close) after ours, in ms. Default 5000. */
  readonly closeTimeout?: number;
}

/** The defaults, one place. */
export const DEFAULTS = Object.freeze({
  maxPayload: 1024 * 1024,
  maxFragments: 131072,
  closeTimeout: 5000,
});

/** Options after validation, every field present. */
export interface ResolvedOptions {
  readonly matchPath: (pathname: string) => boolean;
  readonly maxPayload: number;
  readonly maxFragments: number;
  readonly selectProtocol: ProtocolSelector | undefined;
  readonly closeTimeout: number;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** Validates options once, failing fast with an {@link InvalidArgumentError}. */
export function resolveOptions(options: Options = {}): ResolvedOptions {
  const { path, protocols } = options;
  let matchPath: (pathname: string) => boolean;
  if (path === undefined) matchPath = () => true;
  else if (typeof path === "string") {
    if (!path.startsWith("/")) throw new InvalidArgumentError(`path must start with "/", got "${path}"`);
    matchPath = (pathname) => pathname === path;
  } else matchPath = path;

  let selectProtocol: ProtocolSelector | undefined;
  if (Array.isArray(protocols)) {
    const supported = new Set<string>(protocols);
    selectProtocol = (offered) => offered.find((p) => supported.has(p));
  } else if (typeof protocols === "function") selectProtocol = protocols as ProtocolSelector;
  else if (protocols !== undefined) throw new InvalidArgumentError("protocols must be a list or a function");

  return {
    matchPath,
    maxPayload: positiveInteger("maxPayload", options.maxPayload, DEFAULTS.maxPayload),
    maxFragments: positiveInteger("maxFragments", options.maxFragments, DEFAULTS.maxFragments),
    selectProtocol,
    closeTimeout: positiveInteger("closeTimeout", options.closeTimeout, DEFAULTS.closeTimeout),
  };
}
