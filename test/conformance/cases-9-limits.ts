/**
 * Category 9: limits and performance. Large messages in one frame and in many fragments,
 * large frames written in small chops, and many small round trips. The server under test must
 * accept messages of 16 MiB. Each case is OK when every echo comes back intact.
 * @module
 */
import { Opcode } from "../helpers/raw-client.js";
import {
  binaryMessage,
  CaseList,
  cleanClientClose,
  fragments,
  sendChopped,
  textMessage,
  type Observed,
  type Step,
} from "./case-kit.js";
import { buildFrame } from "../helpers/raw-client.js";

const list = new CaseList(9);
const KiB = 1024;
const MiB = 1024 * KiB;

function textPayload(length: number): Buffer {
  const unit = Buffer.from("BAsd7&jh23");
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i += unit.length) unit.copy(out, i, 0, Math.min(unit.length, length - i));
  return out;
}
function binaryPayload(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}
const size = (n: number): string => (n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} B`);
const timeoutFor = (bytes: number): number => 10_000 + Math.ceil(bytes / MiB) * 1500;

const kinds = [
  { name: "text", opcode: Opcode.Text, payload: textPayload, message: textMessage },
  { name: "binary", opcode: Opcode.Binary, payload: binaryPayload, message: binaryMessage },
] as const;

kinds.forEach((kind, k) => {
  [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB].forEach((length, i) => {
    list.add({
      id: `9.${1 + k}.${i + 1}`,
      group: `Limits: large ${kind.name} messages in one frame`,
      description: `Send a ${kind.name} message of ${size(length)} in one frame.`,
      expectation: "The message is echoed with the same payload.",
      steps: () => [
        { kind: "send", bytes: buildFrame({ opcode: kind.opcode, payload: kind.payload(length) }) },
      ],
      expect: { ok: () => [kind.message(kind.payload(length))], close: cleanClientClose },
      timeoutMs: timeoutFor(length),
      heavy: true,
    });
  });
});

kinds.forEach((kind, k) => {
  [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB].forEach((fragment, i) => {
    list.add({
      id: `9.${3 + k}.${i + 1}`,
      group: `Limits: fragmented ${kind.name} messages`,
      description: `Send a ${kind.name} message of 4 MiB in fragments of ${size(fragment)}.`,
      expectation: "The message is echoed whole.",
      steps: () => [
        { kind: "send", bytes: Buffer.concat(fragments(kind.opcode, kind.payload(4 * MiB), fragment)) },
      ],
      expect: { ok: () => [kind.message(kind.payload(4 * MiB))], close: cleanClientClose },
      timeoutMs: timeoutFor(4 * MiB),
      heavy: true,
    });
  });
});

kinds.forEach((kind, k) => {
  [64, 128, 256, 512, 1024, 2048].forEach((chopSize, i) => {
    list.add({
      id: `9.${5 + k}.${i + 1}`,
      group: `Limits: ${kind.name} frames written in chops`,
      description: `Send a ${kind.name} message of 1 MiB in one frame, written in chops of ${chopSize} octets.`,
      expectation: "The message is echoed with the same payload.",
      steps: () => [
        sendChopped([buildFrame({ opcode: kind.opcode, payload: kind.payload(MiB) })], chopSize, 0),
      ],
      expect: { ok: () => [kind.message(kind.payload(MiB))], close: cleanClientClose },
      timeoutMs: timeoutFor(MiB),
      heavy: true,
    });
  });
});

kinds.forEach((kind, k) => {
  [0, 16, 64, 256, 1024, 4096].forEach((length, i) => {
    const payload = kind.payload(length);
    const steps = (): Step[] =>
      Array.from({ length: 1000 }, (_, m): Step[] => [
        { kind: "send", bytes: buildFrame({ opcode: kind.opcode, payload }) },
        { kind: "await", count: m + 1 },
      ]).flat();
    const ok = (): Observed[] => Array.from({ length: 1000 }, () => kind.message(payload));
    list.add({
      id: `9.${7 + k}.${i + 1}`,
      group: `Limits: ${kind.name} round trips`,
      description: `Send 1000 ${kind.name} messages of ${size(length)}, each after the previous echo.`,
      expectation: "1000 echoes, in order.",
      steps,
      expect: { ok, close: cleanClientClose },
      timeoutMs: 20_000,
      heavy: true,
    });
  });
});

/** Category 9 cases. */
export const limitCases = list.cases;
