/**
 * Category 7: the closing handshake (RFC 6455 §5.5.1, §7). A close is answered with a close;
 * nothing is processed after it; close payloads of 1 byte, over 125 bytes, with a reason that
 * is not UTF-8 or with a code that may not be sent (§7.4.1, §7.4.2) fail the connection.
 * @module
 */
import { Opcode } from "../helpers/raw-client.js";
import {
  CaseList,
  CLOSE_INVALID_PAYLOAD,
  CLOSE_NORMAL,
  CLOSE_PROTOCOL_ERROR,
  closeRaw,
  closeStep,
  contFrame,
  frame,
  pingFrame,
  send,
  textFrame,
  textMessage,
  type CloseExpectation,
} from "./case-kit.js";

const list = new CaseList(7);

/** The client closes; the close must end cleanly with the given codes (or none). */
const clientCloses = (codes: readonly number[] = [CLOSE_NORMAL]): CloseExpectation => ({
  closedBy: "client",
  codes,
  requireClean: true,
});
/** The client closes with a bad close frame; the server answers 1002 (or whatever is listed) or drops TCP. */
const clientClosesBadly = (codes: readonly number[] = [CLOSE_PROTOCOL_ERROR]): CloseExpectation => ({
  closedBy: "client",
  codes,
  requireClean: false,
});

const group1 = "Basic close behavior (fuzzer initiated)";
list.add({
  id: "7.1.1",
  group: group1,
  description: "Send a text message, then a close frame.",
  expectation: "The message is echoed, then a clean close with 1000.",
  steps: [send(textFrame("Hello World!")), closeStep(CLOSE_NORMAL)],
  expect: { ok: [textMessage("Hello World!")], close: clientCloses(), suppressClose: true },
});
list.add({
  id: "7.1.2",
  group: group1,
  description: "Send two close frames.",
  expectation: "A clean close with 1000; the second close frame is ignored.",
  steps: [closeStep(CLOSE_NORMAL), send(frame({ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xe8]) }))],
  expect: { ok: [], close: clientCloses(), suppressClose: true },
});
list.add({
  id: "7.1.3",
  group: group1,
  description: "Send a ping after the close frame.",
  expectation: "A clean close with 1000; the ping is not answered.",
  steps: [closeStep(CLOSE_NORMAL), send(pingFrame("Hello World!"))],
  expect: { ok: [], close: clientCloses(), suppressClose: true },
});
list.add({
  id: "7.1.4",
  group: group1,
  description: "Send a text message after the close frame.",
  expectation: "A clean close with 1000; the message is not echoed.",
  steps: [closeStep(CLOSE_NORMAL), send(textFrame("Hello World!"))],
  expect: { ok: [], close: clientCloses(), suppressClose: true },
});
list.add({
  id: "7.1.5",
  group: group1,
  description: "Send a message's first fragment, a close frame, then the last fragment.",
  expectation: "A clean close with 1000; nothing is echoed.",
  steps: [
    send(textFrame("fragment1", { fin: false })),
    closeStep(CLOSE_NORMAL),
    send(contFrame("fragment2")),
  ],
  expect: { ok: [], close: clientCloses(), suppressClose: true },
});
const big = "BAsd7&jh23".repeat((256 * 1024) / 10 + 1).slice(0, 256 * 1024);
list.add({
  id: "7.1.6",
  group: group1,
  description: "Send a 256 KiB text message, a small text message, a close frame and a ping, back to back.",
  expectation:
    "Implementation-defined (INFORMATIONAL): both messages may be echoed before the close, or " +
    "the close may be processed while the echo is being written.",
  steps: [send(textFrame(big), textFrame("Hello World!")), closeStep(CLOSE_NORMAL), send(pingFrame())],
  expect: {
    ok: [textMessage(big), textMessage("Hello World!")],
    nonStrict: [],
    close: clientCloses(),
    suppressClose: true,
    informational: true,
  },
});

const group3 = "Close frame structure: payload length (fuzzer initiated)";
list.add({
  id: "7.3.1",
  group: group3,
  description: "Send a close frame with payload length 0 (no close code, no reason).",
  expectation: "A clean close (1000, or a close frame without code).",
  steps: [closeRaw(Buffer.alloc(0))],
  expect: { ok: [], close: clientCloses(), suppressClose: true },
});
list.add({
  id: "7.3.2",
  group: group3,
  description: "Send a close frame with payload length 1.",
  expectation: "A close with 1002 (protocol error) or a dropped TCP connection.",
  steps: [closeRaw(Buffer.from("a"))],
  expect: { ok: [], close: clientClosesBadly(), suppressClose: true },
});
list.add({
  id: "7.3.3",
  group: group3,
  description: "Send a close frame with payload length 2 (code 1000, no reason).",
  expectation: "A clean close with 1000.",
  steps: [closeStep(CLOSE_NORMAL)],
  expect: { ok: [], close: clientCloses(), suppressClose: true },
});
list.add({
  id: "7.3.4",
  group: group3,
  description: "Send a close frame with code 1000 and a reason.",
  expectation: "A clean close with 1000.",
  steps: [closeStep(CLOSE_NORMAL, "Hello World!")],
  expect: { ok: [], close: clientCloses(), suppressClose: true },
});
list.add({
  id: "7.3.5",
  group: group3,
  description: "Send a close frame with code 1000 and a 123-byte reason (payload length 125, the maximum).",
  expectation: "A clean close with 1000.",
  steps: [closeStep(CLOSE_NORMAL, "*".repeat(123))],
  expect: { ok: [], close: clientCloses(), suppressClose: true },
});
list.add({
  id: "7.3.6",
  group: group3,
  description: "Send a close frame with code 1000 and a 124-byte reason (payload length 126).",
  expectation: "Control frames carry at most 125 bytes: a close with 1002 or a dropped TCP connection.",
  steps: [closeStep(CLOSE_NORMAL, "*".repeat(124))],
  expect: { ok: [], close: clientClosesBadly(), suppressClose: true },
});

list.add({
  id: "7.5.1",
  group: "Close frame structure: payload value (fuzzer initiated)",
  description: "Send a close frame with code 1000 and a reason that is not valid UTF-8.",
  expectation: "A close with 1007 (or 1002), or a dropped TCP connection.",
  steps: [
    closeStep(
      CLOSE_NORMAL,
      Buffer.concat([Buffer.from("cebae1bdb9cf83cebcceb5eda080", "hex"), Buffer.from("edited")]),
    ),
  ],
  expect: {
    ok: [],
    close: clientClosesBadly([CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_PAYLOAD]),
    suppressClose: true,
  },
});

const VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];
VALID.forEach((code, i) => {
  list.add({
    id: `7.7.${i + 1}`,
    group: "Close frame structure: valid close codes (fuzzer initiated)",
    description: `Send a close frame with valid close code ${code}.`,
    expectation: `A clean close with ${code} or 1000.`,
    steps: [closeStep(code)],
    expect: { ok: [], close: clientCloses([CLOSE_NORMAL, code]), suppressClose: true },
  });
});
[1012, 1013, 1014].forEach((code, i) => {
  list.add({
    id: `7.8.${i + 1}`,
    source: "extension",
    group: "Close frame structure: codes registered after RFC 6455 (extension)",
    description: `Send a close frame with close code ${code}, registered with IANA after RFC 6455.`,
    expectation: `A clean close with ${code} or 1000.`,
    steps: [closeStep(code)],
    expect: { ok: [], close: clientCloses([CLOSE_NORMAL, code]), suppressClose: true },
  });
});
const INVALID = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];
INVALID.forEach((code, i) => {
  list.add({
    id: `7.9.${i + 1}`,
    group: "Close frame structure: invalid close codes (fuzzer initiated)",
    description: `Send a close frame with invalid close code ${code}.`,
    expectation: "A close with 1002 or a dropped TCP connection.",
    steps: [closeStep(code)],
    expect: { ok: [], close: clientClosesBadly(), suppressClose: true },
  });
});
list.add({
  id: "7.10.1",
  source: "extension",
  group: "Close frame structure: reserved codes (extension)",
  description: "Send a close frame with close code 1015 (reserved: TLS handshake failure, never sent).",
  expectation: "A close with 1002 or a dropped TCP connection.",
  steps: [closeStep(1015)],
  expect: { ok: [], close: clientClosesBadly(), suppressClose: true },
});
[5000, 65535].forEach((code, i) => {
  list.add({
    id: `7.13.${i + 1}`,
    group: "Informational close information (fuzzer initiated)",
    description: `Send a close frame with close code ${code} (outside every defined range).`,
    expectation: "Implementation-defined (INFORMATIONAL); a close with 1002 is expected.",
    steps: [closeStep(code)],
    expect: { ok: [], close: clientClosesBadly(), suppressClose: true, informational: true },
  });
});

/** Category 7 cases. */
export const closeCases = list.cases;
