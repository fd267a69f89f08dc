/**
 * Category 5: fragmentation (RFC 6455 §5.4). Control frames MUST NOT be fragmented; control
 * frames MAY be injected between fragments; a continuation needs a message to continue and a
 * new data frame may not start inside one.
 * @module
 */
import { Opcode } from "../helpers/raw-client.js";
import {
  CaseList,
  cleanClientClose,
  contFrame,
  frame,
  pause,
  pingFrame,
  pong,
  send,
  sendChopped,
  sendFrameWise,
  serverFails,
  textFrame,
  textMessage,
  type Step,
} from "./case-kit.js";

const list = new CaseList(5);
const group = "Fragmentation";
const failed = "The connection is failed (1002); nothing is echoed.";

list.add({
  id: "5.1",
  group,
  description: "Send a ping fragmented into 2 fragments.",
  expectation: 'RFC 6455 §5.5: "Control frames ... MUST NOT be fragmented." ' + failed,
  steps: [send(pingFrame("fragment1", { fin: false }), contFrame("fragment2"))],
  expect: { ok: [], close: serverFails() },
});
list.add({
  id: "5.2",
  group,
  description: "Send a pong fragmented into 2 fragments.",
  expectation: 'RFC 6455 §5.5: "Control frames ... MUST NOT be fragmented." ' + failed,
  steps: [send(frame({ opcode: Opcode.Pong, payload: "fragment1", fin: false }), contFrame("fragment2"))],
  expect: { ok: [], close: serverFails() },
});

const twoFragments = (): Buffer[] => [textFrame("fragment1", { fin: false }), contFrame("fragment2")];
const modes: [string, (frames: Buffer[]) => Step[]][] = [
  ["in one chop", (frames) => [send(...frames)]],
  ["frame-wise", (frames) => sendFrameWise(...frames)],
  ["in octet-wise chops", (frames) => [sendChopped(frames, 1, 1)]],
];

modes.forEach(([how, steps], i) => {
  list.add({
    id: `5.${3 + i}`,
    group,
    description: `Send a text message fragmented into 2 fragments, ${how}.`,
    expectation: "The message is echoed whole.",
    steps: steps(twoFragments()),
    expect: { ok: [textMessage("fragment1fragment2")], close: cleanClientClose },
  });
});
modes.forEach(([how, steps], i) => {
  list.add({
    id: `5.${6 + i}`,
    group,
    description: `Send a text message fragmented into 2 fragments with a ping (with payload) between them, ${how}.`,
    expectation: "A pong first, then the message echoed whole.",
    steps: steps([textFrame("fragment1", { fin: false }), pingFrame("ping payload"), contFrame("fragment2")]),
    expect: { ok: [pong("ping payload"), textMessage("fragment1fragment2")], close: cleanClientClose },
  });
});
modes.forEach(([how, steps], i) => {
  list.add({
    id: `5.${9 + i}`,
    group,
    description: `Send a continuation frame with FIN = 1 when there is nothing to continue, then a text message, ${how}.`,
    expectation: failed,
    steps: steps([contFrame("non-continuation payload"), textFrame("Hello, world!")]),
    expect: { ok: [], close: serverFails() },
  });
});
modes.forEach(([how, steps], i) => {
  list.add({
    id: `5.${12 + i}`,
    group,
    description: `Send a continuation frame with FIN = 0 when there is nothing to continue, then a text message, ${how}.`,
    expectation: failed,
    steps: steps([contFrame("non-continuation payload", { fin: false }), textFrame("Hello, world!")]),
    expect: { ok: [], close: serverFails() },
  });
});
list.add({
  id: "5.15",
  group,
  description:
    "Send a text message in 2 fragments, then a continuation with FIN = 0 when there is nothing " +
    "to continue, then a text frame with FIN = 1, in one chop.",
  expectation:
    "The first message is echoed, then the connection is failed (1002). Failing first is NON-STRICT.",
  steps: [
    send(
      textFrame("fragment1", { fin: false }),
      contFrame("fragment2"),
      contFrame("fragment3", { fin: false }),
      textFrame("fragment4"),
    ),
  ],
  expect: { ok: [textMessage("fragment1fragment2")], nonStrict: [], close: serverFails() },
});
for (const [id, fin] of [
  ["5.16", false],
  ["5.17", true],
] as const) {
  const round = [
    contFrame("fragment1", { fin }),
    textFrame("fragment2", { fin: false }),
    contFrame("fragment3"),
  ];
  list.add({
    id,
    group,
    description:
      `Repeated twice: a continuation with FIN = ${fin ? 1 : 0} when there is nothing to continue, ` +
      "then a text message in 2 fragments, in one chop.",
    expectation: failed,
    steps: [send(...round, ...round)],
    expect: { ok: [], close: serverFails() },
  });
}
list.add({
  id: "5.18",
  group,
  description: "Send a text message in 2 fragments whose both frames have opcode text, in one chop.",
  expectation: "RFC 6455 §5.4: a new data frame may not start inside a fragmented message. " + failed,
  steps: [send(textFrame("fragment1", { fin: false }), textFrame("fragment2"))],
  expect: { ok: [], close: serverFails() },
});

const five = ["fragment1", "fragment2", "fragment3", "fragment4", "fragment5"] as const;
const withPings = (frameWise: boolean): Step[] => {
  const emit = (...frames: Buffer[]): Step[] => (frameWise ? sendFrameWise(...frames) : [send(...frames)]);
  return [
    ...emit(textFrame(five[0], { fin: false }), contFrame(five[1], { fin: false }), pingFrame("pongme 1!")),
    pause(200),
    ...emit(
      contFrame(five[2], { fin: false }),
      contFrame(five[3], { fin: false }),
      pingFrame("pongme 2!"),
      contFrame(five[4]),
    ),
  ];
};
for (const [id, frameWise] of [
  ["5.19", false],
  ["5.20", true],
] as const) {
  list.add({
    id,
    group,
    description:
      "A text message in 5 fragments; after the first 2, a ping; a pause; 2 more fragments, " +
      `another ping, the last fragment${frameWise ? " (every frame in its own write)" : ""}.`,
    expectation:
      "The first pong comes before the last fragment is sent; both pongs carry their pings' " +
      "payloads; then the message is echoed whole.",
    steps: withPings(frameWise),
    expect: {
      ok: [pong("pongme 1!"), pong("pongme 2!"), textMessage(five.join(""))],
      close: cleanClientClose,
    },
  });
}

/** Category 5 cases. */
export const fragmentationCases = list.cases;
