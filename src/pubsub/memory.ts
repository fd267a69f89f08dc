/**
 * The in-process broker, every handler's default.
 * @module
 */

import type { Broker, BrokerTarget, Publication } from "./broker.js";

/**
 * Shares topics between the handlers of one process that are given the same instance, and
 * delivers synchronously: when `publish` returns, the message has been handed to every
 * subscriber. A handler without a `broker` option gets a `MemoryBroker` of its own.
 *
 * @example
 * ```ts
 * import { handshake, MemoryBroker } from "undercurrent";
 * const broker = new MemoryBroker();
 * const a = handshake(callbacksA, { broker, path: "/a" });
 * const b = handshake(a, callbacksB, { broker, path: "/b" });
 * b.publish("news", "to subscribers of /a and /b alike");
 * ```
 */
export class MemoryBroker implements Broker {
  readonly #targets = new Set<BrokerTarget>();

  attach(target: BrokerTarget): void {
    this.#targets.add(target);
  }

  detach(target: BrokerTarget): void {
    this.#targets.delete(target);
  }

  /** Nothing to do: targets are asked for every message. */
  subscribe(_topic: string): void {}

  unsubscribe(_topic: string): void {}

  publish(message: Publication, source: BrokerTarget): number {
    let written = 0;
    for (const target of this.#targets) if (target !== source) written += target.deliver(message);
    return written;
  }

  async close(): Promise<void> {
    this.#targets.clear();
  }
}
