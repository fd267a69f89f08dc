/**
 * Value types shared by the core and pub/sub: what a send takes and how it ends.
 * @module
 */

/** Bytes a send accepts. */
export type BinaryData = Uint8Array | ArrayBuffer | ArrayBufferView;

/**
 * How a send ended: `"sent"` once its bytes were handed to the operating system, or
 * `"dropped"` when the `"drop"` backpressure policy refused it. While a send is pending, its
 * bytes count in `channel.bufferedAmount`.
 */
export type SendStatus = "sent" | "dropped";

/**
 * What became of a send at once, before its bytes are written (as uWebSockets and Bun report
 * it): `"sent"` it was queued, `"backpressure"` it was refused under the `"close"` policy (the
 * connection is closing with 1008), `"dropped"` it was refused under the `"drop"` policy.
 */
export type SendOutcome = "sent" | "backpressure" | "dropped";
