/**
 * permessage-deflate against a real peer: the `ws` client, with `perMessageDeflate` on and with
 * each of its options, talks to an undercurrent server with `compression: true`. Messages of
 * 0 B to 4 MiB go both ways and come back exact; compressible ones travel compressed (the
 * server's socket counts fewer bytes than the payloads); compressed and uncompressed messages
 * (below `threshold`) interleave and keep their order in both directions. A per-send
 * `{ compress }` overrides the threshold, which the raw client sees on the wire as RSV1 or not.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { WebSocket, type PerMessageDeflateOptions, type RawData } from "ws";
import { handshake, serve, type Server } from "../../src/index.js";
import { Opcode, RawClient } from "../helpers/raw-client.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const WAIT = 15_000;
const TEST = { timeout: 60_000 };

/** Rejects after `ms` with `what` in the message. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function toBuffer(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.from(raw);
}

/** Compressible ASCII text of exactly `length` bytes (varied, so not trivially repetitive). */
function textOf(length: number, seed = 0): string {
  const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"];
  const parts: string[] = [];
  let size = 0;
  for (let i = seed; size < length; i++) {
    const word = `${words[(i * 7) % words.length] ?? ""}${i % 97} `;
    parts.push(word);
    size += word.length;
  }
  return parts.join("").slice(0, length);
}

/** What the server saw on one connection. */
interface Seen {
  extensions: string;
  messages: Array<{ binary: boolean; payload: Buffer }>;
}

/**
 * The server: echoes everything, except the text commands `burst:<n>` (send n messages,
 * alternating below and above the threshold) and `modes` (one message per `compress` mode).
 */
let server: Server;
const seen = new Map<string, Seen>();
const sockets: Socket[] = [];

/** The burst the server sends: message i is small (uncompressed) or large (compressed). */
const burstMessage = (i: number): string => (i % 3 === 1 ? `#${i} ${textOf(32 * KiB, i)}` : `#${i}`);
const MODE_TEXT = textOf(4 * KiB);

before(async () => {
  server = await serve(
    handshake<string>(
      {
        onConnect({ channel }) {
          seen.set(channel.data ?? "", { extensions: channel.extensions, messages: [] });
        },
        onMessage({ channel, text, data }) {
          if (text !== undefined && text.startsWith("burst:")) {
            for (let i = 0; i < Number(text.slice(6)); i++) void channel.sendText(burstMessage(i));
          } else if (text === "modes") {
            void channel.sendText(MODE_TEXT, { compress: false });
            void channel.sendText(MODE_TEXT, { compress: true });
            void channel.sendText(MODE_TEXT);
            void channel.sendText("tiny", { compress: true });
            void channel.sendText("tiny");
            void channel.sendBinary(Buffer.from(MODE_TEXT), { compress: false });
            void channel.sendText(textOf(1023));
            void channel.sendText(textOf(1024));
          } else if (text !== undefined) {
            seen.get(channel.data ?? "")?.messages.push({ binary: false, payload: Buffer.from(text) });
            void channel.sendText(text);
          } else if (data !== undefined) {
            seen.get(channel.data ?? "")?.messages.push({ binary: true, payload: data });
            void channel.sendBinary(data);
          }
        },
      },
      {
        compression: true,
        maxPayload: 16 * MiB,
        onUpgrade: ({ url }) => ({ data: url.searchParams.get("id") ?? "" }),
      },
    ),
    { port: 0, host: "127.0.0.1" },
  );
  server.http.on("connection", (socket: Socket) => sockets.push(socket));
});

after(() => server.close());

/** Connection ids (`?id=`), under which the server records what it received. */
let nextId = 0;

/** A `ws` client with a message queue. */
class Peer {
  readonly #queue: Array<{ binary: boolean; payload: Buffer }> = [];
  readonly #waiters: Array<(m: { binary: boolean; payload: Buffer }) => void> = [];
  readonly closed: Promise<number>;
  /** The `Sec-WebSocket-Extensions` answer (`ws.extensions` only lists the names). */
  answer = "";

  private constructor(
    readonly ws: WebSocket,
    readonly id: string,
  ) {
    ws.once("upgrade", (response) => {
      const value = response.headers["sec-websocket-extensions"];
      this.answer = Array.isArray(value) ? value.join(", ") : (value ?? "");
    });
    ws.on("message", (raw: RawData, binary: boolean) => {
      const m = { binary, payload: toBuffer(raw) };
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter(m);
      else this.#queue.push(m);
    });
    ws.on("error", () => undefined);
    this.closed = new Promise((resolve) => ws.on("close", (code: number) => resolve(code)));
  }

  static async open(deflate: boolean | PerMessageDeflateOptions): Promise<Peer> {
    const id = `c${nextId++}`;
    const ws = new WebSocket(`${server.url}/?id=${id}`, { perMessageDeflate: deflate, maxPayload: 16 * MiB });
    const peer = new Peer(ws, id);
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      }),
      WAIT,
      "ws open",
    );
    return peer;
  }

  next(): Promise<{ binary: boolean; payload: Buffer }> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return within(new Promise((resolve) => this.#waiters.push(resolve)), WAIT, `next message on ${this.id}`);
  }

  /** The server-side socket of this connection (matched by the client's local port). */
  serverSocket(): Socket {
    const local = (this.ws as unknown as { _socket: Socket })._socket.localPort;
    const socket = sockets.find((s) => s.remotePort === local);
    assert.ok(socket !== undefined, "server socket not found");
    return socket;
  }

  async close(): Promise<void> {
    this.ws.close(1000);
    assert.equal(await within(this.closed, WAIT, "ws close"), 1000);
  }
}

/** The ws option variants, and what the agreed extension must then say. */
const VARIANTS: ReadonlyArray<{ name: string; options: true | PerMessageDeflateOptions; expect: RegExp[] }> =
  [
    { name: "perMessageDeflate: true", options: true, expect: [/^permessage-deflate/] },
    {
      name: "serverNoContextTakeover",
      options: { serverNoContextTakeover: true },
      expect: [/server_no_context_takeover/],
    },
    {
      name: "clientNoContextTakeover",
      options: { clientNoContextTakeover: true },
      expect: [/client_no_context_takeover/],
    },
    {
      name: "serverMaxWindowBits: 10",
      options: { serverMaxWindowBits: 10 },
      expect: [/server_max_window_bits=10/],
    },
    {
      name: "clientMaxWindowBits: 9",
      options: { clientMaxWindowBits: 9 },
      expect: [/client_max_window_bits=9/],
    },
    {
      name: "all four",
      options: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 9,
      },
      expect: [
        /server_no_context_takeover/,
        /client_no_context_takeover/,
        /server_max_window_bits=9/,
        /client_max_window_bits=9/,
      ],
    },
  ];

const SIZES = [0, 1, 125, 1023, 1024, 65535, 65536, 256 * KiB, MiB, 4 * MiB];

for (const variant of VARIANTS) {
  describe(`ws client, ${variant.name}`, () => {
    test("the server agrees to permessage-deflate with the parameters asked for", TEST, async () => {
      const peer = await Peer.open(variant.options);
      assert.equal(peer.ws.extensions, "permessage-deflate");
      assert.match(peer.answer, /^permessage-deflate/);
      for (const pattern of variant.expect) assert.match(peer.answer, pattern);
      assert.equal(seen.get(peer.id)?.extensions, peer.answer);
      await peer.close();
    });

    test("text and binary of 0 B to 4 MiB round-trip exactly, both directions", TEST, async () => {
      const peer = await Peer.open(variant.options);
      const sent: Array<{ binary: boolean; payload: Buffer }> = [];
      for (const size of SIZES) {
        for (const binary of [false, true]) {
          // Binary messages alternate compressible and random content.
          const payload =
            binary && size % 2 === 1 ? randomBytes(size) : Buffer.from(textOf(size, size + (binary ? 1 : 0)));
          sent.push({ binary, payload });
          peer.ws.send(binary ? payload : payload.toString("utf8"), { binary });
          const back = await peer.next();
          assert.equal(back.binary, binary, `${size} B`);
          assert.equal(back.payload.length, size, `${size} B ${binary ? "binary" : "text"}`);
          assert.ok(back.payload.equals(payload), `${size} B ${binary ? "binary" : "text"} echo differs`);
        }
      }
      // The server received exactly what was sent, in order.
      const received = seen.get(peer.id)?.messages ?? [];
      assert.equal(received.length, sent.length);
      for (const [i, m] of sent.entries()) {
        assert.equal(received[i]?.binary, m.binary, `message ${i}`);
        assert.ok(received[i]?.payload.equals(m.payload), `message ${i}: the server received other bytes`);
      }
      await peer.close();
    });

    test("compressible messages travel compressed both ways", TEST, async () => {
      const peer = await Peer.open(variant.options);
      const socket = peer.serverSocket();
      const read = socket.bytesRead;
      const written = socket.bytesWritten;
      // Repeats within any window (even 512 bytes), so it compresses whatever was agreed.
      const text = "permessage-deflate, RFC 7692. ".repeat(MiB / 32).padEnd(MiB, "!");
      peer.ws.send(text);
      const back = await peer.next();
      assert.ok(back.payload.toString("utf8") === text, "echo differs");
      const inbound = socket.bytesRead - read;
      const outbound = socket.bytesWritten - written;
      assert.ok(inbound < MiB / 4, `client → server: ${inbound} B on the wire for 1 MiB`);
      assert.ok(outbound < MiB / 4, `server → client: ${outbound} B on the wire for 1 MiB`);
      await peer.close();
    });
  });
}

describe("order with compressed and uncompressed messages interleaved", () => {
  test(
    "server → client: a burst alternating below and above the threshold arrives in order",
    TEST,
    async () => {
      // It starts with a message under the threshold, sent while the next one is being compressed.
      const peer = await Peer.open(true);
      const count = 300;
      peer.ws.send(`burst:${count}`);
      for (let i = 0; i < count; i++) {
        const m = await peer.next();
        const text = m.payload.toString("utf8");
        assert.ok(text === burstMessage(i), `message ${i}: got ${text.slice(0, 20)}…`);
      }
      await peer.close();
    },
  );

  test("client → server → client: interleaved sends are received and echoed in order", TEST, async () => {
    const peer = await Peer.open({ threshold: 1024 });
    const messages = Array.from({ length: 300 }, (_, i) =>
      i % 4 === 0 ? `${i}:${textOf(20 * KiB, i)}` : i % 4 === 1 ? Buffer.from(`${i}`) : `${i}`,
    );
    for (const m of messages) peer.ws.send(m, { binary: typeof m !== "string" });
    for (const [i, m] of messages.entries()) {
      const back = await peer.next();
      assert.equal(back.binary, typeof m !== "string", `message ${i}`);
      assert.ok(back.payload.equals(Buffer.from(m)), `message ${i} out of order or wrong`);
    }
    await peer.close();
  });
});

describe("per-send compress option, seen on the wire", () => {
  test(
    "{ compress: false } goes without RSV1, { compress: true } and the threshold with it",
    TEST,
    async () => {
      const client = await RawClient.connect(`${server.url}/?id=raw`, { extensions: "permessage-deflate" });
      try {
        assert.equal(client.extensionError, undefined);
        assert.ok(client.deflate !== undefined, "permessage-deflate agreed");
        await client.sendMessage(Opcode.Text, "modes");
        const expected = [
          { what: "text, compress: false", rsv: 0, binary: false, payload: MODE_TEXT },
          { what: "text, compress: true", rsv: 4, binary: false, payload: MODE_TEXT },
          { what: "text 4 KiB, default (over the threshold)", rsv: 4, binary: false, payload: MODE_TEXT },
          { what: "tiny text, compress: true", rsv: 4, binary: false, payload: "tiny" },
          { what: "tiny text, default (under the threshold)", rsv: 0, binary: false, payload: "tiny" },
          { what: "binary, compress: false", rsv: 0, binary: true, payload: MODE_TEXT },
          { what: "1023 B text, default", rsv: 0, binary: false, payload: textOf(1023) },
          { what: "1024 B text, default", rsv: 4, binary: false, payload: textOf(1024) },
        ];
        for (const e of expected) {
          const frame = await client.nextFrame(WAIT);
          assert.equal(frame.opcode, e.binary ? Opcode.Binary : Opcode.Text, e.what);
          assert.equal(frame.fin, true, e.what);
          assert.equal(frame.rsv, e.rsv, e.what);
          const payload = e.rsv === 4 ? frame.inflated : frame.payload;
          assert.ok(payload?.equals(Buffer.from(e.payload)), `${e.what}: payload differs`);
          if (e.rsv === 4 && e.payload.length > 100)
            assert.ok(frame.payload.length < e.payload.length, e.what);
        }
        assert.deepEqual(client.violations, []);
        await client.sendClose({ code: 1000 });
        await client.closed(WAIT);
      } finally {
        client.destroy();
      }
    },
  );

  test("without an offer nothing is compressed, whatever the send asks", TEST, async () => {
    const client = await RawClient.connect(`${server.url}/?id=raw-plain`);
    try {
      assert.equal(client.response.headers["sec-websocket-extensions"], undefined);
      await client.sendMessage(Opcode.Text, "modes");
      for (let i = 0; i < 8; i++) assert.equal((await client.nextFrame(WAIT)).rsv, 0, `message ${i}`);
      assert.deepEqual(client.violations, []);
      await client.sendClose({ code: 1000 });
      await client.closed(WAIT);
    } finally {
      client.destroy();
    }
  });
});
