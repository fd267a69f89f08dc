/**
 * Checks shared by options, sends and brokers.
 *
 * Timeouts: a Node timer holds at most 2³¹−1 ms (about 24.8 days); it fires any longer delay,
 * Infinity included, after 1 ms (with a `TimeoutOverflowWarning`), and NaN or a negative delay
 * after 1 ms too. So every timeout undercurrent takes is either an integer number of
 * milliseconds a timer honours, or `Infinity`, which means "never" and sets no timer at all.
 * @module
 */

import { describeValue } from "./errors.js";

/** The longest delay a Node timer honours: 2³¹−1 ms, about 24.8 days. */
export const MAX_TIMEOUT = 2 ** 31 - 1;

/** Whether `value` is `Infinity` ("never") or an integer from `min` to {@link MAX_TIMEOUT}. */
export function isTimeout(value: unknown, min = 1): value is number {
  return (
    value === Infinity ||
    (Number.isInteger(value) && (value as number) >= min && (value as number) <= MAX_TIMEOUT)
  );
}

/** The message for a value {@link isTimeout} refused. */
export function timeoutMessage(name: string, value: unknown, min = 1): string {
  return `${name} must be an integer from ${min} to ${MAX_TIMEOUT} ms, or Infinity for never; got ${describeValue(value)}`;
}
