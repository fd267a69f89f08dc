/**
 * A `net.Socket` after an HTTP/1.1 upgrade, as the core's {@link ByteStream}. Its listeners are
 * module-level functions that find the stream through a symbol on the socket, so a connection
 * costs no closures.
 * @module
 */

import type { Socket } from "node:net";
import type { ByteSink, ByteStream, Done } from "../../core/ports.js";

const kStream = Symbol("undercurrent.stream");
type OwnedSocket = Socket & { [kStream]?: SocketStream };

const noop = (): void => {};

/** An upgraded socket; `head` holds the bytes that came with the upgrade request. */
export class SocketStream implements ByteStream {
  readonly socket: Socket;
  private head: Uint8Array | undefined;
  /** @internal */
  sink: ByteSink | undefined = undefined;

  constructor(socket: Socket, head: Uint8Array) {
    this.socket = socket;
    this.head = head.length === 0 ? undefined : head;
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  start(sink: ByteSink): void {
    this.sink = sink;
    const socket = this.socket as OwnedSocket;
    socket[kStream] = this;
    socket.setNoDelay(true);
    socket.setTimeout(0);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onClose);
    socket.on("drain", onDrain);
    socket.on("error", noop);
    const head = this.head;
    this.head = undefined;
    if (head !== undefined) sink.data(head);
  }

  write(chunks: readonly Uint8Array[], done?: Done): void {
    const socket = this.socket;
    const last = chunks.length - 1;
    if (last > 0) socket.cork();
    for (let i = 0; i < last; i++) socket.write(chunks[i]!);
    socket.write(chunks[last]!, done);
    if (last > 0) socket.uncork();
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  end(): void {
    this.socket.end();
  }

  abort(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

function onData(this: OwnedSocket, chunk: Buffer): void {
  this[kStream]!.sink!.data(chunk);
}

function onEnd(this: OwnedSocket): void {
  this[kStream]!.sink!.end();
}

function onClose(this: OwnedSocket): void {
  this[kStream]!.sink!.closed();
}

function onDrain(this: OwnedSocket): void {
  this[kStream]!.sink!.drain();
}
