/**
 * The project's one thenable test, and the one way a value a user returned is turned into a
 * promise. Whatever a callback or a decision returns may be a native promise, a promise from
 * another realm (`node:vm`, an iframe-like context), or any object with a `then` method: each is
 * detected by {@link isThenable} and followed through {@link followThenable}, never with
 * `instanceof Promise` and never by calling its `then` directly.
 * @module
 */

/**
 * Whether `value` is a thenable: an object or function whose `then` is a function, as the
 * Promises/A+ resolution procedure (and `await`) defines it. A `then` that cannot be read (a
 * throwing getter, a proxy whose `get` trap throws, a revoked proxy) counts as a thenable, as
 * `await` treats it: following it with {@link followThenable} rejects with what the read threw.
 * This function never throws.
 *
 * @example
 * ```ts
 * isThenable(Promise.resolve());                       // true
 * isThenable({ then(resolve) { resolve(1); } });       // true
 * isThenable(vm.runInNewContext("Promise.resolve()")); // true: another realm's promise
 * isThenable({ then: 1 });                             // false
 * isThenable(null);                                    // false
 * ```
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  try {
    return typeof (value as { then?: unknown }).then === "function";
  } catch {
    return true;
  }
}

/**
 * A fresh native promise that follows `thenable` the way `await` does: it settles when the
 * thenable calls back (only the first call counts), rejects if its `then` throws, and stays
 * pending if it never calls back. Unlike `Promise.resolve`, it never returns the argument itself
 * and never reads its `constructor`, so the promise handed back always has the native `then`.
 *
 * @example
 * ```ts
 * const result = callback(event);
 * if (isThenable(result)) followThenable(result).then(done, failed);
 * ```
 */
export function followThenable<T>(thenable: PromiseLike<T>): Promise<T> {
  // A promise's resolve function adopts a thenable by calling its `then` in a later job and
  // turns a throw from it into a rejection (ECMA-262 §27.2.1.3.2, NewPromiseResolveThenableJob).
  return new Promise<T>((resolve) => resolve(thenable));
}
