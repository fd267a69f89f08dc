/**
 * Category 12: WebSocket compression with different payloads (RFC 7692). The client offers
 * Autobahn's default permessage-deflate (`client_no_context_takeover; client_max_window_bits`),
 * then sends compressed messages of 16 B to 128 KiB, whole and auto-fragmented, one at a time;
 * each echo must inflate to exactly what was sent. A server that declines the offer makes the
 * case UNIMPLEMENTED; one whose answer does not fit the offer, FAILED.
 *
 * 12.6 extends Autobahn: messages of mixed sizes pipelined in one write, so that a server's
 * echoes of small messages (which it sends uncompressed, under its threshold) and of large ones
 * (compressed, asynchronously) must go out in the order of the messages, and a close frame that
 * follows them must wait for their echoes (Autobahn's 7.1.1, with compression).
 * @module
 */
import { Opcode } from "../helpers/raw-client.js";
import {
  binaryMessage,
  CaseList,
  cleanClientClose,
  closeStep,
  message,
  pipelined,
  textMessage,
  type Observed,
  type Step,
} from "./case-kit.js";
import {
  addEchoCases,
  HTML_DATA,
  IMAGE_DATA,
  JSON_DATA,
  PROSE_DATA,
  RANDOM_DATA,
  slicesOf,
  type DataSet,
} from "./compression-kit.js";

/** Autobahn's default offer (autobahn-python's `PerMessageDeflateOffer()`). */
export const DEFAULT_OFFER = "permessage-deflate; client_no_context_takeover; client_max_window_bits";

const list = new CaseList(12);
const sets = [
  { data: JSON_DATA, kind: "utf8" },
  { data: IMAGE_DATA, kind: "binary" },
  { data: PROSE_DATA, kind: "utf8" },
  { data: HTML_DATA, kind: "utf8" },
  { data: RANDOM_DATA, kind: "binary" },
];
sets.forEach(({ data, kind }, i) =>
  addEchoCases(list, i + 1, {
    group: `${data.title} (${kind})`,
    data,
    offer: DEFAULT_OFFER,
    offerText: "Use the default permessage-deflate offer.",
  }),
);

// ---- 12.6: pipelined messages of mixed sizes ---------------------------------------------------

const PIPELINE_GROUP = "Pipelined messages of mixed sizes (extension)";
const alternate = (count: number, small: number, large: number, largeFirst = false): number[] =>
  Array.from({ length: count }, (_, i) => ((i % 2 === 0) !== largeFirst ? small : large));

function addPipelined(
  description: string,
  data: DataSet,
  sizes: readonly number[],
  options: { uncompressed?: (i: number) => boolean; close?: boolean } = {},
): void {
  const opcode = data.binary ? Opcode.Binary : Opcode.Text;
  const event = data.binary ? binaryMessage : textMessage;
  list.add({
    id: `12.6.${list.cases.filter((c) => c.id.startsWith("12.6.")).length + 1}`,
    source: "extension",
    group: PIPELINE_GROUP,
    description,
    expectation: `Every message is echoed, inflating to what was sent, in the order sent${
      options.close ? ", then the close is answered" : ""
    }.`,
    extensions: DEFAULT_OFFER,
    steps: (): Step[] => [
      pipelined(
        ...slicesOf(data, sizes).map((p, i) =>
          message(opcode, p, options.uncompressed?.(i) ? { compress: false } : {}),
        ),
      ),
      ...(options.close ? [closeStep(1000)] : []),
    ],
    expect: {
      ok: (): Observed[] => slicesOf(data, sizes).map((p) => event(p)),
      close: cleanClientClose,
      ...(options.close ? { suppressClose: true } : {}),
    },
    timeoutMs: 10_000,
  });
}

addPipelined(
  "12 text messages of 64 B and 8 KiB alternating, small first, in one write.",
  JSON_DATA,
  alternate(12, 64, 8192),
);
addPipelined(
  "12 text messages of 8 KiB and 64 B alternating, large first, in one write.",
  JSON_DATA,
  alternate(12, 64, 8192, true),
);
addPipelined(
  "12 binary messages of 64 B and 8 KiB alternating, small first, in one write.",
  IMAGE_DATA,
  alternate(12, 64, 8192),
);
addPipelined(
  "60 text messages in one write: every fifth 16 KiB, the others 32 B.",
  HTML_DATA,
  Array.from({ length: 60 }, (_, i) => (i % 5 === 4 ? 16384 : 32)),
);
addPipelined(
  "20 text messages of 16 KiB in one write.",
  PROSE_DATA,
  Array.from({ length: 20 }, () => 16384),
);
addPipelined(
  "12 text messages of 64 B and 8 KiB alternating in one write; the client sends the small ones uncompressed.",
  JSON_DATA,
  alternate(12, 64, 8192),
  { uncompressed: (i) => i % 2 === 0 },
);
addPipelined(
  "12 text messages of 64 B and 8 KiB alternating in one write, all sent uncompressed by the client.",
  JSON_DATA,
  alternate(12, 64, 8192),
  { uncompressed: () => true },
);
addPipelined(
  "Messages of 0 B, 1 B, 1023 B, 1024 B, 1025 B, 128 KiB, 16 B in one write.",
  RANDOM_DATA,
  [0, 1, 1023, 1024, 1025, 131072, 16],
);
addPipelined(
  "Text messages of 64 B and 8 KiB alternating in one write, then a close frame.",
  JSON_DATA,
  alternate(8, 64, 8192),
  { close: true },
);

/** Category 12 cases. */
export const compressionCases = list.cases;
