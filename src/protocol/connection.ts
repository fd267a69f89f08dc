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
import { CloseCode } from "./close-codes.js";
import { InternalError, ProtocolError } from "./errors.js";
import { FrameParser, type FrameSink } from "./frame-parser.js";
import { decodeClosePayload, encodeClosePayload, truncateReason } from "./frame-codec.js";
import { Outgoing, type SlabPool } from "./outgoing.js";
import { MessageAssembler } from "./assembler.js";
import type { ProtocolEvent } from "./events.js";
import { ReadyState } from "./ready-state.js";

/** Limits on what a peer may send. */
export interface ProtocolOptions {
  /** Largest message in bytes (all fragments together); larger fails with 1009. */
  maxPayload: number;
  /** Most frames one message may be split into; more fails with 1009. */
  maxFragments: number;
  /** permessage-deflate was agreed: RSV1 marks compressed messages (RFC 7692 §6). */
  compression?: boolean;
  /** Slab memory for small outgoing frames, shared with other connections; default: its own. */
  pool?: SlabPool;
}

const EMPTY = new Uint8Array(0);

/** One WebSocket connection's protocol state, server side. */
export class ProtocolConnection implements FrameSink {
  private readonly parser: FrameParser;

  private readonly outgoing: Outgoing;
  private readonly events: ProtocolEvent[] = [];
  private eventHead = 0;

  /** No more input is processed: a close frame arrived, the connection failed, or input ended. */
  private inputClosed = false;
  private closeSentFlag = false;
  /** The transport is gone (see {@link closed}). */
  private transportClosed = false;
  /** How the connection ends, as `onClose` reports it (RFC 6455 §7.1.5, §7.1.6). */
  private code: number = CloseCode.AbnormalClosure;
  private reason = "";
  /** Input waits in `held` while the adapter holds it (see {@link holdInput}). */
  private inputHeld = false;
  /** Input ended without a close frame (see {@link receiveEof}). */
  private eof = false;

  // The frame being received.
  private frameOpcode = 0;
  private frameFin = false;
  /** Payload of a control frame split across inputs (at most 125 bytes). */
  private control: Uint8Array | null = null;
  private controlFilled = 0;

  private readonly messages: MessageAssembler;

  /** A compressed message is out for inflation: input waits in `held`. */
  private inflating = false;
  private held: Uint8Array[] = [];

  constructor(options: ProtocolOptions) {
    this.messages = new MessageAssembler(options.maxPayload, options.maxFragments);
    this.parser = new FrameParser(this);
    this.outgoing = new Outgoing(options.pool);
    if (options.compression === true) this.parser.allowedRsv = 0x4;
  }

  /**
   * The one state machine of a connection: Open until a close frame is sent (by us, or in
   * reply to the peer's when its event is taken), the connection fails or input ends; Closing
   * until the transport is gone ({@link closed}); then Closed.
   */
  get readyState(): ReadyState {
    if (this.transportClosed) return ReadyState.Closed;
    // A close frame received, or a failure, counts once its event is taken (taking it queues our
    // close frame), so the replies to the messages before it still go out.
    return this.closeSentFlag || this.eof ? ReadyState.Closing : ReadyState.Open;
  }

  /**
   * The close code `onClose` reports (§7.1.5): the code of the peer's close frame (1005 when it
   * had none), the code we failed the connection with, or 1006 when the connection ended
   * without a close frame from the peer.
   */
  get closeCode(): number {
    return this.code;
  }

  /** The reason that goes with {@link closeCode}: the peer's, or the one we failed with. */
  get closeReason(): string {
    return this.reason;
  }

  /**
   * The peer ended its half of the transport (TCP FIN, END_STREAM): no more input. Without a
   * close frame first, the connection was closed abnormally (§7.1.5: 1006); the adapter then
   * ends its half once its bytes are out ({@link closeExpected} is true).
   */
  receiveEof(): void {
    if (this.inputClosed) return;
    this.inputClosed = true;
    this.parser.stop();
    this.held = [];
    this.messages.reset();
    this.eof = true;
  }

  /**
   * The transport is gone (closed by either side, reset, or cut): the state is Closed. Input
   * that arrived before, and waits in a hold, is still delivered when the hold ends.
   */
  closed(): void {
    this.transportClosed = true;
  }

  /**
   * Holds input: bytes received from now on wait, unparsed, until {@link releaseInput}. The one
   * input hold, used while `onConnect` runs (and, inside the core, while a message inflates).
   */
  holdInput(): void {
    this.inputHeld = true;
  }

  /** Ends the hold of {@link holdInput}: the bytes held meanwhile are parsed now, in order. */
  releaseInput(): void {
    if (!this.inputHeld) return;
    this.inputHeld = false;
    this.resumeInput();
  }

  /** Whether input is waiting (held, or behind an inflation): the adapter stops reading. */
  get inputPaused(): boolean {
    return this.inputHeld || this.inflating;
  }

  /** Whether a close frame has been queued (by us, as a reply, or on failure). */
  get closeSent(): boolean {
    return this.closeSentFlag;
  }

  /**
   * True once both close frames have crossed (or the connection failed and its close frame is
   * queued): after writing the outgoing bytes, the server closes the TCP connection (§7.1.1).
   */
  closeExpected(): boolean {
    return this.inputClosed && (this.closeSentFlag || this.eof);
  }

  /** Feeds received bytes. They are unmasked in place. */
  receive(data: Uint8Array): void {
    if (this.inputClosed) return;
    if (this.inputHeld || this.inflating || this.held.length !== 0) {
      this.held.push(data);
      return;
    }
    try {
      const used = this.parser.push(data);
      if (used < data.length) this.held.push(data.subarray(used));
    } catch (error) {
      this.caught(error);
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
    try {
      this.messages.inflated(piece);
      return true;
    } catch (error) {
      this.caught(error);
      return false;
    }
  }

  /**
   * Where the inflater writes the next output of the compressed message (see
   * `MessageAssembler.inflateSpace`): one buffer per message, grown toward its needs and never
   * past `maxPayload` + 1 bytes. Empty when no message is inflating (the inflater stops).
   */
  inflateSpace(): Uint8Array {
    if (!this.inflating || this.inputClosed) return EMPTY;
    try {
      return this.messages.inflateSpace();
    } catch (error) {
      this.caught(error);
      return EMPTY;
    }
  }

  /**
   * The inflater wrote `written` bytes at the start of the last {@link inflateSpace}. Counts them
   * against `maxPayload` (1009 as soon as output passes it) and checks text as it comes
   * (fail-fast); returns false when the connection failed, and the inflater stops.
   */
  inflatedInto(written: number): boolean {
    if (!this.inflating || this.inputClosed) return false;
    try {
      this.messages.inflatedInto(written);
      return true;
    } catch (error) {
      this.caught(error);
      return false;
    }
  }

  /** The inflated message is complete: report it and go on with the input held meanwhile. */
  inflatedEnd(): void {
    if (!this.inflating || this.inputClosed) return;
    try {
      this.events.push(this.messages.inflatedEnd());
    } catch (error) {
      this.caught(error);
      return;
    }
    this.inflating = false;
    this.parser.paused = false;
    this.resumeInput();
  }

  /**
   * The compressed data could not be inflated: fail with 1007. With `internal`, inflation failed
   * on our side (not the peer's data): fail with it, 1011.
   */
  inflateFailed(internal?: InternalError): void {
    if (this.inputClosed) return;
    this.fail(internal ?? new ProtocolError("ERR_INVALID_COMPRESSED_DATA", "invalid compressed data"));
  }

  private resumeInput(): void {
    try {
      while (this.held.length !== 0 && !this.inflating && !this.inputHeld && !this.inputClosed) {
        const chunk = this.held[0]!;
        const used = this.parser.push(chunk);
        if (used < chunk.length) this.held[0] = chunk.subarray(used);
        else this.held.shift();
      }
    } catch (error) {
      this.caught(error);
    }
  }

  /**
   * The one road from an exception in the core to a close code (STYLE.md 3): a `ProtocolError`
   * fails the connection with its code; anything else is a bug of ours and fails it with 1011
   * and no details (an {@link InternalError} with the original as `cause`). Only this
   * connection is failed, and nothing is rethrown: one peer's frame must not take down the
   * process and every other connection with it.
   */
  private caught(error: unknown): void {
    let known = false;
    try {
      known = error instanceof ProtocolError;
    } catch {
      // not ours to inspect: an internal error
    }
    try {
      this.fail(known ? (error as ProtocolError) : new InternalError(error));
    } catch {
      // Cleaning up a broken state failed; input is closed and the failure is queued already.
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
    else if (event.type === "fail") this.close(event.error.closeCode, event.reason);
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
   * Frames a message that was accepted earlier and waited (for its compression): its chunks are
   * returned to write in the adapter's order, not queued, and a close frame sent meanwhile does
   * not stop it (the close frame waits behind it). Also frames the fragments of a message sent
   * in pieces: `fin` false for all but the last, `opcode` Continuation after the first.
   */
  frameLater(opcode: number, payload: Uint8Array, rsv1: boolean, fin = true): Uint8Array[] {
    return this.outgoing.frameNow(opcode, payload, rsv1, fin);
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
   * taking that event queues a close frame with the error's code, unless one was sent. The
   * reason is a `ProtocolError`'s message; an `InternalError` sends none.
   */
  fail(error: ProtocolError | InternalError): void {
    if (this.inputClosed) return;
    this.inputClosed = true;
    this.inflating = false;
    this.held = [];
    const reason = error instanceof ProtocolError ? error.message : "";
    this.code = error.closeCode;
    this.reason = reason;
    this.events.push({ type: "fail", error, reason });
    this.parser.stop();
    this.messages.reset();
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
    this.messages.frame(opcode, rsv1, length);
  }

  /** @internal */
  onFramePayload(piece: Uint8Array, frameEnd: boolean): void {
    if (isControl(this.frameOpcode)) this.controlPiece(piece, frameEnd);
    else this.dataPiece(piece, frameEnd && this.frameFin);
  }

  private dataPiece(piece: Uint8Array, messageEnd: boolean): void {
    const message = this.messages.piece(piece, messageEnd);
    if (message === undefined) return;
    if (message.type === "compressed") {
      // The adapter inflates it; further input waits until it has.
      this.inflating = true;
      this.parser.paused = true;
    }
    this.events.push(message);
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
    const { code, reason } = decodeClosePayload(payload);
    this.inputClosed = true;
    this.parser.stop();
    this.messages.reset();
    this.code = code;
    this.reason = reason;
    // §5.5.1: "If an endpoint receives a Close frame and did not previously send a Close frame,
    // the endpoint MUST send a Close frame in response. (When sending a Close frame in
    // response, the endpoint typically echos the status code it received.)" The reply is queued
    // when this event is taken (see nextEvent).
    this.events.push({ type: "close", code, reason });
  }
}
