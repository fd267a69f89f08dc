/**
 * The raw client's permessage-deflate: the check of a server's answer against the offer
 * (RFC 7692 §7.1), which the judge of categories 12 and 13 relies on, and the codec's context
 * handling, which must reject a server that breaks its window or context promise.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { constants, deflateRawSync } from "node:zlib";
import { checkDeflateResponse, PerMessageDeflate } from "../helpers/raw-client.js";

const PMD = "permessage-deflate";

test("answers that fit the offer are accepted, with the parameters in force", () => {
  assert.deepEqual(checkDeflateResponse(PMD, PMD), {
    params: {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    },
    error: undefined,
  });
  const agreed = checkDeflateResponse(
    `${PMD}; server_max_window_bits=12; client_max_window_bits`,
    `${PMD}; server_max_window_bits=10; client_max_window_bits="9"; client_no_context_takeover`,
  );
  assert.equal(agreed.error, undefined);
  assert.deepEqual(agreed.params, {
    serverNoContextTakeover: false,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 10,
    clientMaxWindowBits: 9,
  });
  // Declined: no answer, or an empty one.
  assert.deepEqual(checkDeflateResponse(PMD, undefined), { params: undefined, error: undefined });
  // Several offers: fitting any one of them is enough.
  assert.equal(checkDeflateResponse(`${PMD}; server_max_window_bits=8, ${PMD}`, PMD).error, undefined);
});

test("answers a client must fail the connection for", () => {
  const bad: Array<[string | undefined, string]> = [
    [undefined, PMD], // nothing offered
    [PMD, "x-other"], // not offered
    [PMD, `${PMD}, ${PMD}`], // twice
    [PMD, `${PMD}; client_max_window_bits=10`], // client window not offered
    [`${PMD}; client_max_window_bits=9`, `${PMD}; client_max_window_bits=10`], // larger than offered
    [`${PMD}; client_max_window_bits`, `${PMD}; client_max_window_bits`], // no value in an answer
    [`${PMD}; server_no_context_takeover`, PMD], // not echoed
    [`${PMD}; server_max_window_bits=10`, PMD], // not echoed
    [`${PMD}; server_max_window_bits=10`, `${PMD}; server_max_window_bits=11`], // larger
    [PMD, `${PMD}; server_max_window_bits=7`], // out of range
    [PMD, `${PMD}; server_no_context_takeover; server_no_context_takeover`], // repeated
    [PMD, `${PMD}; mystery`], // unknown parameter
    [PMD, `${PMD}; server_no_context_takeover=1`], // a value where none is allowed
  ];
  for (const [offer, answer] of bad) {
    const result = checkDeflateResponse(offer, answer);
    assert.equal(result.params, undefined, `${offer} / ${answer}`);
    assert.ok(result.error !== undefined, `${offer} / ${answer}`);
  }
});

/** What a server that keeps its context would send for `text` after `before`. */
function withContext(before: string, text: string, windowBits = 15): Buffer {
  const out = deflateRawSync(Buffer.from(text), {
    dictionary: Buffer.from(before),
    windowBits,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return out.subarray(0, out.length - 4);
}

test("the codec round-trips with context takeover, and rejects a broken promise", () => {
  const params = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const first = "the quick brown fox jumps over the lazy dog; ".repeat(20);
  const second = "the quick brown fox jumps over the lazy dog, again";
  // Our compressor references the previous message; an inflater with the same history reads it.
  const client = new PerMessageDeflate(params);
  const reader = new PerMessageDeflate({ ...params, serverMaxWindowBits: 15 });
  for (const m of [first, second, "", first]) {
    assert.equal(reader.inflate(client.compress(m)).toString(), m);
  }
  // A server that agreed to server_no_context_takeover but kept its context is caught.
  const strict = new PerMessageDeflate({ ...params, serverNoContextTakeover: true });
  const plain = deflateRawSync(Buffer.from(first), { finishFlush: constants.Z_SYNC_FLUSH });
  assert.equal(strict.inflate(plain.subarray(0, plain.length - 4)).toString(), first);
  assert.throws(() => strict.inflate(withContext(first, second)), /distance too far back/);
  // The same bytes are fine when context takeover was agreed.
  const keeps = new PerMessageDeflate(params);
  keeps.inflate(plain.subarray(0, plain.length - 4));
  assert.equal(keeps.inflate(withContext(first, second)).toString(), second);
});
