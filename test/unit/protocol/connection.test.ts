import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ProtocolConnection, type ProtocolOptions } from "../../../src/protocol/connection.js";
import { Opcode } from "../../../src/protocol/opcodes.js";
import type { ProtocolEvent } from "../../../src/protocol/events.js";
import { MessageAssembler } from "../../../src/protocol/assembler.js";
import { clientFrame, closePayload, concatBytes, decodeServerFrames, hex } from "../../helpers/frames.js";

const LIMITS: ProtocolOptions = { maxPayload: 1024 * 1024, maxFragments: 1000 };

function connect(limits: ProtocolOptions = LIMITS): ProtocolConnection {
  return new ProtocolConnection(limits);
}

function events(conn: ProtocolConnection): ProtocolEvent[] {
  const out: ProtocolEvent[] = [];
  for (let e = conn.nextEvent(); e !== undefined; e = conn.nextEvent()) out.push(e);
  return out;
}

/** Feeds bytes (copied, since the parser unmasks in place) in the given chunk sizes. */
function feed(conn: ProtocolConnection, bytes: Uint8Array, chunk = bytes.length || 1): void {
  for (let i = 0; i < bytes.length; i += chunk) conn.receive(bytes.slice(i, i + chunk));
}

function sent(conn: ProtocolConnection) {
  return decodeServerFrames(concatBytes(...conn.takeOutgoing()));
}

/** Feeds the bytes and asserts the connection failed with `code` and sent that close frame. */
function assertFails(bytes: Uint8Array, code: number, errorCode: string, limits = LIMITS): void {
  for (const chunk of [bytes.length, 1]) {
    const conn = connect(limits);
    feed(conn, bytes, chunk);
    const fail = events(conn).find((e) => e.type === "fail");
    assert.ok(fail && fail.type === "fail", `expected failure ${errorCode} (chunk ${chunk})`);
    assert.equal(fail.error.closeCode, code);
    assert.equal(fail.error.code, errorCode);
    const close = sent(conn).at(-1)!;
    assert.equal(close.opcode, Opcode.Close);
    assert.equal((close.payload[0]! << 8) | close.payload[1]!, code);
    assert.ok(conn.closeExpected());
  }
}

describe("receiving messages", () => {
  test("a masked text frame (RFC 6455 §5.7 example) becomes a text event", () => {
    const conn = connect();
    conn.receive(hex("8185 37fa213d 7f9f4d5158"));
    assert.deepEqual(events(conn), [{ type: "text", text: "Hello" }]);
  });

  test("input split at every byte still parses (one byte at a time)", () => {
    const conn = connect();
    const bytes = concatBytes(
      clientFrame(Opcode.Text, "héllo"),
      clientFrame(Opcode.Binary, new Uint8Array(300).fill(9)),
      clientFrame(Opcode.Binary, new Uint8Array(70000).fill(3)),
    );
    feed(conn, bytes, 1);
    const got = events(conn);
    assert.equal(got.length, 3);
    assert.deepEqual(got[0], { type: "text", text: "héllo" });
    assert.deepEqual(got[1], { type: "binary", data: new Uint8Array(300).fill(9) });
    assert.deepEqual(got[2], { type: "binary", data: new Uint8Array(70000).fill(3) });
  });

  test("payload lengths in all three forms", () => {
    for (const size of [0, 1, 125, 126, 127, 65535, 65536, 200000]) {
      const conn = connect();
      const payload = new Uint8Array(size).map((_, i) => i);
      feed(conn, clientFrame(Opcode.Binary, payload));
      assert.deepEqual(events(conn), [{ type: "binary", data: payload }], `size ${size}`);
    }
  });

  test("fragments are reassembled, with control frames between them (§5.4)", () => {
    const conn = connect();
    feed(
      conn,
      concatBytes(
        clientFrame(Opcode.Text, "Hel", { fin: false }),
        clientFrame(Opcode.Ping, "p"),
        clientFrame(Opcode.Continuation, "", { fin: false }),
        clientFrame(Opcode.Continuation, "lo", { fin: true }),
      ),
    );
    assert.deepEqual(events(conn), [
      { type: "ping", data: new TextEncoder().encode("p") },
      { type: "text", text: "Hello" },
    ]);
  });

  test("a code point split across fragments is accepted", () => {
    const euro = new TextEncoder().encode("€"); // e2 82 ac
    const conn = connect();
    feed(
      conn,
      concatBytes(
        clientFrame(Opcode.Text, euro.subarray(0, 1), { fin: false }),
        clientFrame(Opcode.Continuation, euro.subarray(1, 2), { fin: false }),
        clientFrame(Opcode.Continuation, euro.subarray(2), { fin: true }),
      ),
    );
    assert.deepEqual(events(conn), [{ type: "text", text: "€" }]);
  });

  test("a leading byte order mark is kept as text", () => {
    const conn = connect();
    feed(conn, clientFrame(Opcode.Text, hex("efbbbf41")));
    assert.deepEqual(events(conn), [{ type: "text", text: "\ufeffA" }]);
  });

  test("fragmented binary messages are joined", () => {
    const conn = connect();
    feed(
      conn,
      concatBytes(
        clientFrame(Opcode.Binary, hex("0102"), { fin: false }),
        clientFrame(Opcode.Continuation, hex("03"), { fin: true }),
      ),
    );
    assert.deepEqual(events(conn), [{ type: "binary", data: hex("010203") }]);
  });
});

describe("control frames", () => {
  test("every ping gets a pong with the same payload (§5.5.2)", () => {
    const conn = connect();
    feed(conn, concatBytes(clientFrame(Opcode.Ping, "a"), clientFrame(Opcode.Ping, "b")));
    const out = sent(conn);
    assert.deepEqual(
      out.map((f) => [f.opcode, new TextDecoder().decode(f.payload)]),
      [
        [Opcode.Pong, "a"],
        [Opcode.Pong, "b"],
      ],
    );
  });

  test("a pong is reported and not answered", () => {
    const conn = connect();
    feed(conn, clientFrame(Opcode.Pong, "x"));
    assert.deepEqual(events(conn), [{ type: "pong", data: new TextEncoder().encode("x") }]);
    assert.equal(conn.hasOutgoing(), false);
  });

  test("a close frame is echoed with its code and input stops (§5.5.1)", () => {
    const conn = connect();
    feed(
      conn,
      concatBytes(clientFrame(Opcode.Close, closePayload(4001, "bye")), clientFrame(Opcode.Text, "late")),
    );
    assert.deepEqual(events(conn), [{ type: "close", code: 4001, reason: "bye" }]);
    const out = sent(conn);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]!.payload, hex("0fa1"));
    assert.ok(conn.closeExpected());
  });

  test("bytes after the close frame, a broken frame included, are discarded, not a failure", () => {
    const conn = connect();
    feed(conn, concatBytes(clientFrame(Opcode.Close, closePayload(1000)), hex("8105 48656c6c6f"), hex("ff")));
    assert.deepEqual(events(conn), [{ type: "close", code: 1000, reason: "" }]);
    feed(conn, clientFrame(Opcode.Text, "later still"));
    assert.equal(conn.nextEvent(), undefined);
    assert.deepEqual(
      sent(conn).map((f) => f.opcode),
      [Opcode.Close],
    );
  });

  test("a reply to a message that arrived with the close frame still goes out before the close", () => {
    const conn = connect();
    feed(conn, concatBytes(clientFrame(Opcode.Text, "hi"), clientFrame(Opcode.Close, closePayload(1000))));
    assert.deepEqual(conn.nextEvent(), { type: "text", text: "hi" });
    assert.equal(conn.sendText("hi"), true);
    assert.deepEqual(conn.nextEvent(), { type: "close", code: 1000, reason: "" });
    assert.deepEqual(
      sent(conn).map((f) => f.opcode),
      [Opcode.Text, Opcode.Close],
    );
  });

  test("an empty close frame reports 1005 and is answered with an empty close", () => {
    const conn = connect();
    feed(conn, clientFrame(Opcode.Close));
    assert.deepEqual(events(conn), [{ type: "close", code: 1005, reason: "" }]);
    assert.deepEqual(sent(conn)[0]!.payload, new Uint8Array(0));
  });

  test("after our close, the peer's close completes the handshake", () => {
    const conn = connect();
    assert.equal(conn.close(1000, "done"), true);
    assert.equal(conn.closeExpected(), false);
    assert.equal(conn.sendText("no"), false);
    const ours = sent(conn);
    assert.deepEqual(ours[0]!.payload, concatBytes(hex("03e8"), new TextEncoder().encode("done")));
    feed(conn, clientFrame(Opcode.Close, closePayload(1000)));
    assert.deepEqual(events(conn), [{ type: "close", code: 1000, reason: "" }]);
    assert.equal(conn.hasOutgoing(), false);
    assert.ok(conn.closeExpected());
  });
});

describe("failing the connection (one test per rule)", () => {
  test("an unmasked frame: 1002", () => assertFails(hex("8105 48656c6c6f"), 1002, "ERR_UNMASKED_FRAME"));
  for (const rsv of [1, 2, 3, 4, 5, 6, 7]) {
    test(`RSV bits ${rsv} without an extension: 1002`, () =>
      assertFails(
        (() => {
          const f = clientFrame(Opcode.Text, "x");
          f[0] = f[0]! | (rsv << 4);
          return f;
        })(),
        1002,
        "ERR_UNEXPECTED_RSV",
      ));
  }
  for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    test(`reserved opcode ${opcode}: 1002`, () =>
      assertFails(clientFrame(opcode, "x"), 1002, "ERR_RESERVED_OPCODE"));
  }
  test("a control frame over 125 bytes: 1002", () =>
    assertFails(clientFrame(Opcode.Ping, new Uint8Array(126)), 1002, "ERR_CONTROL_FRAME_TOO_LONG"));
  test("a fragmented control frame: 1002", () =>
    assertFails(clientFrame(Opcode.Ping, "x", { fin: false }), 1002, "ERR_FRAGMENTED_CONTROL_FRAME"));
  test("a continuation with no message to continue: 1002", () =>
    assertFails(clientFrame(Opcode.Continuation, "x"), 1002, "ERR_UNEXPECTED_CONTINUATION"));
  test("a new data frame inside a fragmented message: 1002", () =>
    assertFails(
      concatBytes(clientFrame(Opcode.Text, "a", { fin: false }), clientFrame(Opcode.Text, "b")),
      1002,
      "ERR_EXPECTED_CONTINUATION",
    ));
  test("a 64-bit length with the top bit set: 1002", () =>
    assertFails(hex("82ff 8000000000000001 00000000 00"), 1002, "ERR_INVALID_LENGTH"));
  test("a message over maxPayload: 1009, refused from the header before its payload", () => {
    const conn = connect({ maxPayload: 100, maxFragments: 10 });
    // Only the header of a 101-byte frame arrives: the refusal must not wait for the payload.
    conn.receive(clientFrame(Opcode.Binary, new Uint8Array(101)).subarray(0, 6));
    const fail = events(conn)[0];
    assert.equal(fail?.type === "fail" && fail.error.closeCode, 1009);
    assertFails(clientFrame(Opcode.Binary, new Uint8Array(101)), 1009, "ERR_MESSAGE_TOO_BIG", {
      maxPayload: 100,
      maxFragments: 10,
    });
  });
  test("fragments adding up past maxPayload: 1009", () =>
    assertFails(
      concatBytes(
        clientFrame(Opcode.Binary, new Uint8Array(60), { fin: false }),
        clientFrame(Opcode.Continuation, new Uint8Array(60)),
      ),
      1009,
      "ERR_MESSAGE_TOO_BIG",
      { maxPayload: 100, maxFragments: 10 },
    ));
  test("more fragments than maxFragments: 1009", () =>
    assertFails(
      concatBytes(
        ...Array.from({ length: 4 }, () => clientFrame(Opcode.Continuation, "a", { fin: false })).map(
          (f, i) => (i === 0 ? clientFrame(Opcode.Text, "a", { fin: false }) : f),
        ),
      ),
      1009,
      "ERR_TOO_MANY_FRAGMENTS",
      { maxPayload: 100, maxFragments: 3 },
    ));
  test("invalid UTF-8 in a text message: 1007", () =>
    assertFails(
      clientFrame(Opcode.Text, hex("cebae1bdb9cf83cebcceb5eda080656469746564")),
      1007,
      "ERR_INVALID_UTF8",
    ));
  test("a code point cut off at the end of the message: 1007", () =>
    assertFails(clientFrame(Opcode.Text, hex("41e282")), 1007, "ERR_INVALID_UTF8"));
  test("UTF-8 fails fast: a bad first fragment fails before the rest arrives", () => {
    const conn = connect();
    feed(conn, clientFrame(Opcode.Text, hex("41c0af"), { fin: false }));
    const got = events(conn);
    assert.equal(got[0]?.type, "fail");
  });
  test("UTF-8 fails fast inside one frame delivered in pieces", () => {
    const frame = clientFrame(
      Opcode.Text,
      concatBytes(hex("cebae1bd"), hex("f4908080"), new Uint8Array(1000).fill(65)),
    );
    const conn = connect();
    // Header (8 bytes) plus the first 6 payload bytes, which already hold an impossible sequence.
    conn.receive(frame.slice(0, 14));
    assert.equal(events(conn)[0]?.type, "fail");
  });
  test("a close frame with a 1-byte payload: 1002", () =>
    assertFails(clientFrame(Opcode.Close, hex("03")), 1002, "ERR_INVALID_CLOSE_PAYLOAD"));
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    test(`close code ${code} received: 1002`, () =>
      assertFails(clientFrame(Opcode.Close, closePayload(code)), 1002, "ERR_INVALID_CLOSE_CODE"));
  }
  test("a close reason that is not UTF-8: 1007", () =>
    assertFails(clientFrame(Opcode.Close, closePayload(1000, hex("ff"))), 1007, "ERR_INVALID_UTF8"));
  test("codes valid to receive are accepted", () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
      const conn = connect();
      feed(conn, clientFrame(Opcode.Close, closePayload(code)));
      assert.deepEqual(events(conn), [{ type: "close", code, reason: "" }]);
    }
  });
});

describe("property: any frame sequence, split anywhere, parses back identically", () => {
  const message = fc.oneof(
    fc.record({ kind: fc.constant("text" as const), text: fc.string({ unit: "grapheme", maxLength: 300 }) }),
    fc.record({ kind: fc.constant("binary" as const), data: fc.uint8Array({ maxLength: 70000 }) }),
    fc.record({ kind: fc.constant("ping" as const), data: fc.uint8Array({ maxLength: 125 }) }),
  );
  const plan = fc.record({
    messages: fc.array(fc.tuple(message, fc.integer({ min: 1, max: 4 })), { maxLength: 8 }),
    cuts: fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }),
  });

  test("holds for 200 random cases", () => {
    fc.assert(
      fc.property(plan, ({ messages, cuts }) => {
        const frames: Uint8Array[] = [];
        const expected: ProtocolEvent[] = [];
        for (const [m, pieces] of messages) {
          if (m.kind === "ping") {
            frames.push(clientFrame(Opcode.Ping, m.data));
            expected.push({ type: "ping", data: m.data });
            continue;
          }
          const bytes = m.kind === "text" ? new TextEncoder().encode(m.text) : m.data;
          const step = Math.ceil(bytes.length / pieces) || 1;
          for (let i = 0, first = true; first || i < bytes.length; i += step, first = false) {
            const opcode = first ? (m.kind === "text" ? Opcode.Text : Opcode.Binary) : Opcode.Continuation;
            frames.push(clientFrame(opcode, bytes.subarray(i, i + step), { fin: i + step >= bytes.length }));
          }
          expected.push(
            m.kind === "text" ? { type: "text", text: m.text } : { type: "binary", data: m.data },
          );
        }
        const stream = concatBytes(...frames);
        const conn = connect();
        let pos = 0;
        for (let k = 0; pos < stream.length; k++) {
          const n = cuts[k % cuts.length]!;
          conn.receive(stream.slice(pos, pos + n));
          pos += n;
        }
        assert.deepEqual(events(conn), expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe("compressed messages (RFC 7692)", () => {
  const DEFLATE = { ...LIMITS, compression: true };

  test("RSV1 is refused without the extension", () =>
    assertFails(clientFrame(Opcode.Text, "x", { rsv1: true }), 1002, "ERR_UNEXPECTED_RSV"));

  test("RSV1 on a continuation frame: 1002", () =>
    assertFails(
      concatBytes(
        clientFrame(Opcode.Text, "a", { fin: false, rsv1: true }),
        clientFrame(Opcode.Continuation, "b", { rsv1: true }),
      ),
      1002,
      "ERR_UNEXPECTED_RSV",
      DEFLATE,
    ));

  test("RSV1 on a control frame: 1002", () =>
    assertFails(clientFrame(Opcode.Ping, "x", { rsv1: true }), 1002, "ERR_UNEXPECTED_RSV", DEFLATE));

  test("a compressed message is handed out, input waits, and order is kept", () => {
    const conn = connect(DEFLATE);
    feed(
      conn,
      concatBytes(
        clientFrame(Opcode.Text, "zz", { fin: false, rsv1: true }),
        clientFrame(Opcode.Continuation, "z"),
        clientFrame(Opcode.Text, "after"),
      ),
    );
    assert.deepEqual(events(conn), [
      { type: "compressed", binary: false, data: new TextEncoder().encode("zzz") },
    ]);
    assert.ok(conn.awaitingInflation);
    // More input arrives while the adapter inflates: it waits.
    conn.receive(clientFrame(Opcode.Text, "later"));
    assert.deepEqual(events(conn), []);
    assert.ok(conn.inflated(new TextEncoder().encode("infl")));
    assert.ok(conn.inflated(new TextEncoder().encode("ated")));
    conn.inflatedEnd();
    assert.deepEqual(events(conn), [
      { type: "text", text: "inflated" },
      { type: "text", text: "after" },
      { type: "text", text: "later" },
    ]);
  });

  test("inflated output is counted against maxPayload: 1009", () => {
    const conn = connect({ maxPayload: 10, maxFragments: 10, compression: true });
    feed(conn, clientFrame(Opcode.Binary, "x", { rsv1: true }));
    assert.equal(events(conn)[0]?.type, "compressed");
    assert.ok(conn.inflated(new Uint8Array(8)));
    assert.equal(conn.inflated(new Uint8Array(8)), false);
    const fail = events(conn)[0];
    assert.equal(fail?.type === "fail" && fail.error.closeCode, 1009);
  });

  test("inflated text is checked as it comes: 1007", () => {
    const conn = connect(DEFLATE);
    feed(conn, clientFrame(Opcode.Text, "x", { rsv1: true }));
    events(conn);
    assert.equal(conn.inflated(hex("c0")), false);
    const fail = events(conn)[0];
    assert.equal(fail?.type === "fail" && fail.error.closeCode, 1007);
  });

  test("data that does not inflate: 1007", () => {
    const conn = connect(DEFLATE);
    feed(conn, clientFrame(Opcode.Binary, "x", { rsv1: true }));
    events(conn);
    conn.inflateFailed();
    const fail = events(conn)[0];
    assert.equal(fail?.type === "fail" && fail.error.code, "ERR_INVALID_COMPRESSED_DATA");
  });
});

test("regression: a failure during inflation releases the input hold", () => {
  const conn = new ProtocolConnection({ maxPayload: 4, maxFragments: 10, compression: true });
  conn.receive(clientFrame(Opcode.Binary, "x", { rsv1: true }));
  for (let e = conn.nextEvent(); e !== undefined; e = conn.nextEvent());
  assert.equal(conn.awaitingInflation, true);
  conn.inflated(new Uint8Array(5));
  assert.equal(conn.awaitingInflation, false);
});

describe("regression (issue 12): a bug inside the core fails that connection with 1011", () => {
  const DEFLATE = { ...LIMITS, compression: true };
  /** Replaces `MessageAssembler.prototype[method]` with one that throws `bug` while `run` runs. */
  function withBug(method: "piece" | "inflated" | "inflatedEnd", bug: unknown, run: () => void): void {
    const proto = MessageAssembler.prototype as unknown as Record<string, unknown>;
    const original = proto[method];
    proto[method] = () => {
      throw bug;
    };
    try {
      run();
    } finally {
      proto[method] = original;
    }
  }

  function assertInternalFailure(conn: ProtocolConnection, bug: unknown): void {
    const all = events(conn);
    assert.equal(all.length, 1, "one event: the failure");
    const fail = all[0]!;
    assert.ok(fail.type === "fail");
    assert.equal(fail.error.code, "ERR_INTERNAL");
    assert.equal(fail.error.closeCode, 1011);
    assert.ok(fail.error.cause === bug, "the bug is kept as cause");
    // STYLE.md: unexpected errors become 1011 without details.
    const frames = sent(conn);
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.opcode, Opcode.Close);
    assert.deepEqual([...frames[0]!.payload], [0x03, 0xf3], "code 1011, no reason");
    assert.ok(conn.closeExpected());
    // Input after the failure is ignored, and nothing else throws.
    conn.receive(clientFrame(Opcode.Text, "after"));
    assert.deepEqual(events(conn), []);
  }

  test("a TypeError from the assembler while parsing", () => {
    const bug = new TypeError("injected");
    const conn = connect();
    withBug("piece", bug, () => {
      assert.doesNotThrow(() => feed(conn, clientFrame(Opcode.Text, "hello")));
    });
    assertInternalFailure(conn, bug);
  });

  test("a non-Error thrown from the assembler while parsing", () => {
    const bug = Object.create(null) as object;
    const conn = connect();
    withBug("piece", bug, () => feed(conn, clientFrame(Opcode.Binary, "x")));
    assertInternalFailure(conn, bug);
  });

  test("a bug while resuming input held during an inflation", () => {
    const bug = new RangeError("injected");
    const conn = connect(DEFLATE);
    feed(conn, concatBytes(clientFrame(Opcode.Text, "x", { rsv1: true }), clientFrame(Opcode.Text, "y")));
    assert.equal(events(conn)[0]?.type, "compressed");
    assert.ok(conn.inflated(new TextEncoder().encode("x")));
    conn.takeOutgoing();
    withBug("piece", bug, () => assert.doesNotThrow(() => conn.inflatedEnd()));
    const all = events(conn);
    assert.deepEqual(all[0], { type: "text", text: "x" });
    const fail = all[1];
    assert.ok(fail?.type === "fail" && fail.error.code === "ERR_INTERNAL" && fail.error.cause === bug);
  });

  for (const method of ["inflated", "inflatedEnd"] as const) {
    test(`a bug in the assembler's ${method}()`, () => {
      const bug = new TypeError("injected");
      const conn = connect(DEFLATE);
      feed(conn, clientFrame(Opcode.Binary, "x", { rsv1: true }));
      assert.equal(events(conn)[0]?.type, "compressed");
      withBug(method, bug, () => {
        assert.doesNotThrow(() => {
          if (method === "inflated") assert.equal(conn.inflated(new Uint8Array(1)), false);
          else conn.inflatedEnd();
        });
      });
      assertInternalFailure(conn, bug);
    });
  }
});
