/**
 * One server process per core, sharing the port (node:cluster) and their topics (Redis): a chat
 * where a message sent to any worker reaches every client, whichever worker it is on.
 *
 *   redis-server --port 6379 --save "" --appendonly no &
 *   npm run build && node dist/examples/redis-cluster.js
 *   # then, in two terminals:  npx wscat -c 'ws://127.0.0.1:8080/?room=lobby'
 *
 * `REDIS_URL` (default redis://127.0.0.1:6379), `PORT` (default 8080) and `WORKERS` (default:
 * one per core) change the setup. The primary only forks and restarts workers; each worker
 * runs its own handler with its own RedisBroker.
 */
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { handshake, serve } from "undercurrent";
import { RedisBroker } from "undercurrent/redis";

const port = Number(process.env["PORT"] ?? 8080);
const workers = Number(process.env["WORKERS"] ?? availableParallelism());

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code) => {
    console.log(`worker ${worker.process.pid} exited (${code}); starting another`);
    cluster.fork();
  });
  console.log(`${workers} workers on ws://127.0.0.1:${port}/?room=NAME`);
} else {
  const broker = new RedisBroker({
    url: process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379",
    prefix: "chat:",
    // Called once per outage; clients on this worker still talk to each other meanwhile.
    onError: (error) => console.warn(`worker ${process.pid}: ${error.message}`),
  });
  const chat = handshake<{ room: string }>(
    {
      onConnect({ channel, exchange }) {
        const room = exchange.url.searchParams.get("room") ?? "lobby";
        channel.data = { room };
        channel.subscribe(room);
        void channel.sendText(`joined ${room} on worker ${process.pid}`);
      },
      onMessage({ channel, text }) {
        // Everyone else in the room, on every worker; the sender sees its own message as sent.
        if (text !== undefined) channel.publish(channel.data!.room, text);
      },
    },
    { broker },
  );
  // Workers share the listening socket: the primary hands connections out in turn.
  const server = await serve(chat, { port });
  process.on("SIGTERM", async () => {
    await server.close();
    await broker.close();
    process.exit(0);
  });
}
