/**
 * A minimal RFC 6455 echo server written for the conformance suite's self-test, with a switch
 * per deliberate defect. Without defects it is strict (fail-fast UTF-8 included) and must come
 * out OK on every case; each defect must turn exactly the cases that detect it to FAILED (or
 * NON-STRICT for `noFailFast`). It is not the server under test.
 * @module
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Utf8Validator } from "./utf8.js";

/** Deliberate defects. */
export type Defect =
  /** Echo text without checking that it is UTF-8 (close reasons are still checked). */
  | "echoInvalidUtf8"
  /** Treat frames with RSV bits set as if the bits were clear. */
  | "ignoreRsv"
  /** Check UTF-8 only once a text message is complete (legal, but NON-STRICT for Autobahn). */
  | "noFailFast"
  /** Answer a close frame with any code (even 0 or 1005) by echoing it instead of failing. */
  | "acceptAnyCloseCode";

/** Options for {@link startRawEchoServer}. */
export interface RawEchoOptions {
  defects?: readonly Defect[];
  /** Largest message accepted. Default: 16 MiB. */
  maxPayload?: number;
}

/** A running echo server. */
export interface EchoTarget {
  /** `ws://127.0.0.1:PORT`. */
  url: string;
  close(): Promise<void>;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

class ProtocolFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

function serverFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(header + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = n;
  else if (n < 65536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(out, header);
  return out;
}

/** One connection's protocol state. */
class EchoConnection {
  private pending: Buffer = Buffer.alloc(0);
  private closed = false;
  // current frame
  private inPayload = false;
  private fin = false;
  private opcode = 0;
  private remaining = 0;
  private key = Buffer.alloc(4);
  private keyOffset = 0;
  private frameParts: Buffer[] = [];
  // current message
  private messageOpcode = 0;
  private messageParts: Buffer[] = [];
  private messageSize = 0;
  private utf8 = new Utf8Validator();

  constructor(
    private readonly socket: Socket,
    private readonly defects: ReadonlySet<Defect>,
    private readonly maxPayload: number,
  ) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", () => socket.destroy());
    socket.setTimeout(15_000, () => socket.destroy());
  }

  receive(chunk: Buffer): void {
    if (this.closed) return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    try {
      while (!this.closed && this.step()) {
        // keep parsing
      }
    } catch (e) {
      if (e instanceof ProtocolFailure) this.fail(e.code);
      else this.fail(1011);
    }
  }

  /** Parses as much as possible; false when more bytes are needed. */
  private step(): boolean {
    if (!this.inPayload) return this.readHeader();
    if (this.remaining > 0) {
      if (this.pending.length === 0) return false;
      const take = Math.min(this.remaining, this.pending.length);
      const piece = Buffer.from(this.pending.subarray(0, take));
      this.pending = this.pending.subarray(take);
      for (let i = 0; i < piece.length; i++) {
        piece[i] = (piece[i] ?? 0) ^ (this.key[(this.keyOffset + i) & 3] ?? 0);
      }
      this.keyOffset = (this.keyOffset + take) & 3;
      this.remaining -= take;
      this.onPayload(piece);
    }
    if (this.remaining === 0) {
      this.inPayload = false;
      this.endFrame();
    }
    return true;
  }

  private readHeader(): boolean {
    const p = this.pending;
    if (p.length < 2) return false;
    const b0 = p[0] ?? 0;
    const b1 = p[1] ?? 0;
    const len7 = b1 & 0x7f;
    const headerLength = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
    if (p.length < headerLength) return false;

    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 7;
    const opcode = b0 & 0xf;
    // RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated".
    if (rsv !== 0 && !this.defects.has("ignoreRsv")) throw new ProtocolFailure(1002, "RSV bits set");
    if (![0, 1, 2, 8, 9, 10].includes(opcode)) throw new ProtocolFailure(1002, "reserved opcode");
    // RFC 6455 §5.1: "a server MUST close the connection upon receiving a frame that is not masked".
    if ((b1 & 0x80) === 0) throw new ProtocolFailure(1002, "unmasked frame");
    let length = len7;
    if (len7 === 126) length = p.readUInt16BE(2);
    else if (len7 === 127) {
      const big = p.readBigUInt64BE(2);
      if (big >> 63n !== 0n) throw new ProtocolFailure(1002, "64-bit length with the top bit set");
      if (big > BigInt(this.maxPayload)) throw new ProtocolFailure(1009, "too big");
      length = Number(big);
    }
    if (opcode >= 8) {
      if (!fin) throw new ProtocolFailure(1002, "fragmented control frame");
      if (length > 125) throw new ProtocolFailure(1002, "control frame too long");
    } else if (opcode === 0) {
      if (this.messageOpcode === 0) throw new ProtocolFailure(1002, "nothing to continue");
    } else {
      if (this.messageOpcode !== 0) throw new ProtocolFailure(1002, "new message inside a fragmented one");
      this.messageOpcode = opcode;
      this.messageParts = [];
      this.messageSize = 0;
      this.utf8 = new Utf8Validator();
    }
    if (opcode < 8) {
      this.messageSize += length;
      if (this.messageSize > this.maxPayload) throw new ProtocolFailure(1009, "message too big");
    }
    this.fin = fin;
    this.opcode = opcode;
    this.remaining = length;
    this.key = Buffer.from(p.subarray(headerLength - 4, headerLength));
    this.keyOffset = 0;
    this.frameParts = [];
    this.pending = p.subarray(headerLength);
    this.inPayload = true;
    return true;
  }

  private onPayload(piece: Buffer): void {
    if (this.opcode >= 8) {
      this.frameParts.push(piece);
      return;
    }
    this.messageParts.push(piece);
    const failFast = !this.defects.has("noFailFast") && !this.defects.has("echoInvalidUtf8");
    if (this.messageOpcode === 1 && failFast && !this.utf8.push(piece)) {
      throw new ProtocolFailure(1007, "invalid UTF-8");
    }
  }

  private endFrame(): void {
    const payload = Buffer.concat(this.frameParts);
    switch (this.opcode) {
      case 9:
        this.socket.write(serverFrame(10, payload));
        return;
      case 10:
        return;
      case 8:
        this.onClose(payload);
        return;
    }
    if (!this.fin) return;
    const message = Buffer.concat(this.messageParts);
    const opcode = this.messageOpcode;
    this.messageOpcode = 0;
    this.messageParts = [];
    if (opcode === 1 && !this.defects.has("echoInvalidUtf8")) {
      if (this.defects.has("noFailFast")) {
        const v = new Utf8Validator();
        if (!v.push(message) || !v.complete) throw new ProtocolFailure(1007, "invalid UTF-8");
      } else if (!this.utf8.complete) throw new ProtocolFailure(1007, "truncated UTF-8");
    }
    this.socket.write(serverFrame(opcode, message));
  }

  private onClose(payload: Buffer): void {
    if (payload.length === 1) throw new ProtocolFailure(1002, "1-byte close payload");
    if (payload.length >= 2) {
      const code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code) && !this.defects.has("acceptAnyCloseCode")) {
        throw new ProtocolFailure(1002, "invalid close code");
      }
      const v = new Utf8Validator();
      if (!v.push(payload.subarray(2)) || !v.complete)
        throw new ProtocolFailure(1007, "invalid close reason");
    }
    // RFC 6455 §5.5.1: answer with a close frame (echoing the code), then close TCP.
    this.closed = true;
    this.socket.end(serverFrame(8, payload.subarray(0, 2)));
  }

  private fail(code: number): void {
    if (this.closed) return;
    this.closed = true;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code, 0);
    this.socket.end(serverFrame(8, payload));
  }
}

/** Starts the raw echo server on 127.0.0.1 and an ephemeral port. */
export async function startRawEchoServer(options: RawEchoOptions = {}): Promise<EchoTarget> {
  const defects = new Set(options.defects ?? []);
  const maxPayload = options.maxPayload ?? 16 * 1024 * 1024;
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => {
    res.writeHead(426, { Upgrade: "websocket" }).end();
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const key = req.headers["sec-websocket-key"];
    if (
      req.method !== "GET" ||
      req.headers.upgrade?.toLowerCase() !== "websocket" ||
      typeof key !== "string" ||
      req.headers["sec-websocket-version"] !== "13"
    ) {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      return;
    }
    const accept = createHash("sha1")
      .update(key + GUID)
      .digest("base64");
    socket.setNoDelay(true);
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const connection = new EchoConnection(socket, defects, maxPayload);
    if (head.length > 0) connection.receive(head);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
