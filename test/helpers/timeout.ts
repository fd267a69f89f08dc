/**
 * A hang guard for tests: a wait that gives up with a clear message, never a timing check.
 * @module
 */

/** Rejects with `label` if `promise` has not settled within `ms`. */
export async function withTimeout<R>(promise: Promise<R>, ms: number, label: string): Promise<R> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
