/**
 * Soak: an echo server in this process, N clients in another, for a bounded time. Checks that
 * nothing was lost or reordered, that every connection closed, and that memory returns to its
 * baseline once the clients leave. Exported for the short soak in `npm test`; `npm run soak`
 * runs a longer one (see scripts/soak.ts).
 */
import { spawn } from "node:child_process";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { fileURLToPath } from "node:url";
import { handshake, serve } from "../../src/index.js";

/** What a soak run measured. */
export interface SoakReport {
  connections: number;
  seconds: number;
  clients: {
    opened: number;
    sent: number;
    received: number;
    lost: number;
    reordered: number;
    errors: number;
  };
  peakConnections: number;
  closes: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  rssAfterMiB: number;
  heapBeforeMiB: number;
  heapAfterMiB: number;
  rssPerConnectionKiB: number;
}

const MiB = 1024 * 1024;

/** A full garbage collection, so heap figures compare live objects only. */
function collect(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    // Without --expose-gc (as under `node --test`), turn the flag on and fetch gc() from a fresh context.
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  for (let i = 0; i < 3; i++) gc();
}

/** Runs one soak. */
export async function soak(connections: number, seconds: number): Promise<SoakReport> {
  let closes = 0;
  let peakConnections = 0;
  const handler = handshake(
    {
      onConnect({ channel }) {
        peakConnections = Math.max(peakConnections, channel.peers.size);
      },
      onMessage({ channel, text, data }) {
        if (text !== undefined) void channel.sendText(text);
        else void channel.sendBinary(data);
      },
      onClose() {
        closes++;
      },
    },
    { maxConnections: connections + 10 },
  );
  const server = await serve(handler, { port: 0 });
  collect();
  const before = process.memoryUsage();
  let rssPeak = before.rss;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 200);

  const script = fileURLToPath(new URL("./soak-clients.ts", import.meta.url));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", script, server.url, String(connections), String(seconds)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearInterval(sampler);
  const clients = JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as SoakReport["clients"];
  if (exitCode !== 0) throw new Error(`soak clients failed: ${output}`);

  // Let the last closes land, then measure again.
  for (let i = 0; i < 100 && handler.connections.size > 0; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((resolve) => setTimeout(resolve, 500));
  collect();
  const after = process.memoryUsage();
  await server.close();
  return {
    connections,
    seconds,
    clients,
    peakConnections,
    closes,
    rssBeforeMiB: round(before.rss / MiB),
    rssPeakMiB: round(rssPeak / MiB),
    rssAfterMiB: round(after.rss / MiB),
    heapBeforeMiB: round(before.heapUsed / MiB),
    heapAfterMiB: round(after.heapUsed / MiB),
    rssPerConnectionKiB: round((rssPeak - before.rss) / 1024 / connections),
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
