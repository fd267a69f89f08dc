/**
 * How a send completes: its promise, its `callback` (told once, whatever it throws), and its
 * `timeout` on the session's clock. Shared by every send of the core.
 * @module
 */

import { followThenable, isThenable } from "../common/thenable.js";
import { SendTimeoutError } from "../common/errors.js";
import type { Clock, Timer } from "./ports.js";

/**
 * Completion of a send: a function called with no argument on success or with the error, or
 * an object with `onComplete` and `onError`.
 */
export type SendCallback = ((error?: Error) => void) | { onComplete?(): void; onError?(error: Error): void };

/** Options of every send. */
export interface SendOptions {
  /** Called when the frame has been handed to the operating system, or failed. */
  readonly callback?: SendCallback;
  /**
   * Milliseconds to wait for the frame to be handed to the operating system, an integer from 1
   * to 2³¹−1; past it the send fails with `SendTimeoutError` (the connection stays open and the
   * bytes may still go). `Infinity`, like no timeout, waits however long it takes. Any other
   * value rejects the send with `InvalidArgumentError`, and nothing is sent.
   */
  readonly timeout?: number;
  /**
   * With permessage-deflate agreed: compress this message (true) or not (false). Default:
   * compress messages of at least `compression.threshold` bytes.
   */
  readonly compress?: boolean;
}

/** Told when a send callback threw or rejected (the channel's error policy applies). */
export interface CallbackOwner {
  sendCallbackFailed(error: unknown): void;
}

const noop = (): void => {};

/**
 * Reports a promise's outcome to the send callback and marks it handled, so no rejection goes
 * unhandled. A callback that throws or rejects is handed to `owner`.
 */
export function observe<V>(
  promise: Promise<V>,
  options: SendOptions | undefined,
  owner: CallbackOwner,
): Promise<V> {
  const callback = options?.callback;
  if (callback === undefined) {
    promise.catch(noop);
    return promise;
  }
  const report = (error: unknown): void => owner.sendCallbackFailed(error);
  const call = (run: () => unknown): void => {
    try {
      const result = run();
      if (isThenable(result)) followThenable(result).then(undefined, report);
    } catch (error) {
      report(error);
    }
  };
  if (typeof callback === "function") {
    promise.then(
      () => call(() => callback()),
      (error: Error) => call(() => callback(error)),
    );
  } else {
    promise.then(
      () => call(() => callback.onComplete?.()),
      (error: Error) => call(() => callback.onError?.(error)),
    );
  }
  return promise;
}

/**
 * A send that failed before it started. `owner` is told what a send callback throws; `options`
 * were checked (Channel's `checkSendOptions`), or are left out.
 */
export function settle(error: Error, owner: CallbackOwner, options?: SendOptions): Promise<never> {
  return observe(Promise.reject(error), options, owner);
}

/**
 * A promise for one send: `start` registers its completion; with `options.timeout` (finite), it
 * rejects with `SendTimeoutError` past it (the bytes may still go). `Infinity` sets no timer.
 */
export function track<V>(
  options: SendOptions | undefined,
  clock: Clock,
  owner: CallbackOwner,
  start: (done: (error?: Error | null) => void) => void,
  wrapError: (error: Error) => Error,
  value: V,
): Promise<V> {
  let timer: Timer | undefined;
  const promise = new Promise<V>((resolve, reject) => {
    start((error) => {
      if (timer !== undefined) clock.clearTimeout(timer);
      if (error) reject(wrapError(error));
      else resolve(value);
    });
    const timeout = options?.timeout;
    if (timeout !== undefined && timeout !== Infinity) {
      timer = clock.setTimeout(() => reject(new SendTimeoutError(timeout)), timeout);
      timer.unref?.();
    }
  });
  return observe(promise, options, owner);
}
