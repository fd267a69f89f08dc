/**
 * RFC 8441 / RFC 9113 rules for an extended CONNECT, on header records (no stream): what the
 * validator accepts, and each refusal with its status and whether it is malformed.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  answerFields,
  connectKind,
  connectPathname,
  validateConnect,
} from "../../../src/protocol/extended-connect.js";

const base = {
  ":method": "CONNECT",
  ":protocol": "websocket",
  ":scheme": "https",
  ":path": "/chat?room=a",
  ":authority": "example.com",
  "sec-websocket-version": "13",
};

describe("extended CONNECT (RFC 8441)", () => {
  test("connectKind sorts requests, tunnels, other protocols and WebSockets", () => {
    assert.equal(connectKind({ ":method": "GET" }), "request");
    assert.equal(connectKind({ ":method": "CONNECT" }), "tunnel");
    assert.equal(connectKind({ ":method": "CONNECT", ":protocol": "webtransport" }), "other-protocol");
    assert.equal(connectKind({ ":method": "CONNECT", ":protocol": "WebSocket" }), "websocket");
  });

  test("connectPathname is the path without the query, undefined when not a path", () => {
    assert.equal(connectPathname(base), "/chat");
    assert.equal(connectPathname({ ...base, ":path": "*" }), undefined);
  });

  test("a valid request: scheme, authority, path and the offered subprotocols", () => {
    assert.deepEqual(validateConnect({ ...base, "sec-websocket-protocol": "a, b" }), {
      ok: true,
      scheme: "https",
      authority: "example.com",
      path: "/chat?room=a",
      protocols: ["a", "b"],
    });
    assert.equal(
      validateConnect({ ...base, host: "EXAMPLE.com:443" }).ok,
      true,
      "Host naming the same entity",
    );
    assert.equal(validateConnect({ ...base, te: "trailers" }).ok, true);
  });

  const cases: Array<[string, Record<string, string | undefined>, number, boolean]> = [
    ["no :scheme", { ":scheme": undefined }, 400, true],
    ["no :path", { ":path": undefined }, 400, true],
    ["a :path that is not a path", { ":path": "chat" }, 400, true],
    ["no :authority", { ":authority": undefined }, 400, true],
    ["an invalid :authority", { ":authority": "exa mple" }, 400, true],
    ["a Host naming another entity", { host: "other.example" }, 400, true],
    ["a connection-specific field", { connection: "keep-alive" }, 400, true],
    ["TE other than trailers", { te: "gzip" }, 400, true],
    ["a scheme other than http(s)", { ":scheme": "ftp" }, 400, false],
    ["a content-length", { "content-length": "0" }, 400, false],
    ["no version", { "sec-websocket-version": undefined }, 400, false],
    ["version 8", { "sec-websocket-version": "8" }, 400, false],
    ["an invalid subprotocol", { "sec-websocket-protocol": "a b" }, 400, false],
  ];
  for (const [title, change, status, malformed] of cases) {
    test(`refused: ${title}`, () => {
      const headers: Record<string, string> = { ...base };
      for (const [name, value] of Object.entries(change)) {
        if (value === undefined) delete headers[name];
        else headers[name] = value;
      }
      const verdict = validateConnect(headers);
      assert.equal(verdict.ok, false);
      if (verdict.ok) return;
      assert.equal(verdict.status, status);
      assert.equal(verdict.malformed, malformed);
      assert.ok(!/[\r\n]/.test(verdict.reason));
    });
  }

  test("a wrong version is answered with the supported one", () => {
    const verdict = validateConnect({ ...base, "sec-websocket-version": "8" });
    assert.ok(!verdict.ok);
    assert.deepEqual(verdict.headers, { "sec-websocket-version": "13" });
  });

  test("answerFields lower-cases names, drops connection-specific fields, refuses CR/LF and non-tokens", () => {
    assert.deepEqual(
      {
        ...answerFields({
          "WWW-Authenticate": "Bearer",
          Connection: "close",
          "Content-Length": "3",
          Upgrade: "x",
        }),
      },
      { "www-authenticate": "Bearer" },
    );
    assert.throws(() => answerFields({ "x-a": "line\r\nbreak" }), TypeError);
    assert.throws(() => answerFields({ "bad name": "x" }), TypeError);
    assert.throws(() => answerFields({ ":status": "200" }), TypeError);
  });
});
