/**
 * The invariants the fuzzers check, shared by `npm test` and `npm run fuzz`.
 */
import assert from "node:assert/strict";
import { ProtocolConnection } from "../../src/protocol/connection.js";
import { ProtocolError } from "../../src/protocol/errors.js";
import { Opcode } from "../../src/protocol/opcodes.js";
import type { ProtocolEvent } from "../../src/protocol/events.js";
import { concatBytes, decodeServerFrames } from "../helpers/frames.js";

const FAIL_CODES = new Set([1002, 1007, 1009]);

/**
 * Feeds pieces to a fresh connection and checks: nothing but a ProtocolError is ever raised
 * (none escapes receive()), at most one close/fail event and nothing after it, failure codes
 * are 1002/1007/1009, and what the server queued parses as unmasked frames ending with at most
 * one close frame. Returns the events (as comparable values) for further checks.
 */
export function checkProtocolStream(pieces: readonly Uint8Array[]): unknown[] {
  const conn = new ProtocolConnection({ maxPayload: 4096, maxFragments: 64 });
  const events: ProtocolEvent[] = [];
  for (const piece of pieces) {
    conn.receive(piece);
    for (let e = conn.nextEvent(); e !== undefined; e = conn.nextEvent()) events.push(e);
  }
  const terminal = events.findIndex((e) => e.type === "close" || e.type === "fail");
  if (terminal !== -1) assert.equal(terminal, events.length - 1, "nothing after close or failure");
  const last = events.at(-1);
  if (last?.type === "fail") {
    assert.ok(last.error instanceof ProtocolError);
    assert.ok(FAIL_CODES.has(last.error.closeCode), `failure code ${last.error.closeCode}`);
  }
  const frames = decodeServerFrames(concatBytes(...conn.takeOutgoing()));
  const closes = frames.filter((f) => f.opcode === Opcode.Close);
  assert.ok(closes.length <= 1, "at most one close frame");
  if (closes.length === 1) assert.equal(frames.at(-1)!.opcode, Opcode.Close, "close frame last");
  assert.equal(conn.closeExpected(), terminal !== -1);
  return events.map((e) => {
    if (e.type === "fail") return { type: "fail", code: e.error.code };
    if (e.type === "binary" || e.type === "ping" || e.type === "pong")
      return { type: e.type, data: [...e.data] };
    return e;
  });
}
