/**
 * A development certificate for the demo's HTTPS side: `TLS_CERT` and `TLS_KEY` (PEM files)
 * when given; else a self-signed one for `localhost` and `127.0.0.1`, made once with the
 * `openssl` command line (which Debian's ca-certificates already brings) and kept in
 * `.dev-tls/` in the working directory, so a browser that was told to trust it once keeps doing
 * so across restarts. Not for production: a browser warns about it, as it should.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

/** A certificate and its key, PEM, and where they came from. */
export interface DevCertificate {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** "TLS_CERT/TLS_KEY", or the folder of the generated certificate. */
  readonly source: string;
}

const DIR = ".dev-tls";

/** The certificate to serve HTTPS with, or why there is none (no openssl, say). */
export async function devCertificate(): Promise<DevCertificate | { readonly missing: string }> {
  const certPath = process.env["TLS_CERT"];
  const keyPath = process.env["TLS_KEY"];
  if (certPath !== undefined && keyPath !== undefined) {
    return { cert: await readFile(certPath), key: await readFile(keyPath), source: "TLS_CERT/TLS_KEY" };
  }
  const cert = join(DIR, "cert.pem");
  const key = join(DIR, "key.pem");
  try {
    return { cert: await readFile(cert), key: await readFile(key), source: DIR };
  } catch {
    // Not made yet.
  }
  try {
    await mkdir(DIR, { recursive: true });
    await promisify(execFile)(
      process.env["OPENSSL"] ?? "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "365",
        "-keyout",
        key,
        "-out",
        cert,
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ],
      { timeout: 30_000 },
    );
    return { cert: await readFile(cert), key: await readFile(key), source: DIR };
  } catch (error) {
    return {
      missing: `no certificate: openssl failed (${(error as Error).message.split("\n")[0]}); set TLS_CERT and TLS_KEY`,
    };
  }
}
