/**
 * Runs conformance cases against the `ws://` URL of an echo server (text echoed as text,
 * binary as binary) with the raw client, and judges each run with Autobahn's rules.
 *
 * Each case gets its own connection. Small cases run a few at a time; large ones (category 9)
 * run alone afterwards so that they do not disturb the timing of the fail-fast checkpoints.
 * @module
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Opcode, RawClient, type ReceivedFrame } from "../helpers/raw-client.js";
import type { ConformanceCase, MessageStep, Observed, Step } from "./case-kit.js";
import { describeClose, describeEvents, isPrefix, judge, type Judgement, type RunRecord } from "./judge.js";

/** Runner settings; the defaults suit a loaded 2-core machine. */
export interface RunOptions {
  /** Connections open at once for the small cases. Default: 8. */
  concurrency?: number;
  /** How long to wait for the expected events when the connection should stay up. Default: 5000 ms. */
  eventTimeoutMs?: number;
  /** How long to wait for the server to fail the connection when it should. Default: 2000 ms. */
  failTimeoutMs?: number;
  /** How long to wait, once closing, for the server to close TCP. Default: 2000 ms. */
  closeTimeoutMs?: number;
  /** Called after each case, in completion order. */
  onResult?: (result: CaseResult) => void;
}

/** The outcome of one case. */
export interface CaseResult extends Judgement {
  id: string;
  category: number;
  group: string;
  description: string;
  source: ConformanceCase["source"];
  durationMs: number;
  /** What the client sent, decoded frame by frame (masks removed), with the pauses and checkpoints. */
  sent: string;
  /** What came back. */
  received: string;
  /** How the connection ended. */
  closing: string;
}

/** Assembles the server's frames into observed events, incrementally. */
class Observer {
  readonly events: Observed[] = [];
  readonly violations: string[] = [];
  private next = 0;
  private parts: Buffer[] | undefined;
  private binary = false;

  update(frames: readonly ReceivedFrame[]): void {
    for (; this.next < frames.length; this.next++) {
      const f = frames[this.next] as ReceivedFrame;
      switch (f.opcode) {
        case Opcode.Text:
        case Opcode.Binary:
          if (this.parts !== undefined) this.violations.push("server started a message inside another");
          this.binary = f.opcode === Opcode.Binary;
          this.parts = [f.payload];
          if (f.fin) this.flush(f);
          break;
        case Opcode.Continuation:
          if (this.parts === undefined) {
            this.violations.push("server sent a continuation frame with nothing to continue");
            break;
          }
          this.parts.push(f.payload);
          if (f.fin) this.flush(f);
          break;
        case Opcode.Ping:
          this.events.push({ kind: "ping", payload: f.payload });
          break;
        case Opcode.Pong:
          this.events.push({ kind: "pong", payload: f.payload });
          break;
        case Opcode.Close:
          break;
        default:
          this.violations.push(`server sent reserved opcode ${f.opcode}`);
      }
    }
  }

  mark(label: string): void {
    this.events.push({ kind: "timeout", label });
  }

  /** Ends the message at its last frame (whose `inflated` the client set if it was compressed). */
  private flush(last: ReceivedFrame): void {
    const parts = this.parts ?? [];
    this.events.push({
      kind: "message",
      binary: this.binary,
      payload: last.inflated ?? (parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)),
    });
    this.parts = undefined;
  }
}

const OPCODE_NAMES: Record<number, string> = {
  0: "CONT",
  1: "TEXT",
  2: "BINARY",
  8: "CLOSE",
  9: "PING",
  10: "PONG",
};

function describeMessage(s: MessageStep): string {
  const more = [
    s.compress === false ? "uncompressed" : "compressed",
    ...(s.fragmentSize ? [`in frames of ${s.fragmentSize} B`] : []),
  ];
  return `message ${OPCODE_NAMES[s.opcode] ?? s.opcode} ${s.payload.length} B ${more.join(", ")}`;
}

/** Decodes the client's own (masked) frames for the report. */
function describeSent(steps: readonly Step[], max = 12): string {
  const outline: string[] = [];
  const stream: Buffer[] = [];
  for (const s of steps) {
    if (s.kind === "send") {
      stream.push(s.bytes);
      outline.push(`send ${s.bytes.length} B${s.chop ? ` in ${s.chop}-byte chops` : ""}`);
    } else if (s.kind === "close") {
      outline.push(`close(payload 0x${s.payload.toString("hex")})`);
    } else if (s.kind === "message") {
      outline.push(describeMessage(s));
    } else if (s.kind === "messages") {
      const shown = s.items.slice(0, 4).map(describeMessage);
      if (s.items.length > 4) shown.push(`… ${s.items.length - 4} more`);
      outline.push(`${s.items.length} messages in one write (${shown.join("; ")})`);
    } else if (s.kind === "pause") outline.push(`pause ${s.ms} ms`);
    else if (s.kind === "checkpoint") outline.push(`checkpoint ${s.label} (${s.ms} ms)`);
    else outline.push(`await ${s.count}`);
  }
  const bytes = Buffer.concat(stream);
  const frames: string[] = [];
  let off = 0;
  let count = 0;
  while (off + 2 <= bytes.length) {
    const b0 = bytes[off] ?? 0;
    const b1 = bytes[off + 1] ?? 0;
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (p + 2 > bytes.length) break;
      len = bytes.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (p + 8 > bytes.length) break;
      const big = bytes.readBigUInt64BE(p);
      p += 8;
      if (big > BigInt(bytes.length)) {
        frames.push(`${OPCODE_NAMES[b0 & 0xf] ?? `OP${b0 & 0xf}`} declared length ${big}`);
        break;
      }
      len = Number(big);
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? bytes.subarray(p, p + 4) : undefined;
    if (masked) p += 4;
    const payload = Buffer.from(bytes.subarray(p, p + len));
    if (key !== undefined)
      for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (key[i % 4] ?? 0);
    count++;
    if (frames.length < max) {
      const rsv = (b0 >> 4) & 7;
      const head = `${OPCODE_NAMES[b0 & 0xf] ?? `OP${b0 & 0xf}`}${b0 & 0x80 ? "" : " fin=0"}${rsv ? ` rsv=${rsv}` : ""}${masked ? "" : " unmasked"}`;
      const shown = payload.length <= 24 ? `0x${payload.toString("hex")}` : `${payload.length} B`;
      frames.push(`${head} ${shown}`);
    }
    off = p + len;
  }
  if (count > frames.length) frames.push(`… ${count - frames.length} more frames`);
  const compact =
    outline.length > 8 ? [...outline.slice(0, 8), `… ${outline.length - 8} more steps`] : outline;
  return `${frames.join(" | ")}  [${compact.join(", ")}]`;
}

const resolve = <T>(v: T | (() => T)): T => (typeof v === "function" ? (v as () => T)() : v);

/** Runs one case on a fresh connection. */
export async function runCase(
  url: string,
  c: ConformanceCase,
  options: RunOptions = {},
): Promise<CaseResult> {
  const eventTimeoutMs = options.eventTimeoutMs ?? 5000;
  const failTimeoutMs = options.failTimeoutMs ?? 2000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 2000;
  const started = performance.now();
  const steps = resolve(c.steps);
  const ok = resolve(c.expect.ok);
  const base = {
    id: c.id,
    category: c.category,
    group: c.group,
    description: c.description,
    source: c.source,
    sent: describeSent(steps),
  };

  let client: RawClient;
  try {
    client = await RawClient.connect(url, { timeoutMs: 5000, extensions: c.extensions });
  } catch (error) {
    const record: RunRecord = {
      observed: [],
      closeInitiator: undefined,
      serverClose: undefined,
      clientSentClose: false,
      tcpEnd: undefined,
      violations: [],
      error: `handshake failed: ${(error as Error).message}`,
    };
    return {
      ...base,
      ...judge(c.expect, ok, record),
      durationMs: performance.now() - started,
      received: "",
      closing: "",
    };
  }

  const offered = c.extensions === undefined ? "" : `offer "${c.extensions}": `;
  const answer = client.response.headers["sec-websocket-extensions"];
  if (client.extensionError !== undefined) {
    // RFC 6455 §4.1, RFC 7692 §5: the client fails the connection.
    client.destroy();
    return {
      ...base,
      verdict: "FAILED",
      behavior: "FAILED",
      closeBehavior: "FAILED",
      detail: `${offered}${client.extensionError}`,
      durationMs: performance.now() - started,
      received: "",
      closing: `answer ${answer === undefined ? "(none)" : `"${answer}"`}; the client failed the connection`,
    };
  }
  const unimplemented =
    c.extensions !== undefined && client.deflate === undefined
      ? `${offered}the server declined permessage-deflate`
      : undefined;
  const negotiated = answer === undefined ? "" : `extensions "${answer}"; `;

  const observer = new Observer();
  const sync = (): void => observer.update(client.frames);
  const serverEnded = (): boolean => client.serverClose !== undefined || client.tcpEnd !== undefined;
  let error: string | undefined;

  try {
    for (const step of unimplemented === undefined ? steps : []) {
      if (step.kind === "message" || step.kind === "messages") {
        const items = step.kind === "message" ? [step] : step.items;
        const bytes = items.map((m) =>
          client.encodeMessage(m.opcode, m.payload, { compress: m.compress, fragmentSize: m.fragmentSize }),
        );
        await client.send(Buffer.concat(bytes));
      } else if (step.kind === "send") {
        await client.send(step.bytes, { chop: step.chop, delayMs: step.delayMs });
      } else if (step.kind === "close") {
        await client.sendClose({ payload: step.payload });
      } else if (step.kind === "pause") {
        await sleep(step.ms);
      } else if (step.kind === "checkpoint") {
        if (await client.waitFor(serverEnded, step.ms)) break;
        sync();
        observer.mark(step.label);
      } else {
        const reached = await client.waitFor(() => {
          sync();
          return observer.events.length >= step.count || serverEnded();
        }, c.timeoutMs ?? eventTimeoutMs);
        if (!reached || serverEnded()) break;
      }
    }

    if (unimplemented !== undefined) {
      // Autobahn closes at once.
      await client.sendClose({ code: 1000 });
    } else if (c.expect.close.closedBy === "client") {
      // Autobahn's finishWhenDone: close as soon as the events match (or can no longer match).
      await client.waitFor(() => {
        sync();
        return serverEnded() || !isPrefix(observer.events, ok) || observer.events.length >= ok.length;
      }, c.timeoutMs ?? eventTimeoutMs);
      if (!c.expect.suppressClose && client.clientClose === undefined && !serverEnded()) {
        await client.sendClose({ code: 1000 });
      }
    } else {
      // The server should fail the connection; if it does not, the client closes (wrong endpoint).
      if (
        !(await client.waitFor(serverEnded, c.timeoutMs ?? failTimeoutMs)) &&
        client.clientClose === undefined
      ) {
        await client.sendClose({ code: 1000 });
      }
    }
    if (!(await client.waitFor(() => client.isClosed, closeTimeoutMs))) client.destroy();
    await client.closed(2000).catch(() => undefined);
  } catch (e) {
    error = `runner error: ${(e as Error).stack ?? String(e)}`;
    client.destroy();
  }
  sync();

  const record: RunRecord = {
    observed: observer.events,
    closeInitiator: client.closeInitiator,
    serverClose: client.serverClose,
    clientSentClose: client.clientClose !== undefined,
    tcpEnd: client.tcpEnd,
    violations: [...client.violations, ...observer.violations],
    error,
    unimplemented,
  };
  return {
    ...base,
    ...judge(c.expect, ok, record),
    durationMs: performance.now() - started,
    received: describeEvents(observer.events),
    closing: `${negotiated}${describeClose(record)}`,
  };
}

/**
 * Runs every case against `url` and returns the results in the order of `cases`.
 *
 * @example
 * ```ts
 * const results = await runConformance("ws://127.0.0.1:9001", allCases);
 * console.log(formatReport(results));
 * ```
 */
export async function runConformance(
  url: string,
  cases: readonly ConformanceCase[],
  options: RunOptions = {},
): Promise<CaseResult[]> {
  const results = new Map<ConformanceCase, CaseResult>();
  const run = async (c: ConformanceCase): Promise<void> => {
    const result = await runCase(url, c, options);
    results.set(c, result);
    options.onResult?.(result);
  };

  const light = cases.filter((c) => !c.heavy);
  const queue = [...light];
  const workers = Array.from({ length: Math.max(1, options.concurrency ?? 8) }, async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) await run(c);
  });
  await Promise.all(workers);
  for (const c of cases.filter((x) => x.heavy)) await run(c);

  return cases.map((c) => results.get(c) as CaseResult);
}
