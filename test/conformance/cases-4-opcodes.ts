/**
 * Category 4: reserved opcodes. RFC 6455 §5.2: "If an unknown opcode is received, the receiving
 * endpoint MUST _Fail the WebSocket Connection_." 3–7 are reserved non-control opcodes,
 * 0xB–0xF reserved control opcodes.
 * @module
 */
import {
  CaseList,
  frame,
  pingFrame,
  send,
  sendFrameWise,
  serverFails,
  textFrame,
  textMessage,
} from "./case-kit.js";

const list = new CaseList(4);
const hello = "Hello, world!";
const payload = "reserved opcode payload";

for (const [sub, base, kind] of [
  [1, 3, "non-control"],
  [2, 11, "control"],
] as const) {
  const group = `Reserved ${kind} opcodes`;
  list.add({
    id: `4.${sub}.1`,
    group,
    description: `Send a frame with reserved ${kind} opcode ${base}.`,
    expectation: "The connection is failed (1002).",
    steps: [send(frame({ opcode: base }))],
    expect: { ok: [], close: serverFails() },
  });
  list.add({
    id: `4.${sub}.2`,
    group,
    description: `Send a frame with reserved ${kind} opcode ${base + 1} and a non-empty payload.`,
    expectation: "The connection is failed (1002).",
    steps: [send(frame({ opcode: base + 1, payload }))],
    expect: { ok: [], close: serverFails() },
  });
  const echoThenFail =
    "The text message is echoed, then the connection is failed (1002); no pong. Failing before " +
    "the echo is NON-STRICT.";
  list.add({
    id: `4.${sub}.3`,
    group,
    description: `Send a small text message, then a frame with reserved opcode ${base + 2}, then a ping.`,
    expectation: echoThenFail,
    steps: [send(textFrame(hello), frame({ opcode: base + 2 }), pingFrame())],
    expect: { ok: [textMessage(hello)], nonStrict: [], close: serverFails() },
  });
  list.add({
    id: `4.${sub}.4`,
    group,
    description: `Send a small text message, then a frame with reserved opcode ${base + 3} and a payload, then a ping.`,
    expectation: echoThenFail,
    steps: [send(textFrame(hello), frame({ opcode: base + 3, payload }), pingFrame())],
    expect: { ok: [textMessage(hello)], nonStrict: [], close: serverFails() },
  });
  list.add({
    id: `4.${sub}.5`,
    group,
    description: `Send a small text message, then a frame with reserved opcode ${base + 4} and a payload, then a ping, frame-wise.`,
    expectation: echoThenFail,
    steps: sendFrameWise(textFrame(hello), frame({ opcode: base + 4, payload }), pingFrame()),
    expect: { ok: [textMessage(hello)], nonStrict: [], close: serverFails() },
  });
}

/** Category 4 cases. */
export const opcodeCases = list.cases;
