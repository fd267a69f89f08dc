/**
 * The sans-I/O WebSocket connection, server side. Bytes go in through {@link
 * ProtocolConnection.receive}; events come out of {@link ProtocolConnection.nextEvent}; bytes to
 * write come out of {@link ProtocolConnection.takeOutgoing}; {@link
 * ProtocolConnection.closeExpected} says when the transport should be closed.
 *
 * The driving loop, which every I/O layer repeats: after `receive()` or any `send*()`/`close()`
 * call, drain `nextEvent()`, write `takeOutgoing()`, then close the transport if
 * `closeExpected()`.
 * @module
 */

import { Opcode, isControl } from "./opcodes.js";
import { CloseCode, isValidReceivedCloseCode } from "./close-codes.js";
import { ProtocolError } from "./errors.js";
import { FrameParser, type FrameSink } from "./frame-parser.js";
import { encodeClosePayload, truncateReason } from "./frame-codec.js";
import { Outgoing, type Allocate } from "./outgoing.js";
import { StreamingUtf8Decoder, decodeUtf8 } from "./utf8.js";
import type { ProtocolEvent } from "./events.js";

/** Limits on what a peer may send. */
export interface ProtocolOptions {
  /** Largest message in bytes (all fragments together); larger fails with 1009. */
  maxPayload: number;
  /** Most frames one message may be split into; more fails with 1009. */
  maxFragments: number;
  /** permessage-deflate was agreed: RSV1 marks compressed messages (RFC 7692 §6). */
  compression?: boolean;
  /** Allocates outgoing buffers; default `new Uint8Array`. */
  allocate?: Allocate;
}

const EMPTY = new Uint8Array(0);

/** One WebSocket connection's protocol state, server side. */
export class ProtocolConnection implements FrameSink {
  private readonly parser: FrameParser;
  private readonly maxPayload: number;
  private readonly maxFragments: number;

  private readonly outgoing: Outgoing;
  private readonly events: ProtocolEvent[] = [];
  private eventHead = 0;

  /** No more input is processed: a close frame arrived or the connection failed. */
  private inputClosed = false;
  private closeSentFlag = false;

  // The frame being received.
  private frameOpcode = 0;
  private frameFin = false;
  /** Payload of a control frame split across inputs (at most 125 bytes). */
  private control: Uint8Array | null = null;
  private controlFilled = 0;

  // The message being received: opcode 0 when none is in progress.
  private messageOpcode = 0;
  private messageLength = 0;
  private messageFragments = 0;
  /** Binary pieces, or null while the message is still a single piece. */
  private pieces: Uint8Array[] | null = null;
  private utf8: StreamingUtf8Decoder | null = null;
  private messageCompressed = false;

  /** A compressed message is out for inflation: input waits in `held`. */
  private inflating = false;
  private inflatedLength = 0;
  private held: Uint8Array[] = [];

  constructor(options: ProtocolOptions) {
    this.maxPayload = options.maxPayload;
    this.maxFragments = options.maxFragments;
    this.parser = new FrameParser(this);
    this.outgoing = new Outgoing(options.allocate);
    if (options.compression === true) this.parser.allowedRsv = 0x4;
  }

  /** Whether a close frame has been queued (by us, as a reply, or on failure). */
  get closeSent(): boolean {
    return this.closeSentFlag;
  }

  /** Whether input has ended: a close frame arrived or the connection failed. */
  get closeReceived(): boolean {
    return this.inputClosed;
  }

  /**
   * True once both close frames have crossed (or the connection failed and its close frame is
   * queued): after writing the outgoing bytes, the server closes the TCP connection (§7.1.1).
   */
  closeExpected(): boolean {
    return this.inputClosed && this.closeSentFlag;
  }

  /** Feeds received bytes. They are unmasked in place. */
  receive(data: Uint8Array): void {
    if (this.inputClosed) return;
    if (this.inflating || this.held.length !== 0) {
      this.held.push(data);
      return;
    }
    try {
      const used = this.parser.push(data);
      if (used < data.length) this.held.push(data.subarray(used));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.fail(error);
    }
  }

  /** Whether a compressed message is waiting for `inflated()`/`inflatedEnd()`. */
  get awaitingInflation(): boolean {
    return this.inflating;
  }

  /**
   * The next piece of the inflated message. Counts it against `maxPayload` and checks text as
   * it comes (fail-fast); returns false when the connection failed, and the adapter stops.
   */
  inflated(piece: Uint8Array): boolean {
    if (!this.inflating || this.inputClosed) return false;
    this.inflatedLength += piece.length;
    if (this.inflatedLength > this.maxPayload) {
      this.fail(new ProtocolError("ERR_MESSAGE_TOO_BIG", CloseCode.MessageTooBig, "message too big"));
      return false;
    }
    try {
      if (this.messageOpcode === Opcode.Text) (this.utf8 ??= new StreamingUtf8Decoder()).push(piece);
      else if (piece.length !== 0) (this.pieces ??= []).push(piece);
    } catch (error) {
      this.fail(error as ProtocolError);
      return false;
    }
    return true;
  }

  /** The inflated message is complete: report it and go on with the input held meanwhile. */
  inflatedEnd(): void {
    if (!this.inflating || this.inputClosed) return;
    try {
      if (this.messageOpcode === Opcode.Text) {
        const text = (this.utf8 ?? new StreamingUtf8Decoder()).end();
        this.events.push({ type: "text", text });
      } else {
        this.events.push({ type: "binary", data: concat(this.pieces ?? [], this.inflatedLength) });
      }
    } catch (error) {
      this.fail(error as ProtocolError);
      return;
    }
    this.finishMessage();
    this.inflating = false;
    this.parser.paused = false;
    this.resumeInput();
  }

  /** The compressed data could not be inflated: fail with 1007. */
  inflateFailed(): void {
    if (this.inputClosed) return;
    this.fail(
      new ProtocolError("ERR_INVALID_COMPRESSED_DATA", CloseCode.InvalidPayload, "invalid compressed data"),
    );
  }

  private resumeInput(): void {
    try {
      while (this.held.length !== 0 && !this.inflating && !this.inputClosed) {
        const chunk = this.held[0]!;
        const used = this.parser.push(chunk);
        if (used < chunk.length) this.held[0] = chunk.subarray(used);
        else this.held.shift();
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.fail(error);
    }
  }

  /** The next event, or undefined when there is none. */
  nextEvent(): ProtocolEvent | undefined {
    if (this.eventHead === this.events.length) return undefined;
    const event = this.events[this.eventHead++]!;
    if (this.eventHead === this.events.length) {
      this.events.length = 0;
      this.eventHead = 0;
    }
    // The close frame that ends input is answered only when its event is taken, so replies to
    // the messages before it still go out first.
    if (event.type === "close")
      this.close(event.code === CloseCode.NoStatusReceived ? undefined : event.code);
    else if (event.type === "fail") this.close(event.error.closeCode, event.error.message);
    return event;
  }

  /** The bytes to write, in order, since the last call. */
  takeOutgoing(): Uint8Array[] {
    return this.outgoing.take();
  }

  /** Whether bytes are waiting in {@link takeOutgoing}. */
  hasOutgoing(): boolean {
    return !this.outgoing.empty;
  }

  /** Bytes waiting in {@link takeOutgoing}. */
  get outgoingSize(): number {
    return this.outgoing.size;
  }

  /** Queues a text message. Returns false (and queues nothing) once a close frame was sent. */
  sendText(text: string): boolean {
    if (this.closeSentFlag) return false;
    this.outgoing.text(text);
    return true;
  }

  /** Queues a binary message. Returns false once a close frame was sent. */
  sendBinary(data: Uint8Array): boolean {
    return this.sendFrame(Opcode.Binary, data);
  }

  /** Queues a ping (payload at most 125 bytes; the caller checks). */
  ping(data: Uint8Array = EMPTY): boolean {
    return this.sendFrame(Opcode.Ping, data);
  }

  /** Queues a pong (payload at most 125 bytes; the caller checks). */
  pong(data: Uint8Array = EMPTY): boolean {
    return this.sendFrame(Opcode.Pong, data);
  }

  /**
   * Queues one frame. Large payloads are queued by reference after their header, so the
   * caller must not change them until they are written.
   */
  sendFrame(opcode: number, payload: Uint8Array, fin = true, rsv1 = false): boolean {
    if (this.closeSentFlag) return false;
    this.outgoing.frame(opcode, payload, fin, rsv1);
    return true;
  }

  /**
   * Queues bytes that already form one or more complete data frames (a message framed once and
   * sent to many connections). Returns false once a close frame was sent.
   */
  sendPrepared(frames: Uint8Array): boolean {
    if (this.closeSentFlag) return false;
    this.outgoing.raw(frames);
    return true;
  }

  /**
   * Starts the closing handshake (§7.1.2): queues a close frame with `code` (none when
   * undefined) and `reason` (cut to 123 bytes). Returns false if one was already sent.
   */
  close(code?: number, reason = ""): boolean {
    if (this.closeSentFlag) return false;
    this.sendFrame(Opcode.Close, encodeClosePayload(code, truncateReason(reason)));
    this.closeSentFlag = true;
    return true;
  }

  /**
   * _Fail the WebSocket Connection_ (§7.1.7): stop processing input and report a `fail` event;
   * taking that event queues a close frame with the error's code, unless one was sent.
   */
  fail(error: ProtocolError): void {
    if (this.inputClosed) return;
    this.inputClosed = true;
    this.inflating = false;
    this.parser.stop();
    this.held = [];
    this.releaseMessage();
    this.events.push({ type: "fail", error });
  }

  // FrameSink: called by the parser.

  /** @internal */
  onFrameHeader(fin: boolean, rsv1: boolean, opcode: number, length: number): void {
    this.frameOpcode = opcode;
    this.frameFin = fin;
    if (isControl(opcode)) {
      this.control = null;
      this.controlFilled = 0;
      return;
    }
    if (opcode === Opcode.Continuation) {
      // §5.4: continuation frames only follow a first fragment.
      if (this.messageOpcode === 0) {
        throw new ProtocolError(
          "ERR_UNEXPECTED_CONTINUATION",
          CloseCode.ProtocolError,
          "continuation frame without a message to continue",
        );
      }
      // RFC 7692 §6.1: RSV1 is set on the first frame of a compressed message only.
      if (rsv1) {
        throw new ProtocolError(
          "ERR_UNEXPECTED_RSV",
          CloseCode.ProtocolError,
          "RSV1 set on a continuation frame",
        );
      }
    } else {
      // §5.4: "the fragments of one message MUST NOT be interleaved between the fragments of
      // another message".
      if (this.messageOpcode !== 0) {
        throw new ProtocolError(
          "ERR_EXPECTED_CONTINUATION",
          CloseCode.ProtocolError,
          "new data frame inside a fragmented message",
        );
      }
      this.messageOpcode = opcode;
      this.messageLength = 0;
      this.messageFragments = 0;
      this.messageCompressed = rsv1;
    }
    // Refused from the header, before any of the payload is buffered.
    if (length > this.maxPayload - this.messageLength) {
      throw new ProtocolError("ERR_MESSAGE_TOO_BIG", CloseCode.MessageTooBig, "message too big");
    }
    if (++this.messageFragments > this.maxFragments) {
      throw new ProtocolError("ERR_TOO_MANY_FRAGMENTS", CloseCode.MessageTooBig, "too many fragments");
    }
    this.messageLength += length;
  }

  /** @internal */
  onFramePayload(piece: Uint8Array, frameEnd: boolean): void {
    if (isControl(this.frameOpcode)) this.controlPiece(piece, frameEnd);
    else this.dataPiece(piece, frameEnd && this.frameFin);
  }

  private dataPiece(piece: Uint8Array, messageEnd: boolean): void {
    if (this.messageCompressed) {
      if (piece.length !== 0) (this.pieces ??= []).push(piece);
      if (!messageEnd) return;
      // Hand the compressed bytes to the adapter and hold further input until it is inflated.
      const data = concat(this.pieces ?? [], this.messageLength);
      this.pieces = null;
      this.inflating = true;
      this.inflatedLength = 0;
      this.parser.paused = true;
      this.events.push({ type: "compressed", binary: this.messageOpcode === Opcode.Binary, data });
      return;
    }
    const single = messageEnd && this.pieces === null && this.utf8 === null;
    if (this.messageOpcode === Opcode.Text) {
      if (single) {
        this.finishMessage();
        this.events.push({ type: "text", text: decodeUtf8(piece) });
        return;
      }
      // §8.1 and fail-fast: each piece is checked as it arrives.
      (this.utf8 ??= new StreamingUtf8Decoder()).push(piece);
      if (messageEnd) {
        const text = this.utf8.end();
        this.finishMessage();
        this.events.push({ type: "text", text });
      }
      return;
    }
    if (single) {
      this.finishMessage();
      this.events.push({ type: "binary", data: piece });
      return;
    }
    if (piece.length !== 0) (this.pieces ??= []).push(piece);
    if (messageEnd) {
      const data = concat(this.pieces ?? [], this.messageLength);
      this.finishMessage();
      this.events.push({ type: "binary", data });
    }
  }

  private finishMessage(): void {
    this.messageOpcode = 0;
    this.messageCompressed = false;
    this.releaseMessage();
  }

  private releaseMessage(): void {
    this.pieces = null;
    this.utf8 = null;
  }

  private controlPiece(piece: Uint8Array, frameEnd: boolean): void {
    let payload = piece;
    if (!frameEnd || this.control !== null) {
      // A control frame split across inputs: gather its (at most 125) bytes.
      this.control ??= new Uint8Array(125);
      this.control.set(piece, this.controlFilled);
      this.controlFilled += piece.length;
      if (!frameEnd) return;
      payload = this.control.subarray(0, this.controlFilled);
      this.control = null;
    }
    switch (this.frameOpcode) {
      case Opcode.Ping:
        // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
        // response, unless it already received a Close frame."
        this.pong(payload);
        this.events.push({ type: "ping", data: payload });
        return;
      case Opcode.Pong:
        this.events.push({ type: "pong", data: payload });
        return;
      default:
        this.receiveClose(payload);
    }
  }

  private receiveClose(payload: Uint8Array): void {
    let code: number = CloseCode.NoStatusReceived;
    let reason = "";
    if (payload.length === 1) {
      throw new ProtocolError(
        "ERR_INVALID_CLOSE_PAYLOAD",
        CloseCode.ProtocolError,
        "close payload of 1 byte",
      );
    }
    if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      if (!isValidReceivedCloseCode(code)) {
        throw new ProtocolError(
          "ERR_INVALID_CLOSE_CODE",
          CloseCode.ProtocolError,
          `invalid close code ${code}`,
        );
      }
      reason = decodeUtf8(payload.subarray(2));
    }
    this.inputClosed = true;
    this.parser.stop();
    this.releaseMessage();
    // §5.5.1: "If an endpoint receives a Close frame and did not previously send a Close frame,
    // the endpoint MUST send a Close frame in response. (When sending a Close frame in
    // response, the endpoint typically echos the status code it received.)" The reply is queued
    // when this event is taken (see nextEvent).
    this.events.push({ type: "close", code, reason });
  }
}

function concat(pieces: Uint8Array[], length: number): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}
