/**
 * Node's timers as the core's {@link Clock}.
 * @module
 */

import type { Clock, Timer } from "../../core/ports.js";

/** The process's own timers; `defer` is `process.nextTick`, `now` is `performance.now()`. */
export const nodeClock: Clock = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer: Timer) => clearTimeout(timer as NodeJS.Timeout),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (timer: Timer) => clearInterval(timer as NodeJS.Timeout),
  defer: (callback, arg) => process.nextTick(callback, arg),
  now: () => performance.now(),
};
