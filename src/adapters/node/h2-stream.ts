/**
 * An HTTP/2 stream after an extended CONNECT (RFC 8441), as the core's {@link ByteStream}: DATA
 * frames carry the WebSocket's bytes both ways. Ending is END_STREAM, aborting is RST_STREAM
 * CANCEL, and HTTP/2 flow control is the backpressure: a stream paused here stops acknowledging
 * its DATA, so the peer's stream window closes (Node acknowledges the connection window at once,
 * so other streams of the session keep flowing), and what the peer does not read stays in the
 * stream's write buffer (`writableLength`). Listeners are module-level functions that find the
 * transport through a symbol on the stream: a connection costs no closures.
 * @module
 */

import { constants, type ServerHttp2Stream } from "node:http2";
import type { ByteSink, ByteStream, Done } from "../../core/ports.js";

const kTransport = Symbol("undercurrent.h2-transport");
type OwnedStream = ServerHttp2Stream & { [kTransport]?: Http2StreamTransport };

const noop = (): void => {};

/** A server HTTP/2 stream that answered an extended CONNECT with `:status 200`. */
export class Http2StreamTransport implements ByteStream {
  readonly stream: ServerHttp2Stream;
  /** From the session's socket, read once: a stream outlives its session's socket object. */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** @internal */
  sink: ByteSink | undefined = undefined;
  /** @internal A set this stream's owner is in while the stream is open (its HTTP/2 session's). */
  registry: Set<unknown> | undefined = undefined;
  /** @internal What is in {@link registry}. */
  member: unknown = undefined;

  constructor(stream: ServerHttp2Stream) {
    this.stream = stream;
    const socket = stream.session?.socket;
    this.remoteAddress = socket?.remoteAddress;
    this.remotePort = socket?.remotePort;
  }

  get bufferedAmount(): number {
    return this.stream.writableLength;
  }

  get needsDrain(): boolean {
    return this.stream.writableNeedDrain;
  }

  get destroyed(): boolean {
    return this.stream.destroyed;
  }

  start(sink: ByteSink): void {
    this.sink = sink;
    const stream = this.stream as OwnedStream;
    stream[kTransport] = this;
    stream.setTimeout(0);
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("close", onClose);
    stream.on("drain", onDrain);
    // A peer's RST_STREAM with an error code, or a session error, is reported as an 'error'
    // before 'close': the close is what counts (1006).
    stream.on("error", noop);
  }

  write(chunks: readonly Uint8Array[], done?: Done): void {
    const stream = this.stream;
    const last = chunks.length - 1;
    if (last > 0) stream.cork();
    for (let i = 0; i < last; i++) stream.write(chunks[i]!);
    stream.write(chunks[last]!, done);
    if (last > 0) stream.uncork();
  }

  cork(): void {
    this.stream.cork();
  }

  uncork(): void {
    this.stream.uncork();
  }

  /** END_STREAM once everything written is out: our half of the stream is closed. */
  end(): void {
    this.stream.end();
  }

  /** RST_STREAM CANCEL (RFC 9113 §7: "Used by the endpoint to indicate that the stream is no longer needed"). */
  abort(): void {
    if (!this.stream.destroyed) this.stream.close(constants.NGHTTP2_CANCEL);
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }
}

function onData(this: OwnedStream, chunk: Buffer): void {
  this[kTransport]!.sink!.data(chunk);
}

function onEnd(this: OwnedStream): void {
  this[kTransport]!.sink!.end();
}

function onClose(this: OwnedStream): void {
  const transport = this[kTransport]!;
  transport.registry?.delete(transport.member);
  transport.sink!.closed();
}

function onDrain(this: OwnedStream): void {
  this[kTransport]!.sink!.drain();
}
