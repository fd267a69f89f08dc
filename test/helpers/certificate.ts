/**
 * A self-signed certificate for localhost and 127.0.0.1, made with the openssl CLI for a test
 * run, in a temporary directory that `remove()` deletes. Clients trust exactly it (`ca`).
 *
 * @example
 * ```ts
 * const certificate = await selfSignedCertificate();
 * const server = await serve(handler, { tls: certificate });
 * // …
 * await certificate.remove();
 * ```
 * @module
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { program } from "./programs.js";

/** A certificate and its key, as PEM bytes and as files. */
export interface Certificate {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certPath: string;
  readonly keyPath: string;
  /** Deletes the files. */
  remove(): Promise<void>;
}

/** Makes a one-day self-signed RSA certificate for `localhost` and `127.0.0.1`. */
export async function selfSignedCertificate(timeoutMs = 10_000): Promise<Certificate> {
  const dir = await mkdtemp(join(tmpdir(), "undercurrent-tls-"));
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  try {
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
      { timeout: timeoutMs },
    );
    const [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)]);
    return { cert, key, certPath, keyPath, remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
