/**
 * Admission without a socket: the handler's rules and the application's decisions, in the core,
 * on a fake clock. The Node transport's wire format of the answers is tested in
 * test/integration/upgrade-decisions.test.ts and access-control.test.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { admit, type Admission, type AdmissionRequest } from "../../../src/core/admission.js";
import type { Options } from "../../../src/core/options.js";
import { FakeClock, memoryContext } from "../../helpers/memory-transport.js";

const REQUEST: AdmissionRequest = {
  exchange: { request: undefined, url: new URL("http://localhost/chat") },
  origin: "https://app.example",
  protocols: ["v2", "v1"],
  extensions: undefined,
};

/** The admission of `request` under `options`, with every onUpgradeError it reported. */
function decide(
  options: Options<unknown>,
  request: AdmissionRequest = REQUEST,
  clock = new FakeClock(),
): { result: Promise<Admission<unknown>>; reported: Error[]; context: ReturnType<typeof memoryContext> } {
  const reported: Error[] = [];
  const context = memoryContext(
    {},
    { onUpgradeError: ({ error }) => void reported.push(error), ...options },
    clock,
  );
  const result = new Promise<Admission<unknown>>((resolve) => admit(context, request, resolve));
  return { result, reported, context };
}

const kindOf = async (options: Options<unknown>, request?: AdmissionRequest) => {
  const a = await decide(options, request).result;
  return a.kind === "refuse" ? a.status : a.kind;
};

describe("the handler's rules", () => {
  test("a request the rules allow is accepted, with no subprotocol unless one is selected", async () => {
    const a = await decide({}).result;
    assert.deepEqual(a, { kind: "accept", protocol: "", deflate: undefined, data: undefined });
  });

  test("origins: a list allows its members (case-insensitively), a predicate only with true", async () => {
    assert.equal(await kindOf({ origins: ["https://APP.example"] }), "accept");
    assert.equal(await kindOf({ origins: ["https://other.example"] }), 403);
    assert.equal(await kindOf({ origins: () => true }), "accept");
    assert.equal(await kindOf({ origins: () => false }), 403);
    assert.equal(await kindOf({ origins: () => 1 as unknown as boolean }), "error");
  });

  test("protocols: the first offer in the list; a selector's choice must be one offered", async () => {
    const listed = await decide({ protocols: ["v1", "v2"] }).result;
    assert.equal(listed.kind === "accept" && listed.protocol, "v2");
    assert.equal(await kindOf({ protocols: () => false }), 400);
    assert.equal(await kindOf({ protocols: () => "v3" }), "error");
  });

  test("maxConnections counts open connections and pending async decisions", async () => {
    const clock = new FakeClock();
    const slow = decide({ maxConnections: 1, onUpgrade: () => new Promise(() => {}) }, REQUEST, clock);
    assert.equal(slow.context.pending, 1);
    const second = await new Promise<Admission<unknown>>((resolve) => admit(slow.context, REQUEST, resolve));
    assert.equal(second.kind === "refuse" && second.status, 503);
  });

  test("a closing handler refuses with 503", async () => {
    const { context } = decide({});
    context.closing = true;
    const a = await new Promise<Admission<unknown>>((resolve) => admit(context, REQUEST, resolve));
    assert.equal(a.kind === "refuse" && a.status, 503);
  });

  test("a malformed Sec-WebSocket-Extensions is 400 when compression is on", async () => {
    assert.equal(
      await kindOf({ compression: true }, { ...REQUEST, extensions: "permessage-deflate; x=" }),
      400,
    );
    const agreed = await decide({ compression: true }, { ...REQUEST, extensions: "permessage-deflate" })
      .result;
    assert.match(agreed.kind === "accept" ? (agreed.deflate?.response ?? "") : "", /^permessage-deflate/);
  });
});

describe("onUpgrade decisions", () => {
  test("the documented shapes", async () => {
    assert.equal(await kindOf({ onUpgrade: () => undefined }), "accept");
    assert.equal(await kindOf({ onUpgrade: () => true }), "accept");
    const withData = await decide({ onUpgrade: () => ({ data: 7 }) }).result;
    assert.deepEqual(withData.kind === "accept" && withData.data, { value: 7 });
    assert.equal(await kindOf({ onUpgrade: () => false }), 403);
    const refusal = await decide({
      onUpgrade: () => ({ status: 401, headers: { "WWW-Authenticate": "Bearer" }, body: "log in" }),
    }).result;
    assert.equal(refusal.kind, "refuse");
    assert.deepEqual(refusal.kind === "refuse" && [refusal.status, refusal.body, { ...refusal.headers }], [
      401,
      "log in",
      { "WWW-Authenticate": "Bearer" },
    ]);
  });

  test("anything else is an error reported to onUpgradeError, never an acceptance", async () => {
    for (const decision of [
      null,
      {},
      { data: 1, extra: 2 },
      { status: 200 },
      { status: 401, reason: "x" },
      0,
      "no",
    ]) {
      const { result, reported } = decide({ onUpgrade: () => decision as never });
      assert.equal((await result).kind, "error", JSON.stringify(decision));
      assert.equal((reported[0] as { code?: string }).code, "ERR_INVALID_UPGRADE_RESPONSE");
    }
    const split = decide({ onUpgrade: () => ({ status: 401, headers: { "X-A": "a\r\nSet-Cookie: x=1" } }) });
    assert.equal((await split.result).kind, "error", "a header value with CR/LF");
    const badName = decide({ onUpgrade: () => ({ status: 401, headers: { "Bad Name": "a" } }) });
    assert.equal((await badName.result).kind, "error", "a header name that is not a token");
  });

  test("a throw, a rejection or a throwing thenable is an UpgradeCallbackError", async () => {
    const boom = new Error("boom");
    for (const onUpgrade of [
      () => {
        throw boom;
      },
      () => Promise.reject(boom),
      () => ({
        then() {
          throw boom;
        },
      }),
    ]) {
      const { result, reported } = decide({ onUpgrade: onUpgrade as never });
      assert.equal((await result).kind, "error");
      assert.equal((reported[0] as { code?: string; cause?: unknown }).code, "ERR_UPGRADE_CALLBACK");
      assert.equal((reported[0] as { cause?: unknown }).cause, boom);
    }
  });

  test("a foreign thenable is awaited, and its value read like any decision", async () => {
    const thenable = (value: unknown) => ({ then: (resolve: (v: unknown) => void) => resolve(value) });
    assert.equal(await kindOf({ onUpgrade: () => thenable(false) as never }), 403);
    assert.equal(await kindOf({ onUpgrade: () => thenable(undefined) as never }), "accept");
  });

  test("an async decision past handshakeTimeout is refused with 503, on the clock; Infinity waits", async () => {
    const clock = new FakeClock();
    const late = decide({ handshakeTimeout: 100, onUpgrade: () => new Promise(() => {}) }, REQUEST, clock);
    clock.advance(99);
    assert.equal(late.context.pending, 1);
    clock.advance(1);
    const a = await late.result;
    assert.equal(a.kind === "refuse" && a.status, 503);
    assert.equal(late.context.pending, 0);

    const patient = new FakeClock();
    decide({ handshakeTimeout: Infinity, onUpgrade: () => new Promise(() => {}) }, REQUEST, patient);
    assert.equal(patient.pending, 0, "no timer");
  });
});
