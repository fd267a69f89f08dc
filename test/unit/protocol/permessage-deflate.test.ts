import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseExtensions } from "../../../src/protocol/extensions-header.js";
import { negotiateDeflate, type DeflateConfig } from "../../../src/protocol/permessage-deflate.js";

const OPEN: DeflateConfig = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function agree(header: string, config: DeflateConfig = OPEN) {
  const offers = parseExtensions(header);
  assert.ok(offers !== undefined, "the header parses");
  return negotiateDeflate(offers, config)?.response;
}

describe("Sec-WebSocket-Extensions syntax", () => {
  test("several extensions, parameters with and without values, quoted values", () => {
    assert.deepEqual(
      parseExtensions('foo, permessage-deflate; client_max_window_bits; server_max_window_bits="10"'),
      [
        { name: "foo", params: [] },
        {
          name: "permessage-deflate",
          params: [
            ["client_max_window_bits", true],
            ["server_max_window_bits", "10"],
          ],
        },
      ],
    );
  });

  test("repeated header lines are one list", () => {
    assert.equal(parseExtensions(["a", "b; x=1"])?.length, 2);
  });

  for (const bad of [
    "per message",
    "permessage-deflate; =3",
    'x; a="b c"',
    "x; a=b c",
    'x; a="unterminated',
  ]) {
    test(`invalid syntax is refused: ${bad}`, () => assert.equal(parseExtensions(bad), undefined));
  }
});

describe("permessage-deflate negotiation (RFC 7692 §7.1)", () => {
  test("a plain offer is accepted as is", () =>
    assert.equal(agree("permessage-deflate"), "permessage-deflate"));

  test("client_max_window_bits without a value may be left unanswered", () =>
    assert.equal(agree("permessage-deflate; client_max_window_bits"), "permessage-deflate"));

  test("both no_context_takeover parameters are echoed", () =>
    assert.equal(
      agree("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ));

  test("server_max_window_bits is answered, capped by our limit", () => {
    assert.equal(
      agree("permessage-deflate; server_max_window_bits=10"),
      "permessage-deflate; server_max_window_bits=10",
    );
    assert.equal(
      agree("permessage-deflate; server_max_window_bits=12", { ...OPEN, serverMaxWindowBits: 10 }),
      "permessage-deflate; server_max_window_bits=10",
    );
  });

  test("our own limits are announced", () => {
    assert.equal(
      agree("permessage-deflate; client_max_window_bits", {
        ...OPEN,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 11,
        clientMaxWindowBits: 10,
      }),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10",
    );
  });

  test("the client's window can only be limited if it offered client_max_window_bits", () =>
    assert.equal(agree("permessage-deflate", { ...OPEN, clientMaxWindowBits: 10 }), undefined));

  test("a client window value is kept, or lowered to ours", () => {
    assert.equal(
      agree("permessage-deflate; client_max_window_bits=9"),
      "permessage-deflate; client_max_window_bits=9",
    );
    assert.equal(
      agree("permessage-deflate; client_max_window_bits=12", { ...OPEN, clientMaxWindowBits: 10 }),
      "permessage-deflate; client_max_window_bits=10",
    );
  });

  test("server_max_window_bits=8 is declined (zlib cannot compress with it)", () =>
    assert.equal(agree("permessage-deflate; server_max_window_bits=8"), undefined));

  const declined = [
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; server_max_window_bits=010",
    "permessage-deflate; client_max_window_bits=abc",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; unknown_parameter",
    "x-other-extension",
  ];
  for (const header of declined) {
    test(`declined, not failed: ${header}`, () => assert.equal(agree(header), undefined));
  }

  test("of several offers, the first acceptable one wins", () =>
    assert.equal(
      agree(
        "permessage-deflate; server_max_window_bits=8, permessage-deflate; unknown, permessage-deflate; client_no_context_takeover, permessage-deflate",
      ),
      "permessage-deflate; client_no_context_takeover",
    ));
});
