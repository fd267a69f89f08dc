/**
 * Compile-only checks of the public typings: `npm run typecheck` fails if a line marked
 * `@ts-expect-error` starts compiling, or if a correct use stops compiling.
 */
import {
  CloseCode,
  handshake,
  serve,
  type Callbacks,
  type Channel,
  type SendStatus,
  type UpgradeDecision,
  UpgradeCallbackError,
  type UpgradeErrorEvent,
} from "undercurrent";

interface User {
  name: string;
}

export const typed = handshake<User>(
  {
    onConnect({ channel, exchange }) {
      const name: string | undefined = channel.data?.name;
      const path: string = exchange.url.pathname;
      void [name, path];
    },
    onMessage({ channel, text, data }) {
      if (text !== undefined) {
        const upper: string = text.toUpperCase();
        const sent: Promise<SendStatus> = channel.sendText(upper);
        void sent;
      } else {
        const bytes: Buffer = data;
        void channel.sendBinary(bytes, { timeout: 100, callback: (error) => void error });
      }
      // @ts-expect-error: sendText takes a string
      void channel.sendText(42);
      // @ts-expect-error: data is typed per connection
      channel.data = { nick: "x" };
    },
    onClose({ code, reason }) {
      const c: number = code;
      const r: string = reason;
      void [c, r];
    },
    onError({ error }) {
      const message: string = error.message;
      void message;
    },
  },
  {
    onUpgrade: async ({ url }): Promise<UpgradeDecision<User>> => ({
      data: { name: url.searchParams.get("n") ?? "" },
    }),
    backpressure: "drop",
    compression: { serverNoContextTakeover: true },
  },
);

// @ts-expect-error: an unknown backpressure policy
handshake({}, { backpressure: "explode" });

// @ts-expect-error: onUpgrade's data must match the channel data type
handshake<User>({}, { onUpgrade: () => ({ data: { nick: 1 } }) });

// onUpgradeError hears UndercurrentErrors with a code, and the exchange of the request.
handshake(
  {},
  {
    onUpgradeError({ error, exchange }: UpgradeErrorEvent) {
      const code: string = error.code;
      const callback = error instanceof UpgradeCallbackError ? error.callback : undefined;
      void [code, callback, exchange.url.pathname];
    },
  },
);

// @ts-expect-error: onUpgradeError takes one event object
handshake({}, { onUpgradeError: (error: Error, exchange: unknown) => void [error, exchange] });

/** A class instance works as callbacks; `this` is the instance. */
class Room implements Callbacks<User> {
  readonly members = new Set<Channel<User>>();
  onConnect({ channel }: { channel: Channel<User> }): void {
    this.members.add(channel);
  }
}
export const rooms = handshake<User>(new Room());

export async function closeAll(): Promise<void> {
  const server = await serve(typed, { port: 0 });
  for (const channel of typed.connections) await channel.close(CloseCode.GoingAway, "bye");
  await server.close();
}

// Observability: onEvent narrows each message by its channel's name; stats() is typed.
export const observed = handshake<User>(
  {},
  {
    onEvent(event) {
      if (event.name === "undercurrent:connection:close") {
        const closedBy: "server" | "client" | "transport" = event.message.closedBy;
        const user: string | undefined = event.message.channel.data?.name;
        void [closedBy, user];
      } else if (event.name === "undercurrent:upgrade:refused") {
        const status: number = event.message.status;
        const request: import("node:http").IncomingMessage | import("node:http2").Http2ServerRequest =
          event.message.exchange.request;
        void [status, request];
        // @ts-expect-error a refusal has no channel
        void event.message.channel;
      }
    },
  },
);
const snapshot = observed.stats({ topics: true });
export const figures: [number, number, number | undefined] = [
  snapshot.connections,
  snapshot.messages.in,
  snapshot.topics?.["room"],
];
// @ts-expect-error stats options are an object
observed.stats(true);
