/**
 * The chat behind the demo page: rooms are topics. Clients send JSON text messages
 * (`{ type: "join", room, nick }`, `{ type: "say", text }`); the server publishes
 * `message`, `system` and `presence` events to the room's topic, so with a Redis broker rooms
 * span every process. Presence counts are per process, tagged with a server id; the page adds
 * them up and forgets a process it has not heard from for 25 s.
 */
import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { handshake, type Broker, type Channel, type NextHandler, type WebSocketHandler } from "undercurrent";

/** Per-connection chat state. */
export interface Member {
  room: string;
  nick: string;
}

const ROOM = /^[\p{L}\p{N}_-]{1,32}$/u;
const SERVER_ID = randomUUID().slice(0, 8);
const page = loadPage();

function loadPage(): string {
  // From examples/chat (tsx) or dist/examples/chat (built), the page stays in the source tree.
  for (const path of ["./index.html", "../../../examples/chat/index.html"]) {
    try {
      return readFileSync(new URL(path, import.meta.url), "utf8");
    } catch {
      // try the next place
    }
  }
  return "<!doctype html><p>chat page not found</p>";
}

/** Serves the chat page at `/`; everything else goes to `next` (or 404). */
export function chatPage(next?: NextHandler): NextHandler {
  return (request: IncomingMessage, response: ServerResponse, done?: (error?: unknown) => void) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/" || path === "/index.html") {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" });
      response.end(page);
      return;
    }
    if (next !== undefined) return next(request, response, done);
    response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    response.end("not found\n");
  };
}

/** What the page's live panel polls from `/stats`: this server's chat figures. */
export interface PanelStats {
  readonly connections: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** The server's clock, in ms, when the figures were taken. */
  readonly at: number;
}

/**
 * The chat's WebSocket handler at `/chat`; `GET /stats` answers the page's live panel from
 * `handler.stats()`; other requests go to `next`.
 */
export function chat(next: NextHandler, options: { broker?: Broker } = {}): WebSocketHandler<Member> {
  const site: NextHandler = (request, response, done) => {
    if ((request.url ?? "/").split("?")[0] !== "/stats") return next(request, response, done);
    const stats = handler.stats();
    const body: PanelStats = {
      connections: stats.connections,
      messagesIn: stats.messages.in,
      messagesOut: stats.messages.out,
      at: Date.now(),
    };
    response.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    response.end(JSON.stringify(body));
  };
  site.upgrade = next.upgrade;
  site.stream = next.stream;
  site.close = next.close;
  /** How each socket came: "HTTP/2" (extended CONNECT) or "HTTP/1.1" (upgrade). */
  const transports = new WeakMap<Channel<Member>, string>();
  const topic = (room: string) => `room:${room}`;
  /** Rooms with members on this process, for the presence heartbeat. */
  const rooms = new Map<string, number>();

  const presence = (room: string): void => {
    const count = rooms.get(room) ?? 0;
    handler.publish(topic(room), JSON.stringify({ type: "presence", room, server: SERVER_ID, count }));
  };
  const leave = (channel: Channel<Member>): void => {
    const member = channel.data;
    if (member === undefined) return;
    channel.unsubscribe(topic(member.room));
    const left = (rooms.get(member.room) ?? 1) - 1;
    if (left > 0) rooms.set(member.room, left);
    else rooms.delete(member.room);
    handler.publish(topic(member.room), JSON.stringify({ type: "system", text: `${member.nick} left` }));
    presence(member.room);
    channel.data = undefined;
  };
  const heartbeat = setInterval(() => rooms.forEach((_, room) => presence(room)), 10_000);
  heartbeat.unref();

  const handler = handshake<Member>(
    site,
    {
      onMessage({ channel, text }) {
        let message: { type?: unknown; room?: unknown; nick?: unknown; text?: unknown };
        try {
          message = JSON.parse(text ?? "") as typeof message;
        } catch {
          void channel.sendText(JSON.stringify({ type: "error", text: "messages are JSON text" }));
          return;
        }
        if (message.type === "join") {
          const room = String(message.room ?? "").trim();
          const nick = String(message.nick ?? "")
            .trim()
            .slice(0, 24);
          if (!ROOM.test(room) || nick === "") {
            void channel.sendText(
              JSON.stringify({ type: "error", text: "a room is 1–32 letters, digits, _ or -" }),
            );
            return;
          }
          leave(channel);
          channel.data = { room, nick };
          channel.subscribe(topic(room));
          rooms.set(room, (rooms.get(room) ?? 0) + 1);
          void channel.sendText(
            JSON.stringify({
              type: "welcome",
              room,
              nick,
              server: SERVER_ID,
              transport: transports.get(channel),
            }),
          );
          handler.publish(topic(room), JSON.stringify({ type: "system", text: `${nick} joined` }));
          presence(room);
        } else if (message.type === "say" && channel.data !== undefined) {
          const said = String(message.text ?? "").slice(0, 2000);
          if (said.trim() === "") return;
          const { room, nick } = channel.data;
          handler.publish(
            topic(room),
            JSON.stringify({ type: "message", room, nick, text: said, at: Date.now() }),
          );
        } else {
          void channel.sendText(JSON.stringify({ type: "error", text: "join a room first" }));
        }
      },
      onConnect({ channel, exchange }) {
        // The page shows which transport its socket came over: an extended CONNECT stream on its
        // HTTP/2 connection (RFC 8441), or an HTTP/1.1 upgrade.
        transports.set(channel, exchange.request.httpVersionMajor === 2 ? "HTTP/2" : "HTTP/1.1");
      },
      onClose({ channel }) {
        leave(channel);
      },
    },
    { path: "/chat", compression: true, ...(options.broker === undefined ? {} : { broker: options.broker }) },
  );
  return handler;
}
