/**
 * examples/nginx.conf: undercurrent (examples/http.ts) behind nginx as a reverse proxy. The test
 * takes the example config, points its upstream at the application and its `listen` at a free
 * loopback port, wraps it in a minimal nginx.conf whose every path is in a temp dir, runs
 * Debian's nginx in the foreground, and talks WebSocket through it. nginx is killed by its PID.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { start } from "../../../examples/http.js";
import { program } from "../../helpers/programs.js";
import { TEST, WAIT, checkEcho, checkRefused, checkShutdown, get, withTimeout, type Running } from "./kit.js";

const EXAMPLE = "examples/nginx.conf";
const NGINX = program("nginx");

/** A port that was free a moment ago on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
async function accepting(port: number, child: ChildProcess, log: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + WAIT;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}): ${await log()}`);
    }
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.setTimeout(1000, () => socket.destroy());
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
      socket.once("close", () => resolve(false));
    });
    if (connected) return;
    if (Date.now() > deadline)
      throw new Error(`nginx not accepting on ${port} after ${WAIT} ms: ${await log()}`);
    await sleep(50);
  }
}

/** The example's server block with its upstream and `listen` moved to the test's ports. */
function siteConfig(example: string, appPort: number, proxyPort: number): string {
  const upstream = /^(\s*)server 127\.0\.0\.1:8080;$/m;
  const listen = /^(\s*)listen 80;$/m;
  assert.match(example, upstream, "the example's upstream is 127.0.0.1:8080");
  assert.match(example, listen, "the example listens on 80");
  return example
    .replace(upstream, `$1server 127.0.0.1:${appPort};`)
    .replace(listen, `$1listen 127.0.0.1:${proxyPort};`);
}

describe("behind nginx (examples/nginx.conf)", () => {
  let dir: string | undefined;
  let app: Running | undefined;
  let nginx: ChildProcess | undefined;
  let base: string;

  before(async () => {
    const tmp = await mkdtemp(join(tmpdir(), "undercurrent-nginx-"));
    dir = tmp;
    await chmod(tmp, 0o755); // nginx's workers run as an unprivileged user when started as root
    app = await start(0);
    const example = await readFile(EXAMPLE, "utf8");
    const errorLog = join(tmp, "error.log");
    const log = (): Promise<string> => readFile(errorLog, "utf8").catch(() => "(no error log)");

    // The port is free when picked, but another process could take it first: try again then.
    for (let attempt = 1; ; attempt++) {
      const proxyPort = await freePort();
      await writeFile(join(tmp, "undercurrent.conf"), siteConfig(example, app.port, proxyPort));
      await writeFile(
        join(tmp, "nginx.conf"),
        [
          "daemon off;",
          "worker_processes 1;",
          `pid ${join(tmp, "nginx.pid")};`,
          `error_log ${errorLog} warn;`,
          "events { worker_connections 128; }",
          "http {",
          "  access_log off;",
          ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
            (kind) => `  ${kind}_temp_path ${join(tmp, `${kind}_temp`)};`,
          ),
          `  include ${join(tmp, "undercurrent.conf")};`,
          "}",
          "",
        ].join("\n"),
      );
      const child = spawn(NGINX, ["-p", `${tmp}/`, "-c", join(tmp, "nginx.conf"), "-e", errorLog], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const spawned = new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
      await withTimeout(spawned, WAIT, "spawn nginx");
      nginx = child;
      try {
        await accepting(proxyPort, child, async () => `${stderr}${await log()}`);
        base = `127.0.0.1:${proxyPort}`;
        return;
      } catch (error) {
        await stopNginx();
        if (attempt === 3 || !/Address already in use/.test(String(error))) throw error;
      }
    }
  });

  /** SIGTERM to the master (it stops its workers), SIGKILL if it has not exited in time. */
  async function stopNginx(): Promise<void> {
    const child = nginx;
    nginx = undefined;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    process.kill(child.pid, "SIGTERM");
    try {
      await withTimeout(exited, WAIT, "nginx to exit");
    } catch {
      process.kill(child.pid, "SIGKILL");
    }
  }

  after(async () => {
    await stopNginx();
    await app?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test("the example proxies HTTP/1.1 with the upgrade headers and long read timeouts", TEST, async () => {
    const example = await readFile(EXAMPLE, "utf8");
    assert.match(example, /^\s*proxy_http_version 1\.1;$/m);
    assert.match(example, /^\s*proxy_set_header Upgrade \$http_upgrade;$/m);
    assert.match(example, /^\s*proxy_set_header Connection \$connection_upgrade;$/m);
    assert.match(example, /^\s*proxy_read_timeout 1h;$/m);
  });

  test("a plain request reaches the application through nginx", TEST, async () => {
    const answer = await get(`http://${base}/`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "hello from node:http\n");
    assert.match(String(answer.headers.server), /nginx/);
  });

  test("echoes text and binary through nginx, and answers the client's close code", TEST, async () => {
    await checkEcho(`ws://${base}/echo`);
  });

  test("several clients at once through nginx", TEST, async () => {
    await Promise.all(Array.from({ length: 8 }, () => checkEcho(`ws://${base}/echo`)));
  });

  test("a WebSocket request for another path is refused with 404 through nginx", TEST, async () => {
    await checkRefused(`ws://${base}/elsewhere`, 404);
  });

  // Last: it stops the application.
  test("stopping the application closes clients behind nginx with 1001", TEST, async () => {
    const running = app;
    assert.ok(running);
    app = undefined;
    await checkShutdown(`ws://${base}/echo`, () => running.close());
  });
});
