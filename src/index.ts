/**
 * undercurrent on Node: `handshake(callbacks)` builds the handler, `serve(handler)` runs it. The
 * Node entry point: the only module that imports the Node adapter. Its types are the core's,
 * narrowed to Node (`exchange.request` is an `IncomingMessage`, or an `Http2ServerRequest` for a
 * WebSocket over HTTP/2; binary messages are `Buffer`s).
 * @module
 */

import type * as callbacks from "./core/callbacks.js";
import type * as options from "./core/options.js";
import type * as events from "./core/events.js";
import type { NodeRuntime } from "./adapters/node/context.js";

export {
  handshake,
  type Callbacks,
  type Options,
  type WebSocketHandler,
  type NextHandler,
  type UpgradeListener,
  type StreamListener,
} from "./adapters/node/handshake.js";
export {
  serve,
  type Server,
  type ServeOptions,
  type SecureServer,
  type SecureServeOptions,
  type TlsOptions,
} from "./adapters/node/serve.js";
export { attach } from "./adapters/node/attach.js";
export {
  Channel,
  ReadyState,
  type SendOptions,
  type SendCallback,
  type SendStatus,
  type BinaryData,
  type MessageStream,
  type ReadableStreamLike,
  type ReadableStreamReaderLike,
} from "./core/channel.js";
export type { SendOutcome } from "./common/types.js";
export type { CloseEvent, ErrorEvent, DrainEvent } from "./core/callbacks.js";
/**
 * Argument of `onConnect` (see the core's `ConnectEvent`): `exchange.request` is an
 * `IncomingMessage`, or an `Http2ServerRequest` for a WebSocket over HTTP/2.
 */
export type ConnectEvent<T = unknown> = callbacks.ConnectEvent<T, NodeRuntime>;
/** Argument of `onMessage` (see the core's `MessageEvent`): binary `data` is a `Buffer`. */
export type MessageEvent<T = unknown> = callbacks.MessageEvent<T, NodeRuntime>;
/** The HTTP side of an upgrade: the `IncomingMessage` (or HTTP/2 `Http2ServerRequest`), and its URL. */
export type Exchange = options.Exchange<NodeRuntime>;
/** Picks a subprotocol (see the core's `ProtocolSelector`). */
export type ProtocolSelector = options.ProtocolSelector<NodeRuntime>;
/** Argument of `onUpgradeError` (see the core's `UpgradeErrorEvent`). */
export type UpgradeErrorEvent = options.UpgradeErrorEvent<NodeRuntime>;
export type { NodeRuntime } from "./adapters/node/context.js";
export {
  DEFAULTS,
  type Runtime,
  type UpgradeDecision,
  type UpgradeRefusal,
  type UpgradeAcceptance,
  type BackpressurePolicy,
  type CompressionOptions,
} from "./core/options.js";
export { CloseCode, type CloseCodeValue } from "./protocol/close-codes.js";
export {
  HANDLER_EVENTS,
  type EventName,
  type HandlerEventName,
  type EventMessages,
  type RefusalCheck,
  type ClosedBy,
  type ConnectionCloseMessage,
  type ConnectionErrorMessage,
  type BackpressureMessage,
} from "./core/events.js";
export type { HandlerStats, StatsOptions } from "./core/stats.js";
/** `undercurrent:upgrade:accepted` (see the core's `UpgradeAcceptedMessage`). */
export type UpgradeAcceptedMessage = events.UpgradeAcceptedMessage<NodeRuntime>;
/** `undercurrent:upgrade:refused` (see the core's `UpgradeRefusedMessage`). */
export type UpgradeRefusedMessage = events.UpgradeRefusedMessage<NodeRuntime>;
/** `undercurrent:connection:open` (see the core's `ConnectionOpenMessage`). */
export type ConnectionOpenMessage<T = unknown> = events.ConnectionOpenMessage<T, NodeRuntime>;
/** What `onEvent` receives, narrowed to Node (see the core's `UndercurrentEvent`). */
export type UndercurrentEvent<T = unknown> = events.UndercurrentEvent<T, NodeRuntime>;
export {
  UndercurrentError,
  ProtocolError,
  UpgradeResponseError,
  UpgradeCallbackError,
  type UpgradeCallbackName,
  ChannelClosedError,
  SendTimeoutError,
  BackpressureError,
  InvalidArgumentError,
  CallbackError,
  InternalError,
  type ProtocolErrorCode,
  type ProtocolErrorCloseCode,
} from "./common/errors.js";
export { ERROR_CODES, type ErrorCode, type ErrorCodeInfo } from "./common/error-codes.js";
export { MemoryBroker } from "./pubsub/memory.js";
export {
  Publication,
  encodeEnvelope,
  decodeEnvelope,
  type Broker,
  type BrokerTarget,
  type BrokerStateMessage,
  type Envelope,
  type TopicMessage,
} from "./pubsub/broker.js";
