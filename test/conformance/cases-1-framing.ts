/**
 * Category 1: framing. Text and binary messages at every length-encoding boundary
 * (RFC 6455 §5.2: 7-bit up to 125, 16-bit up to 65535, 64-bit beyond), in one write and
 * chopped; plus two extensions on masking and the 64-bit length's top bit.
 * @module
 */
import { Opcode } from "../helpers/raw-client.js";
import {
  binaryFrame,
  binaryMessage,
  CaseList,
  cleanClientClose,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  frame,
  send,
  sendChopped,
  serverFails,
  textFrame,
  textMessage,
} from "./case-kit.js";

const list = new CaseList(1);
const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536] as const;

LENGTHS.forEach((length, i) => {
  const payload = "*".repeat(length);
  list.add({
    id: `1.1.${i + 1}`,
    group: "Text messages",
    description: `Send a text message with a payload of length ${length}.`,
    expectation: "The message is echoed back with the same payload.",
    steps: [send(textFrame(payload))],
    expect: { ok: [textMessage(payload)], close: cleanClientClose },
  });
});
list.add({
  id: "1.1.8",
  group: "Text messages",
  description: "Send a text message with a payload of length 65536, written in chops of 997 octets.",
  expectation: "The message is echoed back with the same payload.",
  steps: [sendChopped([textFrame("*".repeat(65536))], 997, 0)],
  expect: { ok: [textMessage("*".repeat(65536))], close: cleanClientClose },
});

LENGTHS.forEach((length, i) => {
  const payload = Buffer.alloc(length, 0xfe);
  list.add({
    id: `1.2.${i + 1}`,
    group: "Binary messages",
    description: `Send a binary message with a payload of length ${length}.`,
    expectation: "The message is echoed back with the same payload.",
    steps: [send(binaryFrame(payload))],
    expect: { ok: [binaryMessage(payload)], close: cleanClientClose },
  });
});
list.add({
  id: "1.2.8",
  group: "Binary messages",
  description: "Send a binary message with a payload of length 65536, written in chops of 997 octets.",
  expectation: "The message is echoed back with the same payload.",
  steps: [sendChopped([binaryFrame(Buffer.alloc(65536, 0xfe))], 997, 0)],
  expect: { ok: [binaryMessage(Buffer.alloc(65536, 0xfe))], close: cleanClientClose },
});

list.add({
  id: "1.3.1",
  source: "extension",
  group: "Frame header rules",
  description: "Send an unmasked text frame.",
  expectation:
    'RFC 6455 §5.1: "a server MUST close the connection upon receiving a frame that is not masked": ' +
    "the connection is failed (1002), nothing is echoed.",
  steps: [send(textFrame("Hello, world!", { mask: false }))],
  expect: { ok: [], close: serverFails([CLOSE_PROTOCOL_ERROR]) },
});
list.add({
  id: "1.3.2",
  source: "extension",
  group: "Frame header rules",
  description: "Send a binary frame header whose 64-bit payload length has its most significant bit set.",
  expectation:
    'RFC 6455 §5.2: "the most significant bit MUST be 0": the connection is failed (1002, or 1009 as too big).',
  steps: [send(frame({ opcode: Opcode.Binary, declaredLength: 0x8000000000000001n, lengthForm: 64 }))],
  expect: { ok: [], close: serverFails([CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG]) },
});

/** Category 1 cases. */
export const framingCases = list.cases;
