/**
 * A permessage-deflate zip bomb, undercurrent and `ws` side by side: 1 GiB of zeros deflated
 * (about 1 MiB), sent as one binary message to a server with `maxPayload` at each limit; and the
 * largest message the limit allows (limit − 1 MiB of zeros, compressed), which must be delivered.
 * Each server runs in its own process and answers a message with its length. Reported per server
 * and limit: the time from sending the frame to the server's answer (the 1009 close frame, or
 * the length), and the server's peak RSS growth (Linux: VmHWM from /proc, reset through
 * clear_refs after a warm-up, so nothing is missed between samples).
 *
 * `node --import tsx bench/zip-bomb.ts [--runs 5] [--limits 16,64] [--undercurrent path/to/index.ts]`
 * (`--undercurrent` measures another checkout, e.g. the code before a change.)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { constants, deflateRawSync } from "node:zlib";

const MiB = 1024 * 1024;

/** The server side: answers each message with its length; prints its port, then serves until killed. */
async function serveChild(kind: string, maxPayload: number, undercurrent: string): Promise<void> {
  if (kind === "ws") {
    const { WebSocketServer } = await import("ws");
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true, maxPayload });
    wss.on("connection", (socket) => {
      socket.on("message", (data) => socket.send(String((data as Buffer).length)));
      socket.on("error", () => {});
    });
    await new Promise((resolve) => wss.once("listening", resolve));
    console.log((wss.address() as { port: number }).port);
  } else {
    const { handshake, serve } = (await import(
      pathToFileURL(undercurrent).href
    )) as typeof import("../src/index.js");
    const server = await serve(
      handshake(
        {
          onMessage({ channel, text, data }) {
            void channel.sendText(String(text?.length ?? data!.length));
          },
        },
        { compression: true, maxPayload },
      ),
      { port: 0, host: "127.0.0.1" },
    );
    console.log(new URL(server.url).port);
  }
}

/** `size` bytes of zeros, deflated with a sync flush and the trailer removed (RFC 7692 §7.2.1). */
function zeros(size: number): Buffer {
  const out = deflateRawSync(Buffer.alloc(size), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

function frame(opcode: number, payload: Buffer, rsv1: boolean): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (length < 126) header[1] = 0x80 | length;
  else if (length < 65536) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) masked[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([header, mask, masked]);
}

/** A raw client that offers permessage-deflate and reads what the server sends, as frames. */
class Client {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiting?.();
    });
    socket.on("close", () => this.waiting?.());
    socket.on("error", () => {});
  }

  static async open(port: number): Promise<Client> {
    const socket = connect(port, "127.0.0.1");
    await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const client = new Client(socket);
    socket.write(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n` +
        "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    );
    const head = await client.until(() => {
      const end = client.buffered.indexOf("\r\n\r\n");
      return end < 0 ? undefined : end + 4;
    });
    const response = client.buffered.subarray(0, head).toString();
    if (!/^HTTP\/1\.1 101/.test(response) || !/permessage-deflate/i.test(response)) {
      throw new Error(`no permessage-deflate: ${response}`);
    }
    client.buffered = client.buffered.subarray(head);
    return client;
  }

  /** Waits until `ready` returns a value (checked on every arrival). */
  private async until<T>(ready: () => T | undefined): Promise<T> {
    for (;;) {
      const value = ready();
      if (value !== undefined) return value;
      if (this.socket.destroyed) throw new Error("connection closed");
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  /** The next frame's opcode and payload (server frames are unmasked). */
  nextFrame(): Promise<{ opcode: number; payload: Buffer }> {
    return this.until(() => {
      const b = this.buffered;
      if (b.length < 2) return undefined;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return undefined;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return undefined;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return undefined;
      this.buffered = b.subarray(offset + length);
      return { opcode: b[0]! & 0x0f, payload: b.subarray(offset, offset + length) };
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}

function kib(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

async function start(
  kind: string,
  maxPayload: number,
  undercurrent: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", new URL(import.meta.url).pathname, "--serve", kind, String(maxPayload), undercurrent],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once("exit", () => reject(new Error(`${kind} server exited`)));
  });
  return { child, port };
}

async function once(
  kind: string,
  maxPayload: number,
  payload: Buffer,
  undercurrent: string,
): Promise<{ ms: number; grownMiB: number; code: number }> {
  const { child, port } = await start(kind, maxPayload, undercurrent);
  try {
    // Warm up: a compressed echo, so zlib and the code paths are loaded before the baseline.
    const warm = await Client.open(port);
    const hello = deflateRawSync(Buffer.from("hello ".repeat(1000)), { finishFlush: constants.Z_SYNC_FLUSH });
    warm.send(frame(0x2, hello.subarray(0, hello.length - 4), true));
    await warm.nextFrame();
    warm.close();
    const client = await Client.open(port);
    const framed = frame(0x2, payload, true);
    const pid = child.pid!;
    const before = kib(pid, "VmRSS");
    writeFileSync(`/proc/${pid}/clear_refs`, "5"); // resets VmHWM to the current RSS
    const t0 = performance.now();
    client.send(framed);
    const reply = await client.nextFrame();
    const ms = performance.now() - t0;
    const peak = kib(pid, "VmHWM");
    client.close();
    return {
      ms,
      grownMiB: (peak - before) / 1024,
      code: reply.opcode === 0x8 ? reply.payload.readUInt16BE(0) : -reply.opcode,
    };
  } finally {
    child.kill();
    await new Promise((resolve) => child.once("exit", resolve));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "5" },
      limits: { type: "string", default: "16,64" },
      undercurrent: { type: "string", default: new URL("../src/index.ts", import.meta.url).pathname },
    },
  });
  const runs = Number(values.runs);
  const bomb = zeros(1024 * MiB);
  console.log(`bomb: 1 GiB of zeros in ${(bomb.length / MiB).toFixed(2)} MiB; ${runs} runs each, medians`);
  console.log("| maxPayload | message | server | answer | time to answer | peak RSS growth | goal |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const limit of values.limits.split(",").map(Number)) {
    const cases: Array<[string, Buffer]> = [
      ["bomb (1 GiB)", bomb],
      [`largest allowed (${limit - 1} MiB)`, zeros((limit - 1) * MiB)],
    ];
    for (const [what, payload] of cases) {
      type Row = { ms: number; grownMiB: number; code: number };
      const results: Record<string, Row[]> = { undercurrent: [], ws: [] };
      for (let i = 0; i < runs; i++) {
        for (const kind of ["undercurrent", "ws"]) {
          results[kind]!.push(await once(kind, limit * MiB, payload, values.undercurrent));
        }
      }
      const ms: Record<string, number> = {};
      for (const kind of ["undercurrent", "ws"]) {
        const rows = results[kind]!;
        const answers = [...new Set(rows.map((row) => (row.code > 0 ? `close ${row.code}` : "length")))];
        ms[kind] = median(rows.map((row) => row.ms));
        const grown = median(rows.map((row) => row.grownMiB));
        const worst = Math.max(...rows.map((row) => row.grownMiB));
        console.log(
          `| ${limit} MiB | ${what} | ${kind} | ${answers.join("/")} | ${ms[kind]!.toFixed(0)} ms ` +
            `| ${grown.toFixed(1)} MiB (max ${worst.toFixed(1)}) | ≤ ${(1.1 * limit + 4).toFixed(1)} MiB |`,
        );
      }
      console.log(
        `| ${limit} MiB | ${what} | undercurrent / ws | | ${(ms.undercurrent! / ms.ws!).toFixed(2)} | | |`,
      );
    }
  }
}

if (process.argv[2] === "--serve") {
  await serveChild(process.argv[3]!, Number(process.argv[4]), process.argv[5]!);
} else {
  await main();
}
