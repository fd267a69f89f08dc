/**
 * What categories 12 and 13 share: the table of message sizes and auto-fragment sizes, the
 * test data, and the case shape (Autobahn's `Case12_X_X`): send one compressed message, wait
 * for its echo, send the next; OK when every echo inflates to exactly what was sent, in order.
 *
 * Autobahn sends 1000 messages per case and reads its test data from files (a JSON document,
 * an HTML page, Goethe's Faust, a bitmap, a PDF). Here the data is generated (deterministic,
 * with the same character: structured text, prose with non-ASCII UTF-8, an image, random
 * bytes) and the message count is scaled to a byte budget per case, so that the two categories
 * run in seconds; every message still differs from the one before, so context takeover is
 * exercised across messages.
 * @module
 */
import { Opcode } from "../helpers/raw-client.js";
import {
  awaitEvents,
  binaryMessage,
  CaseList,
  cleanClientClose,
  message,
  textMessage,
  type Observed,
  type Step,
} from "./case-kit.js";

/** Autobahn's table (`MSG_SIZES`): payload size and auto-fragment size (0: one frame). */
export const MESSAGE_SIZES: ReadonlyArray<{ size: number; fragment: number }> = [
  { size: 16, fragment: 0 },
  { size: 64, fragment: 0 },
  { size: 256, fragment: 0 },
  { size: 1024, fragment: 0 },
  { size: 4096, fragment: 0 },
  { size: 8192, fragment: 0 },
  { size: 16384, fragment: 0 },
  { size: 32768, fragment: 0 },
  { size: 65536, fragment: 0 },
  { size: 131072, fragment: 0 },
  { size: 8192, fragment: 256 },
  { size: 16384, fragment: 256 },
  { size: 32768, fragment: 256 },
  { size: 65536, fragment: 256 },
  { size: 131072, fragment: 256 },
  { size: 131072, fragment: 1024 },
  { size: 131072, fragment: 4096 },
  { size: 131072, fragment: 32768 },
];

/** Payload bytes per case the message count aims at. */
const BYTES_PER_CASE = 192 * 1024;
/** Fewest and most messages per case (Autobahn: always 1000). */
const MIN_MESSAGES = 3;
const MAX_MESSAGES = 24;

/** How many messages a case of this payload size sends. */
export function messageCount(size: number): number {
  return Math.max(MIN_MESSAGES, Math.min(MAX_MESSAGES, Math.floor(BYTES_PER_CASE / size)));
}

// ---- test data ----------------------------------------------------------------------------

/** A deterministic pseudo-random generator (xorshift32), so every run sends the same bytes. */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  /** A 32-bit unsigned integer. */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return this.next() % n;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T;
  }
}

/** Size of each data set: larger than two of the largest messages, so messages differ. */
const DATA_SIZE = 320 * 1024;

function textUntil(size: number, piece: () => string): Buffer {
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const p = piece();
    parts.push(p);
    length += Buffer.byteLength(p);
  }
  return Buffer.from(parts.join(""), "utf8");
}

const WORDS = [
  "der",
  "die",
  "und",
  "Größe",
  "Straße",
  "über",
  "Mädchen",
  "schön",
  "naïve",
  "café",
  "façade",
  "Ελληνικά",
  "λόγος",
  "русский",
  "язык",
  "日本語",
  "文字",
  "한국어",
  "עברית",
  "🙂",
  "🚀",
  "√",
  "€",
  "—",
  "the",
  "of",
  "stream",
  "window",
  "deflate",
  "message",
  "frame",
  "context",
];

/** A message source: its payloads are slices of one generated buffer, taken as a ring. */
export interface DataSet {
  /** Sub-category title, as Autobahn's: what the data is, its type and size. */
  title: string;
  binary: boolean;
  bytes(): Buffer;
}

function memo(make: () => Buffer): () => Buffer {
  let value: Buffer | undefined;
  return () => (value ??= make());
}

/** Structured text: a JSON array of records (ASCII). */
export const JSON_DATA: DataSet = {
  title: "JSON records",
  binary: false,
  bytes: memo(() => {
    const r = new Random(0x5eed1);
    const names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
    let id = 0;
    return textUntil(
      DATA_SIZE,
      () =>
        `{"id":${id++},"name":"${r.pick(names)}-${r.below(1000)}","tags":["${r.pick(names)}","${r.pick(names)}"],` +
        `"score":${(r.below(100000) / 1000).toFixed(3)},"active":${r.below(2) === 1},"parent":${r.below(id)}},\n`,
    );
  }),
};

/** Prose with plenty of non-ASCII UTF-8 (2, 3 and 4-byte sequences). */
export const PROSE_DATA: DataSet = {
  title: "Prose with non-ASCII characters",
  binary: false,
  bytes: memo(() => {
    const r = new Random(0x5eed2);
    return textUntil(DATA_SIZE, () => {
      const words = Array.from({ length: 4 + r.below(12) }, () => r.pick(WORDS));
      return `${words.join(" ")}${r.pick([". ", ", ", "! ", "? ", ".\n"])}`;
    });
  }),
};

/** Markup: an HTML page's worth of nested tags (ASCII). */
export const HTML_DATA: DataSet = {
  title: "HTML markup",
  binary: false,
  bytes: memo(() => {
    const r = new Random(0x5eed3);
    const tags = ["div", "span", "p", "a", "li", "td", "em"];
    const classes = ["row", "cell", "header", "footer", "nav", "item", "active"];
    return textUntil(DATA_SIZE, () => {
      const tag = r.pick(tags);
      return `<${tag} class="${r.pick(classes)} ${r.pick(classes)}" data-id="${r.below(100000)}">item ${r.below(500)} of the list</${tag}>\n`;
    });
  }),
};

/** An 8-bit grey image: smooth gradients with a little noise (compresses moderately). */
export const IMAGE_DATA: DataSet = {
  title: "Greyscale bitmap",
  binary: true,
  bytes: memo(() => {
    const r = new Random(0x5eed4);
    const out = Buffer.allocUnsafe(DATA_SIZE);
    const width = 512;
    for (let i = 0; i < DATA_SIZE; i++) {
      const x = i % width;
      const y = Math.floor(i / width);
      out[i] = (((x * y) >> 7) + ((x + 2 * y) >> 2) + (r.next() & 7)) & 0xff;
    }
    return out;
  }),
};

/** Random bytes: incompressible (deflate must fall back to stored blocks). */
export const RANDOM_DATA: DataSet = {
  title: "Random bytes",
  binary: true,
  bytes: memo(() => {
    const r = new Random(0x5eed5);
    const out = Buffer.allocUnsafe(DATA_SIZE);
    for (let i = 0; i < DATA_SIZE; i += 4) out.writeUInt32LE(r.next(), i);
    return out;
  }),
};

/** Whether `byte` continues a UTF-8 sequence. */
const isContinuation = (byte: number | undefined): boolean => byte !== undefined && (byte & 0xc0) === 0x80;

/**
 * The messages of a case, Autobahn-style: consecutive slices of the data taken as a ring.
 * Text slices are cut at character boundaries and padded with spaces to the exact size, so
 * each is valid UTF-8 of exactly `size` bytes.
 */
export function messagesOf(data: DataSet, size: number, count: number): Buffer[] {
  return slicesOf(
    data,
    Array.from({ length: count }, () => size),
  );
}

/** Like {@link messagesOf}, with each message's size given. */
export function slicesOf(data: DataSet, sizes: readonly number[]): Buffer[] {
  const all = data.bytes();
  const out: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    let slice: Buffer;
    if (at + size <= all.length) slice = all.subarray(at, at + size);
    else slice = Buffer.concat([all.subarray(at), all.subarray(0, at + size - all.length)]);
    at = (at + size) % all.length;
    if (!data.binary) {
      let from = 0;
      while (from < slice.length && isContinuation(slice[from])) from++;
      let to = slice.length;
      // Back up over a sequence the slice cuts short.
      let lead = to;
      while (lead > from && isContinuation(slice[lead - 1])) lead--;
      if (lead > from) {
        const first = slice[lead - 1] as number;
        const length = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
        if (lead - 1 + length > to) to = lead - 1;
      }
      if (from !== 0 || to !== slice.length) {
        slice = Buffer.concat([slice.subarray(from, to), Buffer.alloc(size - (to - from), 0x20)]);
      }
    }
    out.push(slice);
  }
  return out;
}

const sizeName = (n: number): string => (n >= 1024 ? `${n / 1024} KiB` : `${n} B`);

/** Adds the 18 cases of one sub-category: every size of {@link MESSAGE_SIZES}. */
export function addEchoCases(
  list: CaseList,
  subCategory: number,
  options: {
    group: string;
    data: DataSet;
    /** The `Sec-WebSocket-Extensions` offer. */
    offer: string;
    /** How the offer is described in each case's description. */
    offerText: string;
    source?: "autobahn" | "extension";
  },
): void {
  MESSAGE_SIZES.forEach(({ size, fragment }, i) => {
    const count = messageCount(size);
    const opcode = options.data.binary ? Opcode.Binary : Opcode.Text;
    const event = options.data.binary ? binaryMessage : textMessage;
    list.add({
      id: `${list.category}.${subCategory}.${i + 1}`,
      source: options.source,
      group: options.group,
      description:
        `Send ${count} compressed ${options.data.binary ? "binary" : "text"} messages of ${sizeName(size)} one after ` +
        `another${fragment > 0 ? `, auto-fragmented into frames of ${fragment} compressed bytes` : ""}. ${options.offerText}`,
      expectation: "Each message is echoed, in order, inflating to exactly what was sent.",
      extensions: options.offer,
      steps: (): Step[] =>
        messagesOf(options.data, size, count).flatMap((payload, n) => [
          message(opcode, payload, fragment > 0 ? { fragmentSize: fragment } : {}),
          awaitEvents(n + 1),
        ]),
      expect: {
        ok: (): Observed[] => messagesOf(options.data, size, count).map((payload) => event(payload)),
        close: cleanClientClose,
      },
      timeoutMs: 10_000,
    });
  });
}
