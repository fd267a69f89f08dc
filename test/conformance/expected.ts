/**
 * The exact lists of case ids the control and the broken servers must produce, written out
 * by hand (ranges expanded by {@link ids}) so that a change in the suite shows up as a diff.
 * @module
 */

/** Expands "6.12.1-8" into 6.12.1 … 6.12.8; other ids pass through. */
export function ids(...specs: string[]): string[] {
  return specs.flatMap((spec) => {
    const m = /^(.*\.)(\d+)-(\d+)$/.exec(spec);
    if (m === null) return [spec];
    const [, prefix, from, to] = m as unknown as [string, string, string, string];
    return Array.from({ length: Number(to) - Number(from) + 1 }, (_, i) => `${prefix}${Number(from) + i}`);
  });
}

/** Cases judged INFORMATIONAL whatever the server does. */
export const INFORMATIONAL_CASES = ids("7.1.6", "7.13.1-2");

/** The fail-fast cases: NON-STRICT for a server that checks UTF-8 only once a message is whole. */
export const FAIL_FAST_CASES = ids("6.4.1-4", "6.26.1-8", "6.27.1-8");

/** Every case that sends invalid UTF-8 in a text message. */
export const INVALID_UTF8_CASES = ids(
  "6.3.1-2",
  "6.4.1-4",
  "6.6.1",
  "6.6.3",
  "6.6.4",
  "6.6.6",
  "6.6.8",
  "6.6.10",
  "6.8.1-2",
  "6.10.1-3",
  "6.11.5",
  "6.12.1-8",
  "6.13.1-5",
  "6.14.1-10",
  "6.15.1",
  "6.16.1-3",
  "6.17.1-5",
  "6.18.1-5",
  "6.19.1-5",
  "6.20.1-7",
  "6.21.1-8",
  "6.25.1-9",
  "6.26.1-8",
  "6.27.1-8",
);

/** Every case that sends a frame with RSV bits set. */
export const RSV_CASES = ids("3.1-7");

/** Every case that sends a close code that may not be received. */
export const INVALID_CLOSE_CODE_CASES = ids("7.9.1-9", "7.10.1");

/**
 * Every case that needs permessage-deflate (categories 12 and 13): UNIMPLEMENTED on a server
 * that declines it, such as the raw echo server.
 */
export const COMPRESSION_CASES = ids(
  "12.1.1-18",
  "12.2.1-18",
  "12.3.1-18",
  "12.4.1-18",
  "12.5.1-18",
  "12.6.1-9",
  "13.1.1-18",
  "13.2.1-18",
  "13.3.1-18",
  "13.4.1-18",
  "13.5.1-18",
  "13.6.1-18",
  "13.7.1-18",
  "13.8.1-18",
  "13.9.1-18",
  "13.10.1-18",
  "13.11.1-18",
  "13.12.1-18",
  "13.13.1-18",
  "13.14.1-18",
  "13.15.1-18",
  "13.16.1-18",
  "13.17.1-18",
  "13.18.1-18",
  "13.19.1-18",
  "13.20.1-18",
  "13.21.1-18",
  "13.22.1-18",
);
