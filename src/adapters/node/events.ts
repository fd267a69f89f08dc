/**
 * The core's events on Node: each name is a `node:diagnostics_channel` channel, which has the
 * shape the core's {@link EventChannel} port asks for (`hasSubscribers`, `publish`).
 * Subscribers are Node's: `diagnostics_channel.subscribe("undercurrent:connection:close", fn)`.
 * @module
 */

import { channel } from "node:diagnostics_channel";
import type { EventChannel, EventName, EventSink } from "../../core/events.js";

/** Node's channels, one per name, made once per process. */
export const nodeEvents: EventSink = {
  channel: (name: EventName): EventChannel<unknown> => channel(name),
};
