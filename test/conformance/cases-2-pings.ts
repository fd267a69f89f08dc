/**
 * Category 2: pings and pongs (RFC 6455 §5.5.2, §5.5.3). A ping is answered by a pong with the
 * same payload; a ping over 125 bytes fails the connection; unsolicited pongs are ignored.
 * @module
 */
import {
  CaseList,
  cleanClientClose,
  pingFrame,
  pong,
  pongFrame,
  send,
  sendChopped,
  serverFails,
} from "./case-kit.js";

const list = new CaseList(2);
const answered = "The server answers with a pong carrying exactly the ping's payload.";

list.add({
  id: "2.1",
  group: "Ping and pong",
  description: "Send a ping without payload.",
  expectation: answered,
  steps: [send(pingFrame())],
  expect: { ok: [pong()], close: cleanClientClose },
});
list.add({
  id: "2.2",
  group: "Ping and pong",
  description: "Send a ping with a small text payload.",
  expectation: answered,
  steps: [send(pingFrame("Hello, world!"))],
  expect: { ok: [pong("Hello, world!")], close: cleanClientClose },
});
const smallBinary = Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);
list.add({
  id: "2.3",
  group: "Ping and pong",
  description: "Send a ping with a small binary (non UTF-8) payload.",
  expectation: answered,
  steps: [send(pingFrame(smallBinary))],
  expect: { ok: [pong(smallBinary)], close: cleanClientClose },
});
list.add({
  id: "2.4",
  group: "Ping and pong",
  description: "Send a ping with a binary payload of 125 octets.",
  expectation: answered,
  steps: [send(pingFrame(Buffer.alloc(125, 0xfe)))],
  expect: { ok: [pong(Buffer.alloc(125, 0xfe))], close: cleanClientClose },
});
list.add({
  id: "2.5",
  group: "Ping and pong",
  description: "Send a ping with a binary payload of 126 octets.",
  expectation:
    'RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less": the ' +
    "connection is failed (1002), no pong.",
  steps: [send(pingFrame(Buffer.alloc(126, 0xfe)))],
  expect: { ok: [], close: serverFails() },
});
list.add({
  id: "2.6",
  group: "Ping and pong",
  description: "Send a ping with a binary payload of 125 octets, written in octet-wise chops.",
  expectation: answered,
  steps: [sendChopped([pingFrame(Buffer.alloc(125, 0xfe))], 1, 1)],
  expect: { ok: [pong(Buffer.alloc(125, 0xfe))], close: cleanClientClose },
});
list.add({
  id: "2.7",
  group: "Ping and pong",
  description: "Send an unsolicited pong without payload.",
  expectation: "Nothing: an unsolicited pong is ignored.",
  steps: [send(pongFrame())],
  expect: { ok: [], close: cleanClientClose },
});
list.add({
  id: "2.8",
  group: "Ping and pong",
  description: "Send an unsolicited pong with payload.",
  expectation: "Nothing: an unsolicited pong is ignored.",
  steps: [send(pongFrame("unsolicited pong payload"))],
  expect: { ok: [], close: cleanClientClose },
});
list.add({
  id: "2.9",
  group: "Ping and pong",
  description: "Send an unsolicited pong with payload, then a ping with payload.",
  expectation: "The pong is ignored; the ping is answered.",
  steps: [send(pongFrame("unsolicited pong payload"), pingFrame("ping payload"))],
  expect: { ok: [pong("ping payload")], close: cleanClientClose },
});
const tenPings = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
list.add({
  id: "2.10",
  group: "Ping and pong",
  description: "Send 10 pings with payload.",
  expectation: "10 pongs, in order, each with its ping's payload.",
  steps: [send(...tenPings.map((p) => pingFrame(p)))],
  expect: { ok: tenPings.map((p) => pong(p)), close: cleanClientClose },
});
list.add({
  id: "2.11",
  group: "Ping and pong",
  description: "Send 10 pings with payload, written in octet-wise chops.",
  expectation: "10 pongs, in order, each with its ping's payload.",
  steps: [
    sendChopped(
      tenPings.map((p) => pingFrame(p)),
      1,
      1,
    ),
  ],
  expect: { ok: tenPings.map((p) => pong(p)), close: cleanClientClose },
});

/** Category 2 cases. */
export const pingCases = list.cases;
