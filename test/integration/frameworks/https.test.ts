/**
 * examples/https.ts: undercurrent on node:https, clients on wss://. The test makes a
 * self-signed certificate for localhost and 127.0.0.1 with the openssl CLI, and the clients
 * trust exactly that certificate.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { WebSocket } from "ws";
import { start } from "../../../examples/https.js";
import { program } from "../../helpers/programs.js";
import {
  TEST,
  WAIT,
  checkEcho,
  checkRefused,
  checkShutdown,
  get,
  runExample,
  withTimeout,
  type Running,
} from "./kit.js";

describe("node:https and wss:// (examples/https.ts)", () => {
  let dir: string;
  let certPath: string;
  let keyPath: string;
  let cert: Buffer;
  let key: Buffer;
  let app: Running;
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "undercurrent-https-"));
    certPath = join(dir, "cert.pem");
    keyPath = join(dir, "key.pem");
    // execFile's own timeout kills openssl if it hangs.
    await promisify(execFile)(
      program("openssl"),
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        keyPath,
        "-out",
        certPath,
      ],
      { timeout: WAIT },
    );
    [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)]);
    app = await start(0, { cert, key });
    base = `127.0.0.1:${app.port}`;
  });

  after(async () => {
    await app?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test("a plain request is answered over TLS", TEST, async () => {
    const answer = await get(`https://${base}/`, { ca: cert });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "hello from node:https\n");
  });

  test("wss:// echoes text and binary, and answers the client's close code", TEST, async () => {
    await checkEcho(`wss://${base}/echo`, { ca: cert });
  });

  test("the certificate is checked: a client that does not trust it is refused", TEST, async () => {
    const ws = new WebSocket(`wss://${base}/echo`);
    const failed = new Promise<Error>((resolve, reject) => {
      ws.once("open", () => reject(new Error("opened without trusting the certificate")));
      ws.once("error", resolve);
    });
    try {
      const error = await withTimeout(failed, WAIT, "TLS failure");
      assert.match(error.message, /self[- ]signed/i);
    } finally {
      ws.terminate();
    }
  });

  test("a wss:// request for another path is refused with 404", TEST, async () => {
    await checkRefused(`wss://${base}/elsewhere`, 404, { ca: cert });
  });

  test("closing the application closes wss:// clients with 1001", TEST, async () => {
    const other = await start(0, { cert, key });
    await checkShutdown(`wss://127.0.0.1:${other.port}/echo`, () => other.close(), { ca: cert });
  });

  test("runs on its own with TLS_CERT, TLS_KEY and PORT", TEST, async () => {
    await runExample("examples/https.ts", { PORT: "0", TLS_CERT: certPath, TLS_KEY: keyPath }, (url) =>
      checkEcho(url, { ca: cert }),
    );
  });
});
