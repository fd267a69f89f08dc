/**
 * The two types every layer of the core shares about an upgrade: the {@link Runtime} narrowing
 * and the {@link Exchange}. (`options.ts` re-exports both.)
 * @module
 */

/**
 * What a runtime's entry point narrows in the public types: the request an exchange carries and
 * the bytes of a binary message. The core sees only this shape; Node's entry uses
 * `{ request: IncomingMessage; binary: Buffer }`.
 */
export interface Runtime {
  readonly request: unknown;
  readonly binary: Uint8Array;
}

/** The HTTP side of an upgrade: the request, and its URL parsed. */
export interface Exchange<R extends Runtime = Runtime> {
  /** The upgrade request as the runtime received it (Node: an `IncomingMessage`). */
  readonly request: R["request"];
  /** The request URL, resolved against the Host header. */
  readonly url: URL;
}
