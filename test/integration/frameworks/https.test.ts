/**
 * examples/https.ts: undercurrent on node:https, clients on wss://. The test makes a
 * self-signed certificate for localhost and 127.0.0.1 with the openssl CLI
 * (test/helpers/certificate.ts), and the clients trust exactly that certificate.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { start } from "../../../examples/https.js";
import { selfSignedCertificate, type Certificate } from "../../helpers/certificate.js";
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
  let certificate: Certificate | undefined;
  let certPath: string;
  let keyPath: string;
  let cert: Buffer;
  let key: Buffer;
  let app: Running;
  let base: string;

  before(async () => {
    certificate = await selfSignedCertificate(WAIT);
    ({ cert, key, certPath, keyPath } = certificate);
    app = await start(0, { cert, key });
    base = `127.0.0.1:${app.port}`;
  });

  after(async () => {
    await app?.close();
    await certificate?.remove();
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
