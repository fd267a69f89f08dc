/**
 * The behaviour every transport must show (DESIGN.md §2: one behaviour suite, every transport),
 * run unchanged against each, with every client that can reach it, the way
 * `test/pubsub/broker-suite.ts` runs one contract against every broker.
 *
 * ## How a transport joins
 *
 * 1. Implement {@link TransportUnderTest}: a `name`, a `start(definition)` that serves the given
 *    callbacks and options on a fresh server (127.0.0.1, a free port) and resolves with a
 *    {@link ServerUnderTest} — its `ws://` (or `wss://`) URL, the handler's open channels, the
 *    handler's `close()` and a `stop()` for the whole server — and the `clients` that can reach
 *    it (the Node clients of `./clients.ts`; later a browser or a Python client, each a
 *    {@link ClientUnderTest} that declares what it can do in its `can`).
 * 2. Add one file, `test/transports/<transport>.test.ts`, that builds it and calls
 *    `behaviourSuite(transport)`, as `node-http1.test.ts` does for the HTTP/1.1 upgrade on Node.
 *
 * This module imports nothing from `src/adapters/` or an entry point: the server is the
 * transport file's business. Every test runs once per listed client; a test that needs what a
 * client cannot do (send fragments, send raw text bytes, cut the connection, close with a code
 * a browser may not send, compress) is left out for that client: CI runs no skipped test.
 *
 * What it covers, per client: echo of text and binary at every length form (0, 125, 126, 65535,
 * 65536 B, 1 and 16 MiB) and in order, fragmented messages, messages the server streams (an
 * async iterable of strings, a web ReadableStream of bytes), pings both ways, the close handshake
 * from either side (codes and reasons, 1005 without a code, 1006 on a cut connection, `onClose`
 * exactly once), 1007 for invalid UTF-8, 1009 over `maxPayload`, the `onError` default (1011),
 * stopping the server and `handler.close()` (1001, or the code given), subprotocol selection,
 * the input hold while an async `onConnect` runs, and permessage-deflate negotiation.
 *
 * No test sleeps or measures time: every wait is for an event, bounded by {@link WAIT}.
 * @module
 */
import { after, before, describe, test as nodeTest } from "node:test";
import { withTimeout } from "../helpers/timeout.js";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Callbacks, ConnectEvent } from "../../src/core/callbacks.js";
import type { Channel } from "../../src/core/channel.js";
import type { Options } from "../../src/core/options.js";
import { ProtocolError } from "../../src/protocol/errors.js";

const MiB = 1024 * 1024;
/** Longest wait for any one event, in ms. */
export const WAIT = 10_000;
/** Options of a test; `unsupported` says why this client cannot run it. */
interface TestOptions {
  readonly timeout: number;
  readonly unsupported?: string;
}

/**
 * Declares a test, unless the client cannot run it: CI runs no skipped test, so what a client
 * cannot do is left out for that client (its `can` lists it), not reported as skipped.
 */
function test(name: string, options: TestOptions, fn: () => Promise<void> | void): void {
  if (options.unsupported !== undefined) return;
  nodeTest(name, { timeout: options.timeout }, fn);
}

const TEST = { timeout: 30_000 };
const BIG_TEST = { timeout: 60_000 };

// ---------------------------------------------------------------------------------------------
// The interfaces a transport and a client implement.

/** What the suite asks a transport to serve: a handler's callbacks and options. */
export interface HandlerDefinition<T> {
  readonly callbacks: Callbacks<T>;
  readonly options?: Options<T>;
}

/** A running server of the transport under test. */
export interface ServerUnderTest<T> {
  /** Where clients connect, without a path or query: `ws://127.0.0.1:PORT`. */
  readonly url: string;
  /** The handler's open channels (`handler.connections`). */
  readonly connections: ReadonlySet<Channel<T>>;
  /** `handler.close(code, reason)`: refuse new upgrades, close every connection, wait for them. */
  closeHandler(code?: number, reason?: string): Promise<void>;
  /** Stops the whole server: open connections are closed with 1001 and waited for. */
  stop(): Promise<void>;
}

/** A transport, as the suite sees it. */
export interface TransportUnderTest {
  /** Shown in test names: "Node HTTP/1.1 upgrade". */
  readonly name: string;
  /** Serves `definition` on a new server, on 127.0.0.1 and a free port. */
  start<T>(definition: HandlerDefinition<T>): Promise<ServerUnderTest<T>>;
  /** The clients that can reach this transport; every behaviour runs with each. */
  readonly clients: readonly ClientUnderTest[];
}

/** One message as the client received it. */
export type Received = { readonly text: string } | { readonly data: Buffer };

/** The close event as the client saw it. */
export interface CloseSeen {
  readonly code: number;
  readonly reason: string;
  /** Both close frames went out and came in (the WHATWG `CloseEvent.wasClean`). */
  readonly wasClean: boolean;
}

/** What a client can do beyond sending whole messages, pinging and closing with 1000 or 3000–4999. */
export interface ClientCapabilities {
  /** Sends one message as several frames ({@link ClientPeer.sendFragments}). */
  readonly fragments: boolean;
  /** Sends a text frame of arbitrary bytes, not valid UTF-8 ({@link ClientPeer.sendRawText}). */
  readonly rawText: boolean;
  /** Drops the connection without a close frame ({@link ClientPeer.cut}). */
  readonly cut: boolean;
  /** Closes with any code RFC 6455 lets an endpoint send (1001…), not only 1000 and 3000–4999. */
  readonly anyCloseCode: boolean;
  /**
   * What its answer to the server's close frame carries: the code and reason it received (ws),
   * or the code only (undici). `onClose` reports the client's close frame, so this is the
   * reason the server sees after closing first.
   */
  readonly echoesClose: "code and reason" | "code";
  /**
   * permessage-deflate: whether the client offers it only when opened with `deflate: true`, on
   * every connection, or never; and whether it compresses what it sends (or only inflates).
   */
  readonly deflate: { readonly offers: "when asked" | "always" | "never"; readonly compresses: boolean };
}

/** How a client opens a connection. */
export interface OpenOptions {
  /** Subprotocols to offer, in order of preference. */
  readonly protocols?: string[];
  /** Offer permessage-deflate (a client whose `deflate.offers` is "always" or "never" ignores it). */
  readonly deflate?: boolean;
}

/** A client, as the suite sees it. */
export interface ClientUnderTest {
  /** Shown in test names: "ws", "undici". */
  readonly name: string;
  readonly can: ClientCapabilities;
  /** Opens a connection; rejects if the handshake fails (within {@link WAIT}). */
  open(url: string, options?: OpenOptions): Promise<ClientPeer>;
}

/** An open client connection. Every `next…` and `wait…` rejects after {@link WAIT}. */
export interface ClientPeer {
  /** The subprotocol the server selected, "" for none. */
  readonly protocol: string;
  /** The extensions the server agreed to, as in its `Sec-WebSocket-Extensions`. */
  readonly extensions: string;
  /** What arrived, in order: "text", "binary", "close" (and "error: …" lines). */
  readonly log: readonly string[];
  sendText(text: string): void;
  sendBinary(data: Uint8Array): void;
  /** Sends a ping; resolves with the payload of the pong that answers it. */
  ping(payload: Uint8Array): Promise<Buffer>;
  /** Resolves with the payload of the next ping from the server (call it before the server pings). */
  nextPing(): Promise<Buffer>;
  /** Starts the close handshake; no code sends a close frame without a body. */
  close(code?: number, reason?: string): void;
  next(label?: string): Promise<Received>;
  nextText(): Promise<string>;
  nextBinary(): Promise<Buffer>;
  waitClosed(): Promise<CloseSeen>;
  /** With `can.fragments`: one message, one frame per fragment; `between` runs after the first. */
  sendFragments?(kind: "text" | "binary", fragments: readonly Uint8Array[], between?: () => void): void;
  /** With `can.rawText`: a text frame holding exactly `bytes`. */
  sendRawText?(bytes: Uint8Array): void;
  /** With `can.cut`: destroys the connection at once, without a close frame. */
  cut?(): void;
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/** Rejects with `label` if `promise` has not settled within `ms` (a hang guard, not a timing check). */
export const within = withTimeout;

/** ASCII text of exactly `length` bytes. */
function textOf(length: number): string {
  return "abcdefghijklmnopqrstuvwxyz0123456789".repeat(Math.ceil(length / 36)).slice(0, length);
}

/** The method a capability promises, or a failed assertion if the client lacks it. */
function needs<F>(method: F | undefined, what: string): F {
  assert.ok(method !== undefined, `the client declares ${what} but has no method for it`);
  return method;
}

/** What the recording server keeps in `channel.data`. */
interface Tagged {
  /** The `id` query parameter of the upgrade URL, or "" when there was none. */
  readonly id: string;
}

interface CloseRecord {
  readonly id: string;
  readonly code: number;
  readonly reason: string;
}

interface ErrorRecord {
  readonly id: string;
  readonly error: Error;
}

/** How the recording server's callbacks behave, besides recording. */
interface Behaviour {
  readonly options?: Options<Tagged>;
  /** Runs in `onConnect` after the connection is recorded (may be async: input is held). */
  readonly onConnect?: (event: ConnectEvent<Tagged>) => void | Promise<void>;
  /** Replaces the echo. */
  readonly onMessage?: Callbacks<Tagged>["onMessage"];
  /**
   * "record" (default): record the error and close with 1011, as the library does without an
   * onError; "keep": record it and keep the connection; "none": no onError at all.
   */
  readonly onError?: "record" | "keep" | "none";
}

/**
 * A server of the transport under test that echoes every message (text as text, binary as
 * binary) and records what its callbacks saw, each record tagged with the connection's id:
 * the `id` query parameter of its URL (`urlFor("a")` → `ws://…/?id=a`).
 */
class RecordingServer {
  connects = 0;
  readonly closes: CloseRecord[] = [];
  readonly errors: ErrorRecord[] = [];
  readonly #channels = new Map<string, Channel<Tagged>>();
  readonly #changes = new EventEmitter().setMaxListeners(0);
  #server: ServerUnderTest<Tagged> | undefined;

  private constructor() {}

  static async start(transport: TransportUnderTest, behaviour: Behaviour = {}): Promise<RecordingServer> {
    const recording = new RecordingServer();
    const callbacks = recording.#callbacks(behaviour);
    recording.#server = await transport.start<Tagged>({ callbacks, options: behaviour.options ?? {} });
    return recording;
  }

  get server(): ServerUnderTest<Tagged> {
    assert.ok(this.#server !== undefined, "the server has not started");
    return this.#server;
  }

  #callbacks(behaviour: Behaviour): Callbacks<Tagged> {
    const changed = (): void => void this.#changes.emit("change");
    const callbacks: Callbacks<Tagged> = {
      onConnect: (event) => {
        this.connects++;
        const id = event.exchange.url.searchParams.get("id") ?? "";
        event.channel.data = { id };
        this.#channels.set(id, event.channel);
        changed();
        return behaviour.onConnect?.(event);
      },
      onMessage:
        behaviour.onMessage ??
        (({ channel, text, data }) => {
          if (text !== undefined) void channel.sendText(text);
          else void channel.sendBinary(data);
        }),
      onClose: ({ channel, code, reason }) => {
        this.closes.push({ id: channel.data?.id ?? "", code, reason });
        changed();
      },
    };
    if (behaviour.onError !== "none") {
      callbacks.onError = ({ channel, error }) => {
        this.errors.push({ id: channel.data?.id ?? "", error });
        changed();
        // What the library does without onError: the connection is closed with 1011.
        if (behaviour.onError !== "keep") void channel.close(1011, "internal error");
      };
    }
    return callbacks;
  }

  /** The server URL with `?id=<id>`. */
  urlFor(id: string): string {
    return `${this.server.url}/?id=${encodeURIComponent(id)}`;
  }

  /** Resolves when `predicate()` holds, re-checked after every callback; rejects after {@link WAIT}. */
  waitFor(predicate: () => boolean, label: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    let listener: (() => void) | undefined;
    const met = new Promise<void>((resolve) => {
      listener = () => {
        if (predicate()) resolve();
      };
      this.#changes.on("change", listener);
    });
    return within(met, WAIT, label).finally(() => {
      if (listener !== undefined) this.#changes.off("change", listener);
    });
  }

  /** The server-side channel of connection `id`, once `onConnect` has run for it. */
  async channel(id: string): Promise<Channel<Tagged>> {
    await this.waitFor(() => this.#channels.has(id), `onConnect of "${id}"`);
    return this.#channels.get(id)!;
  }

  /** The first `onClose` of connection `id`, once it has fired. */
  async closed(id: string): Promise<CloseRecord> {
    await this.waitFor(() => this.closesOf(id).length > 0, `onClose of "${id}"`);
    return this.closesOf(id)[0]!;
  }

  closesOf(id: string): CloseRecord[] {
    return this.closes.filter((record) => record.id === id);
  }

  errorsOf(id: string): ErrorRecord[] {
    return this.errors.filter((record) => record.id === id);
  }

  stop(): Promise<void> {
    return within(this.server.stop(), WAIT, "stopping the server");
  }
}

// ---------------------------------------------------------------------------------------------
// The suite.

/** Declares every behaviour test for `transport`, once per client it lists. */
export function behaviourSuite(transport: TransportUnderTest): void {
  assert.ok(transport.clients.length > 0, `${transport.name}: no client listed`);
  for (const client of transport.clients) clientSuite(transport, client);
}

function clientSuite(transport: TransportUnderTest, client: ClientUnderTest): void {
  const { can } = client;
  const title = `${transport.name}, ${client.name} client`;
  const unless = (capable: boolean, what: string): { unsupported?: string } =>
    capable ? {} : { unsupported: `the ${client.name} client cannot ${what}` };

  /** The shared echo server (maxPayload 16 MiB), for the tests that need nothing else. */
  let echo: RecordingServer;
  /** Connections of `echo` whose onError records are expected (the peer broke the protocol). */
  const failing = new Set<string>();
  let nextId = 0;
  const id = (name: string): string => `${client.name}-${name}-${nextId++}`;
  const open = (url: string, options?: OpenOptions): Promise<ClientPeer> => client.open(url, options);
  /** A server of its own for one test, stopped at the end of it. */
  const withServer = async (behaviour: Behaviour, body: (server: RecordingServer) => Promise<void>) => {
    const server = await RecordingServer.start(transport, behaviour);
    try {
      await body(server);
    } finally {
      await server.stop();
    }
  };
  const bye = async (peer: ClientPeer): Promise<void> => {
    peer.close(1000);
    await peer.waitClosed();
  };

  describe(title, () => {
    before(async () => {
      echo = await RecordingServer.start(transport, { options: { maxPayload: 16 * MiB } });
    });

    after(async () => {
      await echo.stop();
    });

    describe("messages", () => {
      test("text is echoed as text", TEST, async () => {
        const peer = await open(echo.urlFor(id("text")));
        peer.sendText("hello");
        assert.equal(await peer.nextText(), "hello");
        const unicode = "héllo wörld 🌊 波";
        peer.sendText(unicode);
        assert.equal(await peer.nextText(), unicode);
        await bye(peer);
      });

      test("binary is echoed as binary", TEST, async () => {
        const peer = await open(echo.urlFor(id("binary")));
        const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x7f]);
        peer.sendBinary(bytes);
        assert.deepEqual(await peer.nextBinary(), bytes);
        await bye(peer);
      });

      for (const size of [0, 125, 126, 65535, 65536, MiB, 16 * MiB]) {
        const options = size >= MiB ? BIG_TEST : TEST;
        test(`${size} B text message round-trips`, options, async () => {
          const peer = await open(echo.urlFor(id(`text${size}`)));
          const text = textOf(size);
          peer.sendText(text);
          const back = await peer.nextText();
          assert.equal(back.length, size);
          assert.ok(back === text, "echoed text differs");
          await bye(peer);
        });

        test(`${size} B binary message round-trips`, options, async () => {
          const peer = await open(echo.urlFor(id(`binary${size}`)));
          const bytes = randomBytes(size);
          peer.sendBinary(bytes);
          const back = await peer.nextBinary();
          assert.equal(back.length, size);
          assert.ok(back.equals(bytes), "echoed bytes differ");
          await bye(peer);
        });
      }

      test("1000 messages come back in order", TEST, async () => {
        const peer = await open(echo.urlFor(id("order")));
        for (let i = 0; i < 1000; i++) {
          if (i % 2 === 0) peer.sendText(`message ${i}`);
          else peer.sendBinary(Buffer.from(`message ${i}`));
        }
        for (let i = 0; i < 1000; i++) {
          const message = await peer.next(`message ${i}`);
          if (i % 2 === 0) assert.deepEqual(message, { text: `message ${i}` });
          else assert.deepEqual(message, { data: Buffer.from(`message ${i}`) });
        }
        await bye(peer);
      });
    });

    describe("fragmented messages", () => {
      const fragmentsTest = { ...TEST, ...unless(can.fragments, "send fragments") };

      test(
        "a text message in fragments, a character split between two, arrives whole",
        fragmentsTest,
        async () => {
          const peer = await open(echo.urlFor(id("fragments-text")));
          const send = needs(peer.sendFragments, "fragments").bind(peer);
          const text = "héllo wörld 🌊 波";
          const bytes = Buffer.from(text);
          const wave = bytes.indexOf(Buffer.from("🌊"));
          // Cuts inside "é", inside the wave's four bytes, and an empty fragment.
          send("text", [
            bytes.subarray(0, 2),
            bytes.subarray(2, wave + 2),
            bytes.subarray(wave + 2, wave + 2),
            bytes.subarray(wave + 2),
          ]);
          assert.equal(await peer.nextText(), text);
          await bye(peer);
        },
      );

      test("a binary message in 64 fragments arrives whole", fragmentsTest, async () => {
        const peer = await open(echo.urlFor(id("fragments-binary")));
        const send = needs(peer.sendFragments, "fragments").bind(peer);
        const bytes = randomBytes(64 * 1000);
        send(
          "binary",
          Array.from({ length: 64 }, (_, i) => bytes.subarray(i * 1000, (i + 1) * 1000)),
        );
        const back = await peer.nextBinary();
        assert.ok(back.equals(bytes), "echoed bytes differ");
        assert.deepEqual(peer.log, ["binary"], "one message, not 64");
        await bye(peer);
      });

      test(
        "a ping between fragments is answered, and the message still arrives whole",
        fragmentsTest,
        async () => {
          const peer = await open(echo.urlFor(id("fragments-ping")));
          const send = needs(peer.sendFragments, "fragments").bind(peer);
          let pong: Promise<Buffer> | undefined;
          send("text", [Buffer.from("first half, "), Buffer.from("second half")], () => {
            pong = peer.ping(Buffer.from("mid-message"));
          });
          assert.ok(pong !== undefined);
          assert.deepEqual(await pong, Buffer.from("mid-message"));
          assert.equal(await peer.nextText(), "first half, second half");
          await bye(peer);
        },
      );
    });

    describe("messages the server streams", () => {
      test(
        "an async iterable of strings arrives as one text message, a pair split between chunks whole, before what follows",
        TEST,
        async () => {
          const pair = "🌊";
          async function* pieces(): AsyncGenerator<string> {
            yield "héllo ";
            yield "wörld " + pair[0]!;
            yield pair[1]! + " 波";
          }
          const behaviour: Behaviour = {
            onMessage({ channel }) {
              void channel.sendText(pieces());
              void channel.sendText("after");
            },
          };
          await withServer(behaviour, async (local) => {
            const peer = await open(local.urlFor(id("streamed-text")));
            peer.sendText("go");
            assert.equal(await peer.nextText(), `héllo wörld ${pair} 波`);
            assert.equal(await peer.nextText(), "after");
            await bye(peer);
          });
        },
      );

      test("a web ReadableStream of 4 MiB of bytes arrives whole, as one message", BIG_TEST, async () => {
        const bytes = randomBytes(4 * MiB);
        const behaviour: Behaviour = {
          onMessage({ channel }) {
            let at = 0;
            const stream = new ReadableStream<Uint8Array>({
              pull(controller) {
                if (at === bytes.length) return controller.close();
                controller.enqueue(bytes.subarray(at, at + 256 * 1024));
                at += 256 * 1024;
              },
            });
            void channel.sendBinary(stream);
          },
        };
        await withServer(behaviour, async (local) => {
          const peer = await open(local.urlFor(id("streamed-binary")));
          peer.sendText("go");
          const back = await peer.nextBinary();
          assert.ok(back.equals(bytes), "streamed bytes differ");
          await bye(peer);
        });
      });
    });

    describe("pings", () => {
      test("a client ping is answered by a pong with the same payload", TEST, async () => {
        const peer = await open(echo.urlFor(id("ping")));
        for (const payload of [Buffer.alloc(0), Buffer.from("are you there?"), randomBytes(125)]) {
          assert.deepEqual(await peer.ping(payload), payload);
        }
        await bye(peer);
      });

      test("a server channel.ping() reaches the client", TEST, async () => {
        const name = id("server-ping");
        const peer = await open(echo.urlFor(name));
        const channel = await echo.channel(name);
        const ping = peer.nextPing();
        await channel.ping(Buffer.from("server ping"));
        assert.deepEqual(await ping, Buffer.from("server ping"));
        // The connection still works after the ping (the client's automatic pong was accepted).
        peer.sendText("after ping");
        assert.equal(await peer.nextText(), "after ping");
        await bye(peer);
      });
    });

    describe("closing", () => {
      const clientCloses: Array<{ code: number; reason: string; title: string; anyCode?: true }> = [
        {
          code: 1000,
          reason: "",
          title: "client closes with 1000: onClose sees 1000, the client sees it echoed",
        },
        {
          code: 4001,
          reason: "client is done",
          title: "client closes with 4001 and a reason: onClose sees both, the code is echoed",
        },
        { code: 4000, reason: "", title: "client closes with 4000: onClose sees 4000, the code is echoed" },
        {
          code: 4000,
          reason: "ü".repeat(61) + "!",
          title: "client closes with a 123-byte UTF-8 reason: onClose sees it whole",
        },
        {
          code: 1001,
          reason: "going away",
          title: "client closes with 1001 (going away): onClose sees 1001 and the reason",
          anyCode: true,
        },
      ];
      for (const { code, reason, title, anyCode } of clientCloses) {
        const options = { ...TEST, ...(anyCode ? unless(can.anyCloseCode, `close with ${code}`) : {}) };
        test(title, options, async () => {
          const name = id(`close${code}`);
          const peer = await open(echo.urlFor(name));
          await echo.channel(name);
          peer.close(code, reason);
          const seen = await peer.waitClosed();
          assert.equal(seen.code, code);
          assert.equal(seen.wasClean, true);
          const record = await echo.closed(name);
          assert.deepEqual(record, { id: name, code, reason });
          assert.equal(echo.closesOf(name).length, 1);
        });
      }

      test("client closes without a code: onClose sees 1005, and so does the client", TEST, async () => {
        const name = id("close-no-code");
        const peer = await open(echo.urlFor(name));
        await echo.channel(name);
        peer.close();
        const seen = await peer.waitClosed();
        assert.deepEqual(seen, { code: 1005, reason: "", wasClean: true });
        assert.deepEqual(await echo.closed(name), { id: name, code: 1005, reason: "" });
        assert.equal(echo.closesOf(name).length, 1);
      });

      test(
        "a connection cut without a close frame: onClose sees 1006, once",
        { ...TEST, ...unless(can.cut, "cut its connection") },
        async () => {
          const name = id("cut");
          const peer = await open(echo.urlFor(name));
          const channel = await echo.channel(name);
          // A round trip first, so the server is past the handshake in every sense.
          peer.sendText("before the cut");
          assert.equal(await peer.nextText(), "before the cut");
          needs(peer.cut, "cut").call(peer);
          assert.deepEqual(await echo.closed(name), { id: name, code: 1006, reason: "" });
          const seen = await peer.waitClosed();
          assert.equal(seen.code, 1006);
          assert.equal(seen.wasClean, false);
          await echo.waitFor(() => !echo.server.connections.has(channel), "the channel leaves connections");
          assert.equal(echo.closesOf(name).length, 1);
        },
      );

      test("server channel.close(4002, 'bye'): the client sees 4002 and 'bye'", TEST, async () => {
        const name = id("close4002");
        const peer = await open(echo.urlFor(name));
        const channel = await echo.channel(name);
        await within(channel.close(4002, "bye"), WAIT, "channel.close()");
        const seen = await peer.waitClosed();
        assert.deepEqual(seen, { code: 4002, reason: "bye", wasClean: true });
        await echo.closed(name);
        assert.equal(echo.closesOf(name).length, 1);
        // onClose reports the peer's close frame: the code echoed, and the reason if the client echoes it.
        const echoed = can.echoesClose === "code and reason" ? "bye" : "";
        assert.deepEqual(echo.closesOf(name)[0], { id: name, code: 4002, reason: echoed });
      });

      test("server channel.close() without arguments: 1000 both ways", TEST, async () => {
        const name = id("close-default");
        const peer = await open(echo.urlFor(name));
        const channel = await echo.channel(name);
        await within(channel.close(), WAIT, "channel.close()");
        assert.deepEqual(await peer.waitClosed(), { code: 1000, reason: "", wasClean: true });
        assert.deepEqual(await echo.closed(name), { id: name, code: 1000, reason: "" });
        assert.equal(echo.closesOf(name).length, 1);
        assert.ok(!echo.server.connections.has(channel), "a closed channel leaves connections");
      });

      test("a message sent just before close reaches the client before the close", TEST, async () => {
        const name = id("send-then-close");
        const peer = await open(echo.urlFor(name));
        const channel = await echo.channel(name);
        const sent = channel.sendText("last words");
        const closing = channel.close(1000, "done");
        await within(Promise.all([sent, closing]), WAIT, "send and close");
        const seen = await peer.waitClosed();
        assert.deepEqual(seen, { code: 1000, reason: "done", wasClean: true });
        assert.deepEqual(peer.log, ["text", "close"]);
        assert.equal(await peer.nextText(), "last words");
      });

      test("server.stop() with open clients: each sees 1001, each onClose fires once", TEST, async () => {
        const local = await RecordingServer.start(transport);
        try {
          const names = ["a", "b", "c", "d", "e"];
          const peers = await Promise.all(names.map((name) => open(local.urlFor(name))));
          await Promise.all(names.map((name) => local.channel(name)));
          // One message in flight each, to show the connections are live.
          peers.forEach((peer, i) => peer.sendText(`hi ${i}`));
          for (const [i, peer] of peers.entries()) assert.equal(await peer.nextText(), `hi ${i}`);

          await local.stop();
          const seen = await Promise.all(peers.map((peer) => peer.waitClosed()));
          for (const close of seen) assert.equal(close.code, 1001);
          assert.equal(local.connects, names.length);
          assert.equal(local.closes.length, names.length);
          for (const name of names) assert.equal(local.closesOf(name).length, 1, `onClose of ${name}`);
          assert.equal(local.server.connections.size, 0);
        } finally {
          await local.stop().catch(() => {});
        }
      });

      for (const [args, code, reason] of [
        [[], 1001, "server shutting down"],
        [[4000, "maintenance"], 4000, "maintenance"],
      ] as Array<[[number?, string?], number, string]>) {
        const call = args.length === 0 ? "handler.close()" : `handler.close(${args[0]}, "${args[1]}")`;
        test(
          `${call}: every client sees ${code}, onClose once each, then upgrades are refused`,
          TEST,
          async () => {
            await withServer({}, async (local) => {
              const names = ["a", "b", "c"];
              const peers = await Promise.all(names.map((name) => open(local.urlFor(name))));
              await Promise.all(names.map((name) => local.channel(name)));
              await within(local.server.closeHandler(args[0], args[1]), WAIT, call);
              assert.equal(local.server.connections.size, 0, `${call} resolves once every connection closed`);
              for (const peer of peers)
                assert.deepEqual(await peer.waitClosed(), { code, reason, wasClean: true });
              const echoed = can.echoesClose === "code and reason" ? reason : "";
              for (const name of names) {
                await local.closed(name);
                assert.deepEqual(local.closesOf(name), [{ id: name, code, reason: echoed }]);
              }
              await assert.rejects(open(local.urlFor("late")), "an upgrade after handler.close() is refused");
              assert.equal(local.connects, names.length);
            });
          },
        );
      }
    });

    describe("protocol errors", () => {
      test("a message over maxPayload closes with 1009", BIG_TEST, async () => {
        const name = id("too-big");
        failing.add(name);
        const peer = await open(echo.urlFor(name));
        await echo.channel(name);
        peer.sendBinary(Buffer.alloc(16 * MiB + 1));
        const seen = await peer.waitClosed();
        assert.equal(seen.code, 1009);
        const record = await echo.closed(name);
        assert.equal(record.code, 1009);
        assert.equal(echo.closesOf(name).length, 1);
        assert.ok(!peer.log.includes("binary"), "the oversized message must not be echoed");
        const [reported] = echo.errorsOf(name);
        assert.ok(reported?.error instanceof ProtocolError, "onError is told why");
        assert.equal(reported.error.closeCode, 1009);
      });

      const rawTextTest = { ...TEST, ...unless(can.rawText, "send text that is not UTF-8") };

      test("a text message that is not UTF-8 closes with 1007", rawTextTest, async () => {
        const name = id("invalid-utf8");
        failing.add(name);
        const peer = await open(echo.urlFor(name));
        await echo.channel(name);
        needs(peer.sendRawText, "raw text").call(peer, Buffer.from([0x68, 0x69, 0xff, 0xfe]));
        const seen = await peer.waitClosed();
        assert.equal(seen.code, 1007);
        assert.equal((await echo.closed(name)).code, 1007);
        assert.equal(echo.closesOf(name).length, 1);
        assert.ok(!peer.log.includes("text"), "the invalid message must not be echoed");
        const [reported] = echo.errorsOf(name);
        assert.ok(reported?.error instanceof ProtocolError, "onError is told why");
        assert.equal(reported.error.closeCode, 1007);
      });

      test(
        "invalid UTF-8 split across fragments closes with 1007",
        { ...TEST, ...unless(can.rawText && can.fragments, "send fragments of text that is not UTF-8") },
        async () => {
          const name = id("invalid-utf8-fragment");
          failing.add(name);
          const peer = await open(echo.urlFor(name));
          await echo.channel(name);
          // 0xce opens a two-byte character in the first fragment; 0x28 cannot continue it.
          needs(peer.sendFragments, "fragments").call(peer, "text", [
            Buffer.from([0x61, 0xce]),
            Buffer.from([0x28, 0x62]),
          ]);
          const seen = await peer.waitClosed();
          assert.equal(seen.code, 1007);
          assert.equal((await echo.closed(name)).code, 1007);
          assert.equal(echo.closesOf(name).length, 1);
          assert.ok(!peer.log.includes("text"), "nothing is echoed");
        },
      );
    });

    describe("callbacks", () => {
      test(
        "onMessage throws and there is no onError: the connection closes with 1011, onClose once",
        TEST,
        async () => {
          await withServer(
            {
              onError: "none",
              onMessage() {
                throw new Error("boom");
              },
            },
            async (local) => {
              const peer = await open(local.urlFor("thrower"));
              peer.sendText("anything");
              const seen = await peer.waitClosed();
              assert.equal(seen.code, 1011);
              assert.equal((await local.closed("thrower")).code, 1011);
              assert.deepEqual(
                local.closes.map(({ id, code }) => ({ id, code })),
                [{ id: "thrower", code: 1011 }],
                "onClose fires once",
              );
              assert.ok(!peer.log.includes("text"), "nothing is echoed");
            },
          );
        },
      );

      test(
        "onMessage throws with an onError: onError gets the same Error, the connection stays usable",
        TEST,
        async () => {
          const thrown: Error[] = [];
          await withServer(
            {
              onError: "keep",
              onMessage({ channel, text }) {
                if (text === "throw") {
                  const error = new Error("boom");
                  thrown.push(error);
                  throw error;
                }
                void channel.sendText(`ok: ${text}`);
              },
            },
            async (local) => {
              const peer = await open(local.urlFor("survivor"));
              peer.sendText("throw");
              await local.waitFor(() => local.errors.length === 1, "onError");
              assert.equal(thrown.length, 1);
              assert.equal(local.errors[0]!.error, thrown[0], "onError receives the thrown Error itself");
              assert.equal(local.errors[0]!.id, "survivor");
              peer.sendText("again");
              assert.equal(await peer.nextText(), "ok: again");
              await bye(peer);
              await local.closed("survivor");
              assert.deepEqual(local.closesOf("survivor"), [{ id: "survivor", code: 1000, reason: "" }]);
              assert.equal(local.errors.length, 1);
            },
          );
        },
      );

      test(
        "messages sent while an async onConnect runs are delivered after it settles, in order",
        TEST,
        async () => {
          let release: (() => void) | undefined;
          const gate = new Promise<void>((resolve) => (release = resolve));
          let settled = false;
          const delivered: Array<{ message: string; settled: boolean }> = [];
          await withServer(
            {
              async onConnect({ channel }) {
                if (channel.data?.id !== "held") return;
                await gate;
                settled = true;
                await channel.sendText("welcome");
              },
              onMessage({ channel, text, data }) {
                const message = text ?? `binary:${Buffer.from(data).toString()}`;
                if (channel.data?.id === "held") delivered.push({ message, settled });
                void channel.sendText(message);
              },
            },
            async (local) => {
              const peer = await open(local.urlFor("held"));
              await local.channel("held");
              const expected: string[] = [];
              for (let i = 0; i < 20; i++) {
                if (i % 5 === 4) {
                  peer.sendBinary(Buffer.from(`b${i}`));
                  expected.push(`binary:b${i}`);
                } else {
                  peer.sendText(`m${i}`);
                  expected.push(`m${i}`);
                }
              }
              // A round trip on a second connection, opened after those sends, lets them reach the
              // server while onConnect still holds (no timer: the probe's echo is the event).
              const probe = await open(local.urlFor("probe"));
              probe.sendText("probe");
              assert.equal(await probe.nextText(), "probe");
              assert.equal(delivered.length, 0, "nothing reaches onMessage while onConnect runs");
              release!();
              assert.equal(await peer.nextText(), "welcome", "onConnect's message comes first");
              for (const message of expected) assert.equal(await peer.nextText(), message);
              assert.deepEqual(
                delivered.map((d) => d.message),
                expected,
              );
              assert.ok(
                delivered.every((d) => d.settled),
                "every message reached onMessage after onConnect settled",
              );
              await bye(peer);
              await bye(probe);
            },
          );
        },
      );
    });

    describe("subprotocols", () => {
      test("the `protocols` list selects the client's first offer the server speaks", TEST, async () => {
        await withServer({ options: { protocols: ["chat.v2", "chat.v1"] } }, async (local) => {
          const peer = await open(local.urlFor("first"), { protocols: ["chat.v1", "chat.v2"] });
          assert.equal(peer.protocol, "chat.v1", "the client's first offer the server speaks");
          assert.equal((await local.channel("first")).protocol, "chat.v1");
          const only = await open(local.urlFor("only"), { protocols: ["other", "chat.v2"] });
          assert.equal(only.protocol, "chat.v2");
          assert.equal((await local.channel("only")).protocol, "chat.v2");
          await bye(peer);
          await bye(only);
        });
      });

      test("a selector function picks the subprotocol", TEST, async () => {
        const offers: string[][] = [];
        const selector = (offered: readonly string[]): string | undefined => {
          offers.push([...offered]);
          return offered.includes("b") ? "b" : undefined;
        };
        await withServer({ options: { protocols: selector } }, async (local) => {
          const peer = await open(local.urlFor("picked"), { protocols: ["a", "b"] });
          assert.equal(peer.protocol, "b");
          assert.equal((await local.channel("picked")).protocol, "b");
          assert.deepEqual(offers, [["a", "b"]]);
          await bye(peer);
        });
      });

      test("without an offer there is no subprotocol", TEST, async () => {
        await withServer({ options: { protocols: ["chat"] } }, async (local) => {
          const peer = await open(local.urlFor("plain"));
          assert.equal(peer.protocol, "");
          assert.equal((await local.channel("plain")).protocol, "");
          await bye(peer);
        });
      });
    });

    describe("compression", () => {
      const offers = can.deflate.offers !== "never";

      test(
        can.deflate.compresses
          ? "permessage-deflate is agreed when offered; messages compressed both ways round-trip exactly"
          : "permessage-deflate is agreed when offered; messages round-trip exactly (compressed from the server only)",
        { ...BIG_TEST, ...unless(offers, "offer permessage-deflate") },
        async () => {
          await withServer({ options: { compression: true } }, async (local) => {
            const peer = await open(local.urlFor("deflate"), { deflate: true });
            const channel = await local.channel("deflate");
            assert.match(peer.extensions, /^permessage-deflate\b/);
            assert.match(channel.extensions, /^permessage-deflate\b/);
            // Compressible and not, over and under the 1024 B threshold, interleaved.
            const big = textOf(256 * 1024);
            const random = randomBytes(64 * 1024);
            const sent: Received[] = [
              { text: big },
              { text: "small" },
              { data: random },
              { data: Buffer.from(big) },
              { text: "" },
              { data: Buffer.alloc(0) },
            ];
            for (const message of sent) {
              if ("text" in message) peer.sendText(message.text);
              else peer.sendBinary(message.data);
            }
            for (const [i, message] of sent.entries())
              assert.deepEqual(await peer.next(`message ${i}`), message);
            // Server-initiated messages travel compressed to the client too.
            await channel.sendText(big, { compress: true });
            assert.equal(await peer.nextText(), big);
            await bye(peer);
            assert.deepEqual(local.errors, []);
          });
        },
      );

      test(
        "a server without compression declines the offer",
        { ...TEST, ...unless(offers, "offer permessage-deflate") },
        async () => {
          await withServer({}, async (local) => {
            const peer = await open(local.urlFor("declined"), { deflate: true });
            assert.equal(peer.extensions, "");
            assert.equal((await local.channel("declined")).extensions, "");
            peer.sendText(textOf(4096));
            assert.equal(await peer.nextText(), textOf(4096));
            await bye(peer);
          });
        },
      );

      test(
        "a client that does not offer gets no compression",
        {
          ...TEST,
          ...unless(can.deflate.offers !== "always", "connect without offering permessage-deflate"),
        },
        async () => {
          await withServer({ options: { compression: true } }, async (local) => {
            const peer = await open(local.urlFor("no-offer"), { deflate: false });
            assert.equal(peer.extensions, "");
            assert.equal((await local.channel("no-offer")).extensions, "");
            peer.sendText(textOf(4096));
            assert.equal(await peer.nextText(), textOf(4096));
            await bye(peer);
          });
        },
      );
    });

    describe("the echo server's bookkeeping", () => {
      test(
        "no callback errors except the protocol failures, and every onClose fired once",
        TEST,
        async () => {
          await echo.waitFor(() => echo.closes.length === echo.connects, "every onClose");
          const ids = echo.closes.map((record) => record.id);
          assert.equal(new Set(ids).size, ids.length, "an onClose fired twice");
          const unexpected = echo.errors.filter((record) => !failing.has(record.id));
          assert.deepEqual(unexpected, []);
          assert.equal(echo.server.connections.size, 0, "no channel left open");
        },
      );
    });
  });
}
