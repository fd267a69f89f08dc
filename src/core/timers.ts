/**
 * Idle detection without a timer per connection: one interval per handler walks its open
 * connections a few times per `idleTimeout`. Reading from a connection zeroes its tick count;
 * after half the timeout in silence it is pinged, after the whole timeout it is dropped.
 * @module
 */

/** What the sweeper needs from a connection. */
export interface IdleTarget {
  /** Ticks since the last input; zeroed by the connection on every read. */
  idleTicks: number;
  /** Half the timeout passed in silence. */
  idlePing(): void;
  /** The whole timeout passed in silence. */
  idleExpired(): void;
}

/** The clock the sweeper runs on; tests may pass their own. */
export interface Clock {
  setInterval(callback: () => void, ms: number): { unref(): void };
  clearInterval(handle: { unref(): void }): void;
}

const systemClock: Clock = {
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/**
 * `setTimeout` for a validated timeout (see `validate.ts`): Infinity means never, and sets no
 * timer (Node would fire it after 1 ms).
 */
export function startTimer<A extends unknown[]>(
  ms: number,
  callback: (...args: A) => void,
  ...args: A
): NodeJS.Timeout | undefined {
  return ms === Infinity ? undefined : setTimeout(callback, ms, ...args);
}

/** Ticks per idle timeout: the timeout is enforced to within a quarter of itself. */
const TICKS = 4;

/** Pings and drops the idle connections of one handler. */
export class IdleSweeper {
  private readonly targets = new Set<IdleTarget>();
  private readonly timeout: number;
  private readonly clock: Clock;
  private handle: { unref(): void } | null = null;

  /** `timeout` 0 or Infinity disables the sweeper. */
  constructor(timeout: number, clock: Clock = systemClock) {
    this.timeout = timeout;
    this.clock = clock;
  }

  add(target: IdleTarget): void {
    if (this.timeout === 0 || this.timeout === Infinity) return;
    target.idleTicks = 0;
    this.targets.add(target);
    if (this.handle === null) {
      this.handle = this.clock.setInterval(() => this.tick(), Math.max(1, this.timeout / TICKS));
      this.handle.unref();
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
