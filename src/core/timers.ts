/**
 * Idle detection without a timer per connection: one interval per handler walks its open
 * connections a few times per `idleTimeout`. Reading from a connection zeroes its tick count;
 * after half the timeout in silence it is pinged, after the whole timeout it is dropped.
 * @module
 */

import type { Clock, Timer } from "./ports.js";

/** What the sweeper needs from a connection. */
export interface IdleTarget {
  /** Ticks since the last input; zeroed by the connection on every read. */
  idleTicks: number;
  /** Half the timeout passed in silence. */
  idlePing(): void;
  /** The whole timeout passed in silence. */
  idleExpired(): void;
}

/** The part of a {@link Clock} the sweeper runs on. */
export type IdleClock = Pick<Clock, "setInterval" | "clearInterval">;

/**
 * Starts a timer for a validated timeout (see `common/validate.ts`): `Infinity` means never
 * and sets no timer (Node would fire it after 1 ms). Returns the timer, if one was set.
 */
export function startTimer(clock: Clock, ms: number, callback: () => void): Timer | undefined {
  return ms === Infinity ? undefined : clock.setTimeout(callback, ms);
}

/** Ticks per idle timeout: the timeout is enforced to within a quarter of itself. */
const TICKS = 4;

/** Pings and drops the idle connections of one handler. */
export class IdleSweeper {
  private readonly targets = new Set<IdleTarget>();
  private readonly timeout: number;
  private readonly clock: IdleClock;
  private handle: Timer | null = null;

  /** `timeout` 0 or Infinity disables the sweeper. */
  constructor(timeout: number, clock: IdleClock) {
    this.timeout = timeout;
    this.clock = clock;
  }

  add(target: IdleTarget): void {
    if (this.timeout === 0 || this.timeout === Infinity) return;
    target.idleTicks = 0;
    this.targets.add(target);
    if (this.handle === null) {
      this.handle = this.clock.setInterval(() => this.tick(), Math.max(1, this.timeout / TICKS));
      this.handle.unref?.();
    }
  }

  delete(target: IdleTarget): void {
    if (!this.targets.delete(target) || this.targets.size !== 0 || this.handle === null) return;
    this.clock.clearInterval(this.handle);
    this.handle = null;
  }

  /** One sweep: exported for tests driving their own clock. */
  tick(): void {
    for (const target of this.targets) {
      const ticks = ++target.idleTicks;
      if (ticks === TICKS / 2) target.idlePing();
      else if (ticks >= TICKS) target.idleExpired();
    }
  }
}
