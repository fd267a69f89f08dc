/**
 * Fuzzing a live server: each stream goes over its own TCP connection after a valid handshake.
 * The server must answer with a well-formed close frame carrying a valid code (or keep the
 * connection working), never crash, and keep serving a bystander connection.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { once } from "node:events";
import { WebSocket } from "ws";
import { handshake, serve, type Server } from "../../src/index.js";
import { Opcode } from "../../src/protocol/opcodes.js";
import { isValidReceivedCloseCode } from "../../src/protocol/close-codes.js";
import { decodeServerFrames, UPGRADE } from "../helpers/frames.js";

/** A fuzzing target: an echo server plus a bystander client that must keep working. */
export class LiveTarget {
  private constructor(
    readonly server: Server,
    private readonly bystander: WebSocket,
  ) {}

  static async start(): Promise<LiveTarget> {
    const handler = handshake(
      {
        onMessage({ channel, text, data }) {
          if (text !== undefined) void channel.sendText(text);
          else void channel.sendBinary(data);
        },
      },
      { maxPayload: 4096, maxFragments: 64, closeTimeout: 500 },
    );
    const server = await serve(handler, { port: 0 });
    const bystander = new WebSocket(server.url);
    await once(bystander, "open");
    return new LiveTarget(server, bystander);
  }

  /** Sends one stream in pieces and checks the server's answer. */
  async check(pieces: readonly Uint8Array[]): Promise<void> {
    const socket = connect(this.server.port, "127.0.0.1");
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("error", () => {});
    socket.on("end", () => socket.end());
    await once(socket, "connect");
    socket.write(UPGRADE);
    for (const piece of pieces) socket.write(piece);
    // Let the server answer: it closes TCP after a failure, or stays quiet.
    await Promise.race([once(socket, "close"), new Promise((resolve) => setTimeout(resolve, 150))]);
    socket.destroy();
    const all = Buffer.concat(received);
    const head = all.indexOf("\r\n\r\n");
    assert.ok(head !== -1 && all.subarray(0, 12).toString() === "HTTP/1.1 101", "handshake answered");
    // Frames may be cut off by our destroy(); check the complete ones.
    const frames = decodeComplete(all.subarray(head + 4));
    const close = frames.find((f) => f.opcode === Opcode.Close);
    if (close !== undefined && close.payload.length > 0) {
      assert.ok(close.payload.length >= 2, "a close payload holds a code");
      const code = (close.payload[0]! << 8) | close.payload[1]!;
      assert.ok(isValidReceivedCloseCode(code), `valid close code, got ${code}`);
    }
    for (const f of frames) assert.equal(f.rsv, 0, "no RSV bits from the server");
    await this.bystanderEchoes();
  }

  private async bystanderEchoes(): Promise<void> {
    const token = `alive ${Math.random()}`;
    const echoed = new Promise<string>((resolve) =>
      this.bystander.once("message", (d) => resolve(String(d))),
    );
    this.bystander.send(token);
    const reply = await Promise.race([
      echoed,
      new Promise<string>((resolve) => setTimeout(() => resolve(""), 3000)),
    ]);
    assert.equal(reply, token, "the bystander connection is still served");
  }

  async stop(): Promise<void> {
    this.bystander.close();
    await this.server.close();
  }
}

function decodeComplete(bytes: Uint8Array): ReturnType<typeof decodeServerFrames> {
  for (let end = bytes.length; end >= 0; end--) {
    try {
      return decodeServerFrames(bytes.subarray(0, end));
    } catch {
      // a frame cut short at the end: try a shorter prefix
    }
  }
  return [];
}
