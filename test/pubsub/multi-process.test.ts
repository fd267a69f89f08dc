/**
 * Two server processes joined through a real redis-server, two clients on each: every message
 * published on either process reaches all four clients exactly once, in its publisher's order.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { withTimeout } from "../helpers/echo-server.js";
import { startRedisServer } from "../helpers/redis-server.js";
import { SubscriberClient, WAIT } from "./fixtures.js";

const SCRIPT = fileURLToPath(new URL("./fixtures/topic-process.ts", import.meta.url));

/** A server process and its stdin/stdout command channel. */
class ServerProcess {
  readonly child: ChildProcess;
  readonly #lines: AsyncIterator<string>;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ["--import", "tsx", SCRIPT], {
      env: { ...process.env, ...env },
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.#lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  async next(label: string): Promise<Record<string, unknown>> {
    const line = await withTimeout(this.#lines.next(), WAIT, `server process: ${label}`);
    if (line.done === true) throw new Error(`server process exited before ${label}`);
    return JSON.parse(line.value) as Record<string, unknown>;
  }

  async send(command: object, label: string): Promise<Record<string, unknown>> {
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
    return this.next(label);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    try {
      await this.send({ cmd: "close" }, "close");
      await withTimeout(exited, WAIT, "server process exit");
    } catch {
      this.child.kill("SIGKILL");
      await exited;
    }
  }
}

test("two server processes share topics through Redis", { timeout: 90_000 }, async (t) => {
  const redis = await startRedisServer();
  const env = { REDIS_URL: redis.url, PREFIX: "multi:" };
  const processes = [new ServerProcess(env), new ServerProcess(env)] as const;
  const clients: SubscriberClient[] = [];
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(processes.map((p) => p.stop()));
    await redis.stop();
  });
  const urls = await Promise.all(processes.map(async (p) => String((await p.next("listening")).url)));

  for (const url of urls) {
    for (const id of ["x", "y"]) clients.push(await SubscriberClient.connect(`${url}/?id=${id}&topics=room`));
  }
  await Promise.all(processes.map((p) => p.send({ cmd: "settle" }, "settle")));

  const count = 500;
  const [one, two] = await Promise.all([
    processes[0].send({ cmd: "burst", topic: "room", count, tag: "p1" }, "burst p1"),
    processes[1].send({ cmd: "burst", topic: "room", count, tag: "p2" }, "burst p2"),
  ]);
  assert.equal(one!.written, 2 * count, "each process writes to its own two subscribers");
  assert.equal(two!.written, 2 * count);

  const expected = (tag: string): string[] => Array.from({ length: count }, (_, i) => `${tag}:${i}`);
  for (const client of clients) {
    await client.waitFor(2 * count, "both bursts", 30_000);
    assert.deepEqual(
      client.texts.filter((m) => m.startsWith("p1:")),
      expected("p1"),
    );
    assert.deepEqual(
      client.texts.filter((m) => m.startsWith("p2:")),
      expected("p2"),
    );
  }
  // A last message from each side: nothing arrived twice in the meantime.
  await processes[0].send({ cmd: "burst", topic: "room", count: 1, tag: "end1" }, "end 1");
  await processes[1].send({ cmd: "burst", topic: "room", count: 1, tag: "end2" }, "end 2");
  for (const client of clients) {
    await client.waitUntil(
      () => client.texts.includes("end1:0") && client.texts.includes("end2:0"),
      "end markers",
    );
    assert.equal(client.messages.length, 2 * count + 2);
  }
});
