/**
 * undercurrent: a WebSocket server for Node.js. `handshake(callbacks)` builds the handler,
 * `serve(handler)` runs it.
 * @module
 */

export {
  handshake,
  type WebSocketHandler,
  type NextHandler,
  type UpgradeListener,
} from "./adapters/node/handshake.js";
export { serve, type Server, type ServeOptions } from "./adapters/node/serve.js";
export {
  Channel,
  ReadyState,
  type SendOptions,
  type SendCallback,
  type SendStatus,
  type BinaryData,
} from "./core/channel.js";
export type {
  Callbacks,
  ConnectEvent,
  MessageEvent,
  CloseEvent,
  ErrorEvent,
  DrainEvent,
} from "./core/callbacks.js";
export {
  DEFAULTS,
  type Options,
  type Exchange,
  type ProtocolSelector,
  type UpgradeDecision,
  type UpgradeRefusal,
  type UpgradeAcceptance,
  type UpgradeErrorEvent,
  type BackpressurePolicy,
  type CompressionOptions,
} from "./core/options.js";
export { CloseCode, type CloseCodeValue } from "./protocol/close-codes.js";
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
  type Envelope,
  type TopicMessage,
} from "./pubsub/broker.js";
