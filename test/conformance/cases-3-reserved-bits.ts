/**
 * Category 3: reserved bits. RFC 6455 §5.2: RSV1–3 "MUST be 0 unless an extension is negotiated
 * that defines meanings for non-zero values. If a nonzero value is received and none of the
 * negotiated extensions defines the meaning of such a nonzero value, the receiving endpoint
 * MUST _Fail the WebSocket Connection_."
 * @module
 */
import { Opcode } from "../helpers/raw-client.js";
import {
  binaryFrame,
  CaseList,
  frame,
  pingFrame,
  send,
  sendChopped,
  sendFrameWise,
  serverFails,
  textFrame,
  textMessage,
} from "./case-kit.js";

const list = new CaseList(3);
const hello = "Hello, world!";
const failed = "The connection is failed (1002): no extension gives the RSV bits a meaning.";
const echoThenFail =
  "The first message is echoed, then the connection is failed (1002); the pong is not sent. " +
  "Failing before the echo is NON-STRICT.";

list.add({
  id: "3.1",
  group: "Reserved bits",
  description: "Send a small text message with RSV = 1.",
  expectation: failed,
  steps: [send(textFrame(hello, { rsv: 1 }))],
  expect: { ok: [], close: serverFails() },
});
list.add({
  id: "3.2",
  group: "Reserved bits",
  description: "Send a small text message, then again with RSV = 2, then a ping.",
  expectation: echoThenFail,
  steps: [send(textFrame(hello), textFrame(hello, { rsv: 2 }), pingFrame())],
  expect: { ok: [textMessage(hello)], nonStrict: [], close: serverFails() },
});
list.add({
  id: "3.3",
  group: "Reserved bits",
  description: "Send a small text message, then again with RSV = 3, then a ping, frame-wise.",
  expectation: echoThenFail,
  steps: sendFrameWise(textFrame(hello), textFrame(hello, { rsv: 3 }), pingFrame()),
  expect: { ok: [textMessage(hello)], nonStrict: [], close: serverFails() },
});
list.add({
  id: "3.4",
  group: "Reserved bits",
  description: "Send a small text message, then again with RSV = 4, then a ping, in octet-wise chops.",
  expectation: echoThenFail,
  steps: [sendChopped([textFrame(hello), textFrame(hello, { rsv: 4 }), pingFrame()], 1, 1)],
  expect: { ok: [textMessage(hello)], nonStrict: [], close: serverFails() },
});
list.add({
  id: "3.5",
  group: "Reserved bits",
  description: "Send a small binary message with RSV = 5.",
  expectation: failed,
  steps: [send(binaryFrame(Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]), { rsv: 5 }))],
  expect: { ok: [], close: serverFails() },
});
list.add({
  id: "3.6",
  group: "Reserved bits",
  description: "Send a ping with payload and RSV = 6.",
  expectation: failed + " No pong.",
  steps: [send(pingFrame("Hello, world!", { rsv: 6 }))],
  expect: { ok: [], close: serverFails() },
});
list.add({
  id: "3.7",
  group: "Reserved bits",
  description: "Send a close frame (code 1000) with RSV = 7, as raw bytes.",
  expectation: failed + " A normal close reply (1000) is a WRONG CODE.",
  steps: [send(frame({ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xe8]), rsv: 7 }))],
  expect: { ok: [], close: serverFails() },
});

/** Category 3 cases. */
export const reservedBitsCases = list.cases;
