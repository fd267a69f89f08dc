/**
 * The states of a connection, numbered as the browser's `WebSocket.readyState`. The protocol
 * core keeps the one state machine ({@link ProtocolConnection.readyState}); a channel's
 * `readyState` is read from it.
 * @module
 */

/** The states of a channel, numbered as the browser's `WebSocket.readyState`. */
export const ReadyState = {
  /** Not yet open (never seen by callbacks: channels are created open). */
  Connecting: 0,
  /** Open: sends go out. */
  Open: 1,
  /** A close frame was sent or received, or input ended; sends are refused. */
  Closing: 2,
  /** The transport is gone. */
  Closed: 3,
} as const;

/** One of {@link ReadyState}. */
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];
