/**
 * Option validation in `handshake()`, without sockets. Timers first (issue 12): Node clamps any
 * delay above 2³¹−1 ms, Infinity included, to 1 ms, so a timeout option either names a delay a
 * timer can honour or is Infinity ("never"); everything else is refused where it is given.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { handshake, InvalidArgumentError, type Options } from "../../src/index.js";
import { resolveOptions } from "../../src/core/options.js";

const MAX_DELAY = 2 ** 31 - 1;

/** Values no timer can honour, for every timeout option. */
const UNHONOURABLE: readonly unknown[] = [
  2 ** 31,
  Number.MAX_SAFE_INTEGER,
  1e300,
  NaN,
  -1,
  -Infinity,
  1.5,
  "1000",
  null,
  Symbol("ms"),
  Object.create(null) as object,
];

const label = (value: unknown): string =>
  typeof value === "object" && value !== null
    ? "an object"
    : typeof value === "symbol"
      ? "a symbol"
      : `${value as string}`;

const TIMERS = ["idleTimeout", "closeTimeout", "handshakeTimeout"] as const;

describe("timeout options", () => {
  for (const name of TIMERS) {
    test(`${name} accepts Infinity (never) and delays up to 2³¹−1 ms`, () => {
      for (const value of [Infinity, MAX_DELAY, 1, 5000]) {
        const resolved = resolveOptions({ [name]: value });
        assert.equal(resolved[name], name === "idleTimeout" && value === Infinity ? Infinity : value);
      }
    });

    test(`${name} refuses what no timer can honour, at handshake()`, () => {
      for (const value of UNHONOURABLE) {
        assert.throws(
          () => handshake({}, { [name]: value } as Options),
          (error: unknown) => error instanceof InvalidArgumentError && error.message.includes(name),
          `${name}: ${label(value)}`,
        );
      }
    });
  }

  test("idleTimeout 0 disables, as before; closeTimeout and handshakeTimeout 0 are refused", () => {
    assert.equal(resolveOptions({ idleTimeout: 0 }).idleTimeout, 0);
    assert.throws(() => resolveOptions({ closeTimeout: 0 }), InvalidArgumentError);
    assert.throws(() => resolveOptions({ handshakeTimeout: 0 }), InvalidArgumentError);
  });

  test("a handler reports its handshakeTimeout as given, Infinity included", () => {
    assert.equal(handshake({}, { handshakeTimeout: Infinity }).handshakeTimeout, Infinity);
    assert.equal(handshake({}).handshakeTimeout, 10_000);
  });
});

describe("count options", () => {
  test("an odd value is refused with InvalidArgumentError, never a TypeError from its message", () => {
    for (const value of [Object.create(null) as object, Symbol("n")]) {
      assert.throws(() => resolveOptions({ maxPayload: value as unknown as number }), InvalidArgumentError);
    }
  });
});

describe("every option of the wrong kind is refused at handshake(), never later", () => {
  const cases: Array<[string, Options<unknown>]> = [
    ["path not starting with /", { path: "chat" }],
    ["path of another kind", { path: 5 as unknown as string }],
    ["protocols of another kind", { protocols: "chat" as unknown as string[] }],
    ["a protocol that is not a string", { protocols: ["chat", 5 as unknown as string] }],
    ["origins of another kind", { origins: "https://a.example" as unknown as string[] }],
    ["an origin that is not a string", { origins: [Symbol("o") as unknown as string] }],
    ["onUpgrade not a function", { onUpgrade: {} as never }],
    ["onUpgradeError not a function", { onUpgradeError: 1 as never }],
    ["an unknown backpressure policy", { backpressure: "queue" as never }],
    ["a backpressure policy that is a symbol", { backpressure: Symbol("close") as never }],
    ["maxPayload below 1", { maxPayload: 0 }],
    ["maxFragments not an integer", { maxFragments: 1.5 }],
    ["fragmentSize below 1", { fragmentSize: 0 }],
    ["maxConnections negative", { maxConnections: -1 }],
    ["maxBackpressure of another kind", { maxBackpressure: "16MiB" as unknown as number }],
    ["compression of another kind", { compression: "yes" as never }],
    ["compression: null", { compression: null as never }],
    ["serverMaxWindowBits out of range", { compression: { serverMaxWindowBits: 8 } }],
    ["clientMaxWindowBits out of range", { compression: { clientMaxWindowBits: 16 } }],
    ["memLevel out of range", { compression: { memLevel: 10 } }],
    ["a negative threshold", { compression: { threshold: -1 } }],
    ["concurrency 0", { compression: { concurrency: 0 } }],
    ["serverNoContextTakeover not a boolean", { compression: { serverNoContextTakeover: "yes" as never } }],
    ["clientNoContextTakeover not a boolean", { compression: { clientNoContextTakeover: 1 as never } }],
    ["options that are not an object", 5 as unknown as Options<unknown>],
  ];
  for (const [name, options] of cases) {
    test(name, () => {
      assert.throws(() => handshake({}, options), InvalidArgumentError);
    });
  }

  test("callbacks that are not functions are refused too", () => {
    for (const name of ["onConnect", "onMessage", "onClose", "onError", "onDrain"]) {
      assert.throws(() => handshake({ [name]: "no" } as never), InvalidArgumentError, name);
    }
    assert.throws(() => handshake(null as never), InvalidArgumentError);
    assert.doesNotThrow(() => handshake({ onMessage: undefined }));
  });
});
