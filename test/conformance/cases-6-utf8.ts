/**
 * Category 6: UTF-8 handling. RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as
 * UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint
 * MUST _Fail the WebSocket Connection_" (close 1007, §7.4.1).
 *
 * 6.1–6.23 follow Autobahn (its sequences come from Markus Kuhn's UTF-8 decoder stress test);
 * 6.24–6.27 are extensions: code points split across fragments at every byte, invalid
 * sequences split across fragments, and fail-fast for each class of invalid byte, both within
 * one frame delivered in chops and across fragments.
 * @module
 */
import { Opcode } from "../helpers/raw-client.js";
import {
  CaseList,
  checkpoint,
  cleanClientClose,
  CLOSE_INVALID_PAYLOAD,
  contFrame,
  fragments,
  pingFrame,
  pong,
  send,
  splitAt,
  textFrame,
  textMessage,
  timeout,
  type CloseExpectation,
  type Step,
} from "./case-kit.js";
import { failFastIndex, isValidUtf8 } from "./utf8.js";

const list = new CaseList(6);
const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ""), "hex");
const KOSME = hex("ce ba e1 bd b9 cf 83 ce bc ce b5"); // κόσμε
const EDITED = Buffer.from("edited");
const HELLO_UTF8 = Buffer.from("Hello-µ@ßöäüàá-UTF-8!!", "utf8");

/** Autobahn's expectation for invalid UTF-8: the server fails with 1007, and must be the one to. */
const failsUtf8: CloseExpectation = {
  closedBy: "server",
  codes: [CLOSE_INVALID_PAYLOAD],
  requireClean: false,
  wrongEndpointFatal: true,
};
const echoed = "The message is echoed back.";
const failedUtf8 = "The connection is failed (1007): the payload is not valid UTF-8.";

// ---- 6.1–6.4 ------------------------------------------------------------------------------

list.add({
  id: "6.1.1",
  group: "Valid UTF-8 with zero payload fragments",
  description: "Send a text message of length 0.",
  expectation: "An empty text message is echoed back.",
  steps: [send(textFrame(""))],
  expect: { ok: [textMessage("")], close: cleanClientClose },
});
list.add({
  id: "6.1.2",
  group: "Valid UTF-8 with zero payload fragments",
  description: "Send a text message in 3 fragments, each of length 0.",
  expectation: "An empty text message is echoed back.",
  steps: [send(textFrame("", { fin: false }), contFrame("", { fin: false }), contFrame(""))],
  expect: { ok: [textMessage("")], close: cleanClientClose },
});
list.add({
  id: "6.1.3",
  group: "Valid UTF-8 with zero payload fragments",
  description: "Send a text message in 3 fragments; the first and last have length 0.",
  expectation: "The middle fragment's payload is echoed back as one message.",
  steps: [
    send(textFrame("", { fin: false }), contFrame("middle frame payload", { fin: false }), contFrame("")),
  ],
  expect: { ok: [textMessage("middle frame payload")], close: cleanClientClose },
});

const helloCut = Buffer.from("Hello-µ@ßöä", "utf8").length;
list.add({
  id: "6.2.1",
  group: "Valid UTF-8 unfragmented, fragmented on code points and within code points",
  description: "Send a valid UTF-8 text message in one fragment. Payload: Hello-µ@ßöäüàá-UTF-8!!",
  expectation: echoed,
  steps: [send(textFrame(HELLO_UTF8))],
  expect: { ok: [textMessage(HELLO_UTF8)], close: cleanClientClose },
});
list.add({
  id: "6.2.2",
  group: "Valid UTF-8 unfragmented, fragmented on code points and within code points",
  description: "Send the same message in 2 fragments, split on a code point boundary.",
  expectation: echoed,
  steps: [send(...splitAt(Opcode.Text, HELLO_UTF8, [helloCut]))],
  expect: { ok: [textMessage(HELLO_UTF8)], close: cleanClientClose },
});
list.add({
  id: "6.2.3",
  group: "Valid UTF-8 unfragmented, fragmented on code points and within code points",
  description: "Send the same message in fragments of 1 octet, so most frames end inside a code point.",
  expectation: echoed,
  steps: [send(...fragments(Opcode.Text, HELLO_UTF8, 1))],
  expect: { ok: [textMessage(HELLO_UTF8)], close: cleanClientClose },
});
list.add({
  id: "6.2.4",
  group: "Valid UTF-8 unfragmented, fragmented on code points and within code points",
  description: `Send a valid UTF-8 text message in fragments of 1 octet. Payload: 0x${KOSME.toString("hex")}`,
  expectation: echoed,
  steps: [send(...fragments(Opcode.Text, KOSME, 1))],
  expect: { ok: [textMessage(KOSME)], close: cleanClientClose },
});

const INVALID_KOSME = Buffer.concat([KOSME, hex("ed a0 80"), EDITED]);
list.add({
  id: "6.3.1",
  group: "Invalid UTF-8 differently fragmented",
  description: `Send an invalid UTF-8 text message in one fragment. Payload: 0x${INVALID_KOSME.toString("hex")}`,
  expectation: failedUtf8,
  steps: [send(textFrame(INVALID_KOSME))],
  expect: { ok: [], close: failsUtf8 },
});
list.add({
  id: "6.3.2",
  group: "Invalid UTF-8 differently fragmented",
  description: "Send the same invalid UTF-8 text message in fragments of 1 octet.",
  expectation: failedUtf8,
  steps: [send(...fragments(Opcode.Text, INVALID_KOSME, 1))],
  expect: { ok: [], close: failsUtf8 },
});

const failFastExpect = {
  ok: [timeout("A")],
  nonStrict: [timeout("A"), timeout("B")],
  close: failsUtf8,
} as const;

/** Three parts sent as three fragments with checkpoints between them. */
function threeFragments(p1: Buffer, p2: Buffer, p3: Buffer): Step[] {
  return [
    send(textFrame(p1, { fin: false })),
    checkpoint("A"),
    send(contFrame(p2, { fin: false })),
    checkpoint("B"),
    send(contFrame(p3)),
  ];
}

/** Three parts of one frame's payload sent as three chops with checkpoints between them. */
function threeChops(p1: Buffer, p2: Buffer, p3: Buffer): Step[] {
  const whole = textFrame(Buffer.concat([p1, p2, p3]));
  const header = whole.length - p1.length - p2.length - p3.length;
  const a = header + p1.length;
  const b = a + p2.length;
  return [
    send(whole.subarray(0, a)),
    checkpoint("A"),
    send(whole.subarray(a, b)),
    checkpoint("B"),
    send(whole.subarray(b)),
  ];
}

const F4_90_80_80 = hex("f4 90 80 80");
const failFastText =
  "Part 1 is accepted (the first checkpoint passes); the connection is failed (1007) as soon as " +
  "part 2 arrives. Failing only after part 3 (the whole message) is NON-STRICT.";
list.add({
  id: "6.4.1",
  group: "Fail-fast on invalid UTF-8",
  description:
    "Send an invalid UTF-8 text message in 3 fragments, waiting after each: part 1 and 3 are " +
    "valid on their own, part 2 is U+110000 in UTF-8's integer encoding (out of range). " +
    `Parts: 0x${KOSME.toString("hex")} | 0xf4908080 | 0x${EDITED.toString("hex")}`,
  expectation: failFastText,
  steps: threeFragments(KOSME, F4_90_80_80, EDITED),
  expect: failFastExpect,
});
list.add({
  id: "6.4.2",
  group: "Fail-fast on invalid UTF-8",
  description:
    "Same as 6.4.1, but part 2 ends with the octet that makes the payload invalid. " +
    `Parts: 0x${KOSME.toString("hex")} | 0xf490 | 0x8080${EDITED.toString("hex")}`,
  expectation: failFastText,
  steps: threeFragments(KOSME, hex("f4 90"), Buffer.concat([hex("80 80"), EDITED])),
  expect: failFastExpect,
});
list.add({
  id: "6.4.3",
  group: "Fail-fast on invalid UTF-8",
  description: "Same as 6.4.1, but the 3 parts are 3 chops of one frame.",
  expectation: failFastText,
  steps: threeChops(KOSME, F4_90_80_80, EDITED),
  expect: failFastExpect,
});
list.add({
  id: "6.4.4",
  group: "Fail-fast on invalid UTF-8",
  description: "Same as 6.4.2, but the 3 parts are 3 chops of one frame.",
  expectation: failFastText,
  steps: threeChops(KOSME, hex("f4 90"), Buffer.concat([hex("80 80"), EDITED])),
  expect: failFastExpect,
});

// ---- 6.5–6.23: Markus Kuhn's UTF-8 decoder stress test, one frame each ----------------------

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const lonely = ([from, to]: [number, number]): Buffer =>
  Buffer.from(range(from, to).flatMap((b) => [b, 0x20]));
const missingLast = [
  "c0",
  "e080",
  "f08080",
  "f8808080",
  "fc80808080",
  "df",
  "efbf",
  "f7bfbf",
  "fbbfbfbf",
  "fdbfbfbfbf",
].map((h) => hex(h));
const nonCharacters: Buffer[] = [hex("efbfbe"), hex("efbfbf")];
for (const z1 of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
  for (const z2 of [0x8f, 0x9f, 0xaf, 0xbf]) {
    if (z1 === 0xf4 && z2 !== 0x8f) continue; // above U+10FFFF
    for (const z3 of [0xbe, 0xbf]) {
      if (z1 === 0xf0 && z2 === 0x8f) continue; // overlong
      nonCharacters.push(Buffer.from([z1, z2, 0xbf, z3]));
    }
  }
}

/** [sub-category title, payloads]; validity is computed, and matches the stress test's. */
const SEQUENCES: [string, Buffer[]][] = [
  [
    "Some valid UTF-8 sequences",
    [
      Buffer.from("hello$world"),
      Buffer.from("hello¢world"),
      Buffer.from("hello€world"),
      Buffer.from("hello\u{24B62}world"),
      KOSME,
    ],
  ],
  [
    "All prefixes of a valid UTF-8 string that contains multi-byte code points",
    range(1, KOSME.length + 1).map((n) => KOSME.subarray(0, n)),
  ],
  ["First possible sequence of a certain length", ["00", "c280", "e0a080", "f0908080"].map(hex)],
  ["First possible sequence length 5/6 (invalid code points)", ["f888808080", "fc8480808080"].map(hex)],
  ["Last possible sequence of a certain length", ["7f", "dfbf", "efbfbf", "f48fbfbf"].map(hex)],
  [
    "Last possible sequence length 4/5/6 (invalid code points)",
    ["f7bfbfbf", "fbbfbfbfbf", "fdbfbfbfbfbf"].map(hex),
  ],
  ["Other boundary conditions", ["ed9fbf", "ee8080", "efbfbd", "f48fbfbf", "f4908080"].map(hex)],
  [
    "Unexpected continuation bytes",
    [
      ...["80", "bf", "80bf", "80bf80", "80bf80bf", "80bf80bf80", "80bf80bf80bf"].map(hex),
      Buffer.from(range(0x80, 0xbf)),
    ],
  ],
  [
    "Lonely start characters",
    (
      [
        [0xc0, 0xdf],
        [0xe0, 0xef],
        [0xf0, 0xf7],
        [0xf8, 0xfb],
        [0xfc, 0xfd],
      ] as [number, number][]
    ).map(lonely),
  ],
  ["Sequences with last continuation byte missing", missingLast],
  ["Concatenation of incomplete sequences", [Buffer.concat(missingLast)]],
  ["Impossible bytes", ["fe", "ff", "fefeffff"].map(hex)],
  [
    "Examples of an overlong ASCII character",
    ["c0af", "e080af", "f08080af", "f8808080af", "fc80808080af"].map(hex),
  ],
  ["Maximum overlong sequences", ["c1bf", "e09fbf", "f08fbfbf", "f887bfbfbf", "fc83bfbfbfbf"].map(hex)],
  [
    "Overlong representation of the NUL character",
    ["c080", "e08080", "f0808080", "f880808080", "fc8080808080"].map(hex),
  ],
  [
    "Single UTF-16 surrogates",
    ["eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf"].map(hex),
  ],
  [
    "Paired UTF-16 surrogates",
    [
      "eda080edb080",
      "eda080edbfbf",
      "edadbfedb080",
      "edadbfedbfbf",
      "edae80edb080",
      "edae80edbfbf",
      "edafbfedb080",
      "edafbfedbfbf",
    ].map(hex),
  ],
  ["Non-character code points (valid UTF-8)", nonCharacters],
  [
    "Unicode specials (i.e. replacement char)",
    ["efbfb9", "efbfba", "efbfbb", "efbfbc", "efbfbd", "efbfbe", "efbfbf"].map(hex),
  ],
];

SEQUENCES.forEach(([group, payloads], g) => {
  payloads.forEach((payload, j) => {
    const valid = isValidUtf8(payload);
    list.add({
      id: `6.${5 + g}.${j + 1}`,
      group,
      description:
        `Send a text message whose payload is ${valid ? "" : "not "}valid UTF-8, in one fragment. ` +
        `Payload: 0x${payload.toString("hex")}`,
      expectation: valid ? echoed : failedUtf8,
      steps: [send(textFrame(payload))],
      expect: valid ? { ok: [textMessage(payload)], close: cleanClientClose } : { ok: [], close: failsUtf8 },
    });
  });
});

// ---- 6.24: valid code points split across fragments at every byte (extension) -------------

let n = 0;
for (const [name, cp] of [
  ["U+0080", "c280"],
  ["U+00A2", "c2a2"],
  ["U+0800", "e0a080"],
  ["U+20AC", "e282ac"],
  ["U+FFFD", "efbfbd"],
  ["U+10000", "f0908080"],
  ["U+24B62", "f0a4ada2"],
  ["U+10FFFF", "f48fbfbf"],
] as const) {
  const bytes = hex(cp);
  const payload = Buffer.concat([Buffer.from("hello"), bytes, Buffer.from("world")]);
  for (let cut = 1; cut < bytes.length; cut++) {
    list.add({
      id: `6.24.${++n}`,
      source: "extension",
      group: "Code points split across fragments (extension)",
      description: `Send "hello${name}world" in 2 fragments, the first ending after byte ${cut} of ${name} (0x${cp}).`,
      expectation: echoed,
      steps: [send(...splitAt(Opcode.Text, payload, [5 + cut]))],
      expect: { ok: [textMessage(payload)], close: cleanClientClose },
    });
  }
}
{
  const payload = Buffer.concat([Buffer.from("a"), hex("f0a4ada2"), Buffer.from("b")]);
  list.add({
    id: `6.24.${++n}`,
    source: "extension",
    group: "Code points split across fragments (extension)",
    description:
      "Send a 4-byte code point with each byte in its own fragment and a ping after the second byte.",
    expectation: "A pong, then the message echoed whole.",
    steps: [
      send(
        textFrame(payload.subarray(0, 2), { fin: false }),
        contFrame(payload.subarray(2, 3), { fin: false }),
        pingFrame("mid code point"),
        contFrame(payload.subarray(3, 4), { fin: false }),
        contFrame(payload.subarray(4)),
      ),
    ],
    expect: { ok: [pong("mid code point"), textMessage(payload)], close: cleanClientClose },
  });
}

// ---- 6.25: invalid sequences split across fragments (extension) ----------------------------

n = 0;
for (const [what, parts] of [
  [
    "a surrogate (U+D800) whose lead byte ends the first fragment",
    [Buffer.concat([KOSME, hex("ed")]), Buffer.concat([hex("a080"), EDITED])],
  ],
  ["a code point above U+10FFFF split after its lead byte", [hex("68 f4"), hex("90 80 80")]],
  ["an overlong 3-byte '/' split after its lead byte", [hex("68 e0"), hex("80 af")]],
  ["an overlong 4-byte '/' split after 2 bytes", [hex("68 f0 80"), hex("80 af")]],
  ["a lead byte ending a fragment, then ASCII in the next", [hex("68 ce"), Buffer.from("A")]],
  ["a stray continuation byte starting a continuation frame", [Buffer.from("hello"), hex("80 61")]],
  [
    "a message whose last fragment ends inside a code point",
    [Buffer.from("hello"), hex("ce ba e1"), hex("bd")],
  ],
  [
    "a message ending inside a code point, with an empty last fragment",
    [hex("68 65 6c 6c 6f ce"), Buffer.alloc(0)],
  ],
  ["a 4-byte sequence truncated across 3 fragments at the message end", [hex("68 f0"), hex("90"), hex("80")]],
] as [string, readonly Buffer[]][]) {
  const frames = parts.map((p, i) =>
    i === 0 ? textFrame(p, { fin: parts.length === 1 }) : contFrame(p, { fin: i === parts.length - 1 }),
  );
  list.add({
    id: `6.25.${++n}`,
    source: "extension",
    group: "Invalid sequences split across fragments (extension)",
    description: `Send a text message with ${what}. Fragments: ${parts.map((p) => `0x${p.toString("hex")}`).join(" | ")}`,
    expectation: failedUtf8,
    steps: [send(...frames)],
    expect: { ok: [], close: failsUtf8 },
  });
}

// ---- 6.26 / 6.27: fail-fast for every class of invalid byte (extension) -------------------

const FAIL_FAST_CLASSES: [string, Buffer][] = [
  ["a UTF-16 surrogate (ED A0 80)", Buffer.concat([KOSME, hex("ed a0 80"), EDITED])],
  ["an overlong 2-byte sequence (C0 AF)", Buffer.concat([Buffer.from("hello"), hex("c0 af"), EDITED])],
  ["an overlong 3-byte sequence (E0 80 AF)", Buffer.concat([Buffer.from("hello"), hex("e0 80 af"), EDITED])],
  ["a stray continuation byte (80)", Buffer.concat([Buffer.from("hello"), hex("80"), EDITED])],
  ["an impossible byte (FF)", Buffer.concat([Buffer.from("hello"), hex("ff"), EDITED])],
  ["a 5-byte lead (F8 88 80 80 80)", Buffer.concat([Buffer.from("hello"), hex("f8 88 80 80 80"), EDITED])],
  ["a lead byte above U+10FFFF (F5 80 80 80)", Buffer.concat([KOSME, hex("f5 80 80 80"), EDITED])],
  ["a lead byte followed by ASCII (CE 41)", Buffer.concat([KOSME, hex("ce 41"), EDITED])],
];

FAIL_FAST_CLASSES.forEach(([what, payload], i) => {
  const at = failFastIndex(payload);
  if (at < 1) throw new Error(`fail-fast class ${what}: no invalid byte after a valid prefix`);
  const p1 = payload.subarray(0, at);
  const p2 = payload.subarray(at, at + 1);
  const p3 = payload.subarray(at + 1);
  const parts = `0x${p1.toString("hex")} | 0x${p2.toString("hex")} | 0x${p3.toString("hex")}`;
  list.add({
    id: `6.26.${i + 1}`,
    source: "extension",
    group: "Fail-fast within one frame delivered in chops (extension)",
    description:
      `Send one text frame containing ${what} in 3 chops: the valid prefix, the byte that makes ` +
      `it invalid, the rest. Parts: ${parts}`,
    expectation:
      "The connection is failed (1007) as soon as the invalid byte arrives, before the frame is " +
      "complete. Failing only once the frame is complete is NON-STRICT.",
    steps: threeChops(p1, p2, p3),
    expect: failFastExpect,
  });
});
FAIL_FAST_CLASSES.forEach(([what, payload], i) => {
  const at = failFastIndex(payload);
  const p1 = payload.subarray(0, at);
  const p2 = payload.subarray(at, at + 1);
  const p3 = payload.subarray(at + 1);
  list.add({
    id: `6.27.${i + 1}`,
    source: "extension",
    group: "Fail-fast across fragments (extension)",
    description:
      `Send a text message containing ${what} in 3 fragments: the valid prefix, the byte that ` +
      `makes it invalid, the rest, waiting after each.`,
    expectation:
      "The connection is failed (1007) as soon as the second fragment arrives. Failing only at " +
      "the end of the message is NON-STRICT.",
    steps: threeFragments(p1, p2, p3),
    expect: failFastExpect,
  });
});

/** Category 6 cases. */
export const utf8Cases = list.cases;
