/**
 * The case catalogue itself: breadth, unique ids, well-formed expectations, and the UTF-8
 * validator the expectations are derived from.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { allCases } from "./cases.js";
import { COMPRESSION_CASES, FAIL_FAST_CASES, INVALID_UTF8_CASES } from "./expected.js";
import {
  MESSAGE_SIZES,
  messagesOf,
  HTML_DATA,
  IMAGE_DATA,
  JSON_DATA,
  PROSE_DATA,
  RANDOM_DATA,
} from "./compression-kit.js";
import { failFastIndex, isValidUtf8, Utf8Validator } from "./utf8.js";

test("at least 250 cases, across categories 1-7, 9, 10, 12 and 13, with unique ids", () => {
  assert.ok(allCases.length >= 250, `${allCases.length} cases`);
  const categories = new Set(allCases.map((c) => c.category));
  assert.deepEqual(
    [...categories].sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13],
  );
  const seen = new Set<string>();
  for (const c of allCases) {
    assert.ok(!seen.has(c.id), `duplicate id ${c.id}`);
    seen.add(c.id);
    assert.equal(c.id.split(".")[0], String(c.category), c.id);
  }
});

test("every id listed in expected.ts exists", () => {
  const known = new Set(allCases.map((c) => c.id));
  for (const id of [...INVALID_UTF8_CASES, ...FAIL_FAST_CASES, ...COMPRESSION_CASES]) {
    assert.ok(known.has(id), id);
  }
});

test("categories 12 and 13: exactly the cases that offer permessage-deflate, 18 sizes per data set and offer", () => {
  const offering = allCases.filter((c) => c.extensions !== undefined);
  assert.deepEqual(
    offering.map((c) => c.id),
    COMPRESSION_CASES,
  );
  for (const c of offering) {
    assert.ok(c.category === 12 || c.category === 13, c.id);
    assert.match(c.extensions ?? "", /permessage-deflate/, c.id);
  }
  const bySubCategory = new Map<string, number>();
  for (const id of COMPRESSION_CASES) {
    const sub = id.split(".").slice(0, 2).join(".");
    bySubCategory.set(sub, (bySubCategory.get(sub) ?? 0) + 1);
  }
  for (const [sub, count] of bySubCategory) {
    // 12.6 (pipelined mixed sizes) is the one sub-category not built from the size table.
    if (sub !== "12.6") assert.equal(count, MESSAGE_SIZES.length, sub);
  }
});

test("compression data: messages of exactly the size, valid UTF-8 for text, each unlike the last", () => {
  for (const data of [JSON_DATA, PROSE_DATA, HTML_DATA, IMAGE_DATA, RANDOM_DATA]) {
    for (const size of [16, 1000, 131072]) {
      const messages = messagesOf(data, size, 5);
      assert.equal(messages.length, 5);
      for (const [i, m] of messages.entries()) {
        assert.equal(m.length, size, `${data.title} ${size}`);
        if (!data.binary) assert.ok(isValidUtf8(m), `${data.title} ${size} #${i}`);
        if (i > 0) assert.ok(!m.equals(messages[i - 1] as Buffer), `${data.title} ${size} #${i}`);
      }
    }
  }
});

test("the invalid UTF-8 cases are exactly the category 6 cases where the server must fail", () => {
  const failing = allCases
    .filter((c) => c.category === 6 && c.expect.close.closedBy === "server")
    .map((c) => c.id);
  assert.deepEqual(failing, INVALID_UTF8_CASES);
});

test("the UTF-8 validator agrees with TextDecoder on every 1-4 byte prefix class", () => {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const valid = (b: Uint8Array): boolean => {
    try {
      decoder.decode(b);
      return true;
    } catch {
      return false;
    }
  };
  for (let a = 0; a < 256; a++) {
    for (const b of [
      0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf0, 0xf4, 0xff,
    ]) {
      for (const rest of [[], [0x80], [0x80, 0x80], [0xbf, 0xbf]]) {
        const bytes = Uint8Array.from([a, b, ...rest]);
        assert.equal(isValidUtf8(bytes), valid(bytes), Buffer.from(bytes).toString("hex"));
      }
    }
  }
});

test("fail-fast positions: the first byte no valid continuation can follow", () => {
  assert.equal(failFastIndex(Buffer.from("f4908080", "hex")), 1);
  assert.equal(failFastIndex(Buffer.from("eda080", "hex")), 1);
  assert.equal(failFastIndex(Buffer.from("68c0af", "hex")), 1);
  assert.equal(failFastIndex(Buffer.from("68ce", "hex")), -1); // truncated only
  const v = new Utf8Validator();
  assert.ok(v.push(Buffer.from("cebae1", "hex")));
  assert.ok(!v.complete);
  assert.ok(v.push(Buffer.from("bdb9", "hex")));
  assert.ok(v.complete);
});
