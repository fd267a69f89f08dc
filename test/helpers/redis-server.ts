/**
 * A throwaway `redis-server` for tests: on a free loopback port, with persistence off
 * (`--save "" --appendonly no`), stopped by its PID. `stop()` then `start()` restarts it on the
 * same port, to test what clients do through an outage.
 *
 * @example
 * ```ts
 * const redis = await startRedisServer();
 * const broker = new RedisBroker({ url: redis.url });
 * // …
 * await broker.close();
 * await redis.stop();
 * ```
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { once } from "node:events";
import { program } from "./programs.js";

/** A running (or stopped) redis-server this test started. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The PID of the running server, undefined while stopped. */
  readonly pid: number | undefined;
  /** Starts it again on the same port (after `stop()`). */
  start(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT = 10_000;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}

function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    program("redis-server"),
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "notice",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`redis-server did not start within ${STARTUP_TIMEOUT} ms:\n${output}`));
    }, STARTUP_TIMEOUT);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        child.stdout!.resume();
        resolve(child);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run redis-server: ${error.message}`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${String(code)}:\n${output}`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Starts a redis-server on 127.0.0.1 and a free port; retries if the port was taken meanwhile. */
export async function startRedisServer(): Promise<RedisServer> {
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 1; child === undefined; attempt++) {
    port = await freePort();
    try {
      child = await launch(port);
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    async start() {
      if (child !== undefined) return;
      child = await launch(port);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (running !== undefined) await stopChild(running);
    },
  };
}
