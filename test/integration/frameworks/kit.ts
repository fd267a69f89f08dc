/**
 * Shared checks of the framework integration tests: a plain HTTP GET, the echo round trip
 * (text, binary, close codes) with a `ws` client, a refused upgrade, and running an example as
 * its own process the way its header comment says.
 * @module
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { WebSocket, type RawData } from "ws";
import { withTimeout } from "../../helpers/timeout.js";

/** Default limit of every wait, in ms. */
export const WAIT = 10_000;

/** Options of a test: generous, but every test ends. */
export const TEST = { timeout: 30_000 };

/** What an example's `start()` resolves with. */
export interface Running {
  readonly port: number;
  close(): Promise<void>;
}

/** TLS trust for `https:`/`wss:` URLs: the self-signed certificate. */
export interface Trust {
  readonly ca?: string | Buffer;
}

export { withTimeout };

/** A plain response. */
export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** GET `url` (http: or https:) on a fresh connection. */
export function get(url: string, trust: Trust = {}): Promise<Answer> {
  const answer = new Promise<Answer>((resolve, reject) => {
    const options = { agent: false as const, ...(trust.ca === undefined ? {} : { ca: trust.ca }) };
    const request = (url.startsWith("https:") ? https : http).get(url, options, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      response.on("error", reject);
    });
    request.on("error", reject);
  });
  return withTimeout(answer, WAIT, `GET ${url}`);
}

/** One message as the client received it. */
type Received = { readonly text: string } | { readonly data: Buffer };

/** A `ws` client with a message queue and the close it saw. */
export class Client {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #queue: Received[] = [];
  readonly #waiters: Array<(message: Received) => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (raw: RawData, isBinary: boolean) => {
      const data = Array.isArray(raw)
        ? Buffer.concat(raw)
        : raw instanceof ArrayBuffer
          ? Buffer.from(raw)
          : raw;
      const message: Received = isBinary ? { data } : { text: data.toString("utf8") };
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter(message);
      else this.#queue.push(message);
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString("utf8") }));
    });
    ws.on("error", () => {}); // reported through `open()` or `closed`
  }

  /** Connects and waits for the 101. */
  static async open(url: string, trust: Trust = {}): Promise<Client> {
    const ws = new WebSocket(url, trust.ca === undefined ? {} : { ca: trust.ca });
    const client = new Client(ws);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      }),
      WAIT,
      `open ${url}`,
    );
    return client;
  }

  /** The next message. */
  next(): Promise<Received> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return withTimeout(new Promise((resolve) => this.#waiters.push(resolve)), WAIT, "next message");
  }

  /** The close the client saw, within the wait limit. */
  closing(): Promise<{ code: number; reason: string }> {
    return withTimeout(this.closed, WAIT, "close");
  }
}

/**
 * Text (multi-byte UTF-8 included) and binary (past the 64 KiB length form) come back as sent,
 * in order, and the close code the client sends comes back in the server's answer (the reason
 * is not echoed: RFC 6455 §5.5.1 asks only for the code).
 */
export async function checkEcho(url: string, trust: Trust = {}): Promise<void> {
  const client = await Client.open(url, trust);
  const text = "héllo, wörld ✓ 🌊";
  const small = randomBytes(100);
  const large = randomBytes(70_000);
  client.ws.send(text);
  client.ws.send(small);
  client.ws.send(large);
  client.ws.send("");
  assert.deepEqual(await client.next(), { text });
  assert.deepEqual(await client.next(), { data: small });
  assert.deepEqual(await client.next(), { data: large });
  assert.deepEqual(await client.next(), { text: "" });
  client.ws.close(4000, "done here");
  assert.equal((await client.closing()).code, 4000);
}

/** Stopping the application closes an open client with 1001. */
export async function checkShutdown(
  url: string,
  stop: () => Promise<void>,
  trust: Trust = {},
): Promise<void> {
  const client = await Client.open(url, trust);
  client.ws.send("still here?");
  assert.deepEqual(await client.next(), { text: "still here?" });
  await withTimeout(stop(), WAIT, "stop the application");
  const { code } = await client.closing();
  assert.equal(code, 1001);
}

/** A WebSocket request to `url` is refused with `status`, and never opens. */
export async function checkRefused(url: string, status: number, trust: Trust = {}): Promise<void> {
  const ws = new WebSocket(url, trust.ca === undefined ? {} : { ca: trust.ca });
  const refused = new Promise<number>((resolve, reject) => {
    ws.once("open", () => reject(new Error(`${url} opened`)));
    ws.once("unexpected-response", (request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      request.destroy();
    });
    ws.once("error", (error) => reject(error));
  });
  try {
    assert.equal(await withTimeout(refused, WAIT, `refusal of ${url}`), status);
  } finally {
    ws.terminate();
  }
}

/**
 * Runs `node --import tsx <file>` with `env` (PORT=0 and whatever else), waits for the
 * `WebSocket: <url>` it prints, runs `use` against that URL, then sends SIGTERM and expects a
 * clean exit. The child is killed by its PID whatever happens.
 */
export async function runExample(
  file: string,
  env: Record<string, string>,
  use: (url: string) => Promise<void>,
): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", file], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const url = await withTimeout(
      new Promise<string>((resolve, reject) => {
        const look = (): void => {
          const match = /WebSocket: (wss?:\/\/127\.0\.0\.1:\d+\/echo)\)/.exec(output);
          if (match) resolve(match[1]!);
        };
        child.stdout.on("data", look);
        void exited.then((code) => reject(new Error(`${file} exited with ${code}: ${output}`)));
      }),
      20_000,
      `${file} to print its URL`,
    );
    await use(url);
    child.kill("SIGTERM");
    assert.equal(await withTimeout(exited, WAIT, `${file} to exit`), 0, output);
  } finally {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, "SIGKILL");
    }
  }
}
