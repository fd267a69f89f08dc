/**
 * Close status codes (RFC 6455 §7.4) and which of them may travel in a close frame.
 * @module
 */

/**
 * Close codes with what each means. Pass them to `channel.close(code, reason)`; `onClose`
 * reports them.
 */
export const CloseCode = {
  /** 1000: the purpose of the connection has been fulfilled. */
  NormalClosure: 1000,
  /** 1001: the endpoint is going away: a server shutting down, a browser leaving the page. */
  GoingAway: 1001,
  /** 1002: the peer broke the protocol (unmasked frame, reserved opcode, bad fragmentation…). */
  ProtocolError: 1002,
  /** 1003: a data type the endpoint cannot accept (for example binary where only text is handled). */
  UnsupportedData: 1003,
  /** 1005: reserved, never sent: the close frame carried no code. */
  NoStatusReceived: 1005,
  /** 1006: reserved, never sent: the connection ended without a close frame (TCP lost, timeout). */
  AbnormalClosure: 1006,
  /** 1007: a message was inconsistent with its type, such as text that is not valid UTF-8. */
  InvalidPayload: 1007,
  /** 1008: the message violates the endpoint's policy (generic; for example backpressure exceeded). */
  PolicyViolation: 1008,
  /** 1009: a message was larger than the endpoint accepts (`maxPayload`). */
  MessageTooBig: 1009,
  /** 1010: sent by a client: the server did not negotiate an extension the client requires. */
  MandatoryExtension: 1010,
  /** 1011: the server hit an unexpected condition (a callback threw). */
  InternalError: 1011,
  /** 1012: the service is restarting. */
  ServiceRestart: 1012,
  /** 1013: try again later (overload). */
  TryAgainLater: 1013,
  /** 1014: a gateway or proxy received an invalid response from upstream. */
  BadGateway: 1014,
  /** 1015: reserved, never sent: the TLS handshake failed. */
  TlsHandshake: 1015,
} as const;

/** One of the {@link CloseCode} values, and nothing else. */
export type KnownCloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** A close code: one of {@link CloseCode} or an application code 3000–4999. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode] | number;

/**
 * Whether a code may appear in a close frame received from a peer (RFC 6455 §7.4.1, §7.4.2):
 * 1000–1003, 1007–1014 and 3000–4999. Anything else fails the connection with 1002.
 */
export function isValidReceivedCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/**
 * Whether the application may send a code: the same set as may be received. 1005, 1006 and
 * 1015 are reserved for reporting and never go on the wire.
 */
export function isValidSentCloseCode(code: number): boolean {
  return Number.isInteger(code) && isValidReceivedCloseCode(code);
}
