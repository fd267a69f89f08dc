/**
 * `npm run bench:micro`: the receive path in one process, undercurrent next to `ws`.
 *
 * - Parsing: masked binary frames of 125 B, 16 KiB and 1 MiB, fed in 64 KiB slices (what a
 *   socket read gives) to our {@link ProtocolConnection} and to ws's own `Receiver`
 *   (`ws/lib/receiver.js`, the Writable `ws` writes socket data into). Frames/s and MiB/s.
 * - Unmasking: our {@link unmask} against ws's `bufferUtil.unmask` (`ws/lib/buffer-util.js`,
 *   which uses the native `bufferutil` package when it is installed and a byte loop otherwise).
 *
 * Both sides unmask in place. XOR with the same key twice restores the bytes, so the same input is
 * parsed again and again without copies: payloads alternate between masked and plain, which
 * does not matter for binary frames. Rounds alternate between the two implementations; each
 * figure is the median of the rounds. `--rounds N` (default 5), `--round-ms MS` (default 150).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { ProtocolConnection } from "../src/protocol/connection.js";
import { unmask } from "../src/protocol/mask.js";

interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: "error", listener: (error: Error) => void): this;
}
type WsReceiverClass = new (options: {
  isServer: boolean;
  maxPayload: number;
  binaryType: "nodebuffer";
  allowSynchronousEvents: boolean;
}) => WsReceiver;
interface WsBufferUtil {
  unmask(buffer: Buffer, mask: Buffer): void;
}

// ws's package.json exports only its entry points: its modules are loaded by file path.
const require = createRequire(import.meta.url);
const wsDir = dirname(require.resolve("ws"));
const Receiver = require(join(wsDir, "lib", "receiver.js")) as WsReceiverClass;
const bufferUtil = require(join(wsDir, "lib", "buffer-util.js")) as WsBufferUtil;
const wsVersion = (require("ws/package.json") as { version: string }).version;
const nativeBufferUtil = ((): boolean => {
  try {
    require.resolve("bufferutil");
    return process.env["WS_NO_BUFFER_UTIL"] === undefined;
  } catch {
    return false;
  }
})();

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    "round-ms": { type: "string", default: "150" },
  },
});
const ROUNDS = Number(values.rounds);
const ROUND_MS = Number(values["round-ms"]);
const READ = 64 * 1024;
const MAX_PAYLOAD = 64 * 1024 * 1024;

/** Masked client frames of `size` bytes, each with its own non-zero key, back to back. */
function maskedFrames(size: number, count: number): Buffer {
  const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
  const frame = header + 4 + size;
  const out = Buffer.alloc(frame * count);
  let seed = 0x9e3779b9;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  for (let f = 0; f < count; f++) {
    const at = f * frame;
    out[at] = 0x82;
    if (size < 126) out[at + 1] = 0x80 | size;
    else if (size < 65536) {
      out[at + 1] = 0x80 | 126;
      out.writeUInt16BE(size, at + 2);
    } else {
      out[at + 1] = 0x80 | 127;
      out.writeBigUInt64BE(BigInt(size), at + 2);
    }
    let key = next() | 0x01010101;
    out.writeUInt32BE(key >>> 0, at + header);
    key >>>= 0;
    const payload = at + header + 4;
    for (let i = 0; i < size; i++)
      out[payload + i] = (next() & 0xff) ^ ((key >>> ((3 - (i & 3)) << 3)) & 0xff);
  }
  return out;
}

function slices(input: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i += READ) out.push(input.subarray(i, Math.min(i + READ, input.length)));
  return out;
}

/** Runs `pass` (which handles `units` units) repeatedly for about ROUND_MS; returns units/s. */
function round(pass: () => void, units: number): number {
  const start = process.hrtime.bigint();
  const budget = BigInt(ROUND_MS) * 1_000_000n;
  let passes = 0;
  let elapsed = 0n;
  do {
    pass();
    passes++;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  return (passes * units) / (Number(elapsed) / 1e9);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Alternates rounds of the two sides after one warm-up round each; medians. */
function compare(ours: () => void, theirs: () => void, units: number): { ours: number; ws: number } {
  round(ours, units);
  round(theirs, units);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    a.push(round(ours, units));
    b.push(round(theirs, units));
  }
  return { ours: median(a), ws: median(b) };
}

interface Line {
  what: string;
  size: string;
  unit: string;
  ours: number;
  ws: number;
}
const lines: Line[] = [];

// ------------------------------------------------------------------ parsing

for (const [label, size, count] of [
  ["125 B", 125, 2048],
  ["16 KiB", 16 * 1024, 64],
  ["1 MiB", 1024 * 1024, 4],
] as const) {
  const input = slices(maskedFrames(size, count));

  const ourConnection = new ProtocolConnection({ maxPayload: MAX_PAYLOAD, maxFragments: 1 << 20 });
  let ourMessages = 0;
  const ours = (): void => {
    for (const chunk of input) {
      ourConnection.receive(chunk);
      for (let e = ourConnection.nextEvent(); e !== undefined; e = ourConnection.nextEvent()) {
        if (e.type === "binary") ourMessages++;
        else throw new Error(`undercurrent: unexpected ${e.type} event`);
      }
    }
  };

  const receiver = new Receiver({
    isServer: true,
    maxPayload: MAX_PAYLOAD,
    binaryType: "nodebuffer",
    allowSynchronousEvents: true,
  });
  let wsMessages = 0;
  receiver.on("message", () => wsMessages++);
  receiver.on("error", (error) => {
    throw error;
  });
  const theirs = (): void => {
    for (const chunk of input) receiver.write(chunk);
  };

  const result = compare(ours, theirs, count);
  // Both parsers must have seen every frame of every pass.
  if (ourMessages === 0 || ourMessages % count !== 0)
    throw new Error(`undercurrent parsed ${ourMessages} frames`);
  if (wsMessages === 0 || wsMessages % count !== 0) throw new Error(`ws parsed ${wsMessages} frames`);
  lines.push({ what: "parse masked frames", size: label, unit: "frames/s", ...result });
  lines.push({
    what: "parse masked frames",
    size: label,
    unit: "MiB/s",
    ours: (result.ours * size) / 2 ** 20,
    ws: (result.ws * size) / 2 ** 20,
  });
}

// ------------------------------------------------------------------ unmasking

for (const [label, size] of [
  ["125 B", 125],
  ["16 KiB", 16 * 1024],
  ["1 MiB", 1024 * 1024],
] as const) {
  // Many buffers for the small size, so a pass is long enough to time.
  const copies = Math.max(1, Math.floor((256 * 1024) / size));
  const buffers = Array.from({ length: copies }, (_, i) => Buffer.alloc(size, i & 0xff));
  const key = 0x37fa213d;
  const keyBytes = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const ours = (): void => {
    for (const b of buffers) unmask(b, 0, b.length, key, 0);
  };
  const theirs = (): void => {
    for (const b of buffers) bufferUtil.unmask(b, keyBytes);
  };
  const result = compare(ours, theirs, copies * size);
  lines.push({
    what: "unmask in place",
    size: label,
    unit: "GB/s",
    ours: result.ours / 1e9,
    ws: result.ws / 1e9,
  });
}

// ------------------------------------------------------------------ report

const fmt = (n: number): string =>
  n >= 100 ? Math.round(n).toLocaleString("en-US") : n >= 10 ? n.toFixed(1) : n.toFixed(2);
console.log(
  `node ${process.version}, ws ${wsVersion} (bufferutil: ${nativeBufferUtil ? "native" : "not installed, JS loop"}); ` +
    `${ROUNDS} rounds of ${ROUND_MS} ms per side, medians; input fed in ${READ / 1024} KiB slices\n`,
);
console.log("| benchmark | size | unit | undercurrent | ws | ratio ours/ws |");
console.log("| --- | --- | --- | ---: | ---: | ---: |");
for (const l of lines) {
  console.log(
    `| ${l.what} | ${l.size} | ${l.unit} | ${fmt(l.ours)} | ${fmt(l.ws)} | ${(l.ours / l.ws).toFixed(2)}× |`,
  );
}
