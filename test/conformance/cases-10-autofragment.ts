/**
 * Category 10: auto-fragmentation. A message sent in many fragments must come back whole,
 * whatever fragmentation the server applies on its side.
 * @module
 */
import { Opcode } from "../helpers/raw-client.js";
import { binaryMessage, CaseList, cleanClientClose, fragments, send, textMessage } from "./case-kit.js";

const list = new CaseList(10);
const text = "*".repeat(65536);
const binary = Buffer.alloc(65536, 0xfe);

list.add({
  id: "10.1.1",
  group: "Auto-fragmentation",
  description: "Send a text message of 65536 bytes auto-fragmented into frames of 1300 bytes.",
  expectation: "The message is echoed whole.",
  steps: [send(...fragments(Opcode.Text, text, 1300))],
  expect: { ok: [textMessage(text)], close: cleanClientClose },
});
list.add({
  id: "10.1.2",
  source: "extension",
  group: "Auto-fragmentation",
  description: "Send a binary message of 65536 bytes auto-fragmented into frames of 1300 bytes.",
  expectation: "The message is echoed whole.",
  steps: [send(...fragments(Opcode.Binary, binary, 1300))],
  expect: { ok: [binaryMessage(binary)], close: cleanClientClose },
});

/** Category 10 cases. */
export const autoFragmentationCases = list.cases;
