/**
 * What a session tells the handler's counters (`handler.stats()`) and the observability channels
 * (`undercurrent:connection:open`, `:close`, `:backpressure`) at the moments that matter: it
 * opened, it closed, the send policy acted. Each message is built only when someone listens.
 * Free functions over the session's own fields, so a connection carries no extra object.
 * @module
 */

import { CloseCode } from "../protocol/close-codes.js";
import { ReadyState } from "../protocol/ready-state.js";
import type { Channel } from "./channel.js";
import type { HandlerContext } from "./context.js";
import type { ClosedBy } from "./events.js";
import type { Exchange, Runtime } from "./options.js";
import type { Clock } from "./ports.js";
import type { ConnectionCounts } from "./stats.js";

/** The session as seen from here: its counts, its channel and what it agreed with the peer. */
export interface ObservedSession<T, R extends Runtime> extends ConnectionCounts {
  readonly context: HandlerContext<T, R>;
  readonly channel: Channel<T>;
  readonly protocol: string;
  readonly extensions: string;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly readyState: ReadyState;
}

/** The clock's time in ms (a monotonic one where the runtime has it). */
export function now(clock: Clock): number {
  return clock.now?.() ?? Date.now();
}

/** The session opened: it counts as open, and `connection:open` is told. Returns when, in ms. */
export function sessionOpened<T, R extends Runtime>(
  session: ObservedSession<T, R>,
  exchange: Exchange<R>,
): number {
  const { counters, events, clock } = session.context;
  counters.open.add(session);
  if (events.connectionOpen.hasSubscribers) {
    events.connectionOpen.publish({
      channel: session.channel,
      exchange,
      protocol: session.protocol,
      extensions: session.extensions,
      remoteAddress: session.remoteAddress,
      remotePort: session.remotePort,
    });
  }
  return now(clock);
}

/**
 * The session closed with `code`: its counts join the handler's totals, and `connection:close`
 * is told who closed first (`closedBy` when our close frame went first; else the peer's did,
 * unless none came at all, 1006) and how long it lived since `openedAt`.
 */
export function sessionClosed<T, R extends Runtime>(
  session: ObservedSession<T, R>,
  code: number,
  reason: string,
  closedBy: ClosedBy | undefined,
  openedAt: number,
): void {
  const { counters, events, clock } = session.context;
  counters.retire(session, code);
  if (!events.connectionClose.hasSubscribers) return;
  events.connectionClose.publish({
    channel: session.channel,
    code,
    reason,
    closedBy: closedBy ?? (code === CloseCode.AbnormalClosure ? "transport" : "client"),
    duration: now(clock) - openedAt,
    messagesIn: session.messagesIn,
    messagesOut: session.messagesOut,
    bytesIn: session.bytesIn,
    bytesOut: session.bytesOut,
  });
}

/** Counts what the backpressure policy did with a send of `size` bytes, and tells `backpressure`. */
export function backpressureActed<T, R extends Runtime>(
  session: ObservedSession<T, R>,
  action: "close" | "drop" | "buffer",
  bufferedAmount: number,
  size: number,
): void {
  const { counters, events, options } = session.context;
  if (action === "drop") counters.backpressureDrops++;
  // A connection closed by the policy counts once, however many sends then find it closing.
  else if (action === "close" && session.readyState === ReadyState.Open) counters.backpressureCloses++;
  if (!events.backpressure.hasSubscribers) return;
  events.backpressure.publish({
    channel: session.channel,
    action,
    bufferedAmount,
    size,
    limit: options.maxBackpressure,
  });
}
