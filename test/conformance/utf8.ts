/**
 * A small streaming UTF-8 validator (the WHATWG decoder's state machine, without decoding),
 * used to derive case expectations and by the raw test servers. It rejects at the first byte
 * that no valid continuation could follow, which is exactly where a fail-fast WebSocket
 * endpoint must fail (RFC 6455 §8.1).
 * @module
 */

/** Incremental validator: feed bytes with `push`, then ask `complete`. */
export class Utf8Validator {
  private needed = 0;
  private seen = 0;
  private lower = 0x80;
  private upper = 0xbf;
  private bytes = 0;
  /** Index (across all pushes) of the byte that made the input invalid, or -1. */
  failedAt = -1;

  /** Feeds bytes; returns `false` from the first byte that makes the input invalid on. */
  push(bytes: Uint8Array): boolean {
    if (this.failedAt >= 0) return false;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] ?? 0;
      if (this.needed === 0) {
        if (b <= 0x7f) continue;
        if (b >= 0xc2 && b <= 0xdf) this.needed = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) this.lower = 0xa0;
          if (b === 0xed) this.upper = 0x9f;
          this.needed = 2;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) this.lower = 0x90;
          if (b === 0xf4) this.upper = 0x8f;
          this.needed = 3;
        } else return this.fail(i);
        continue;
      }
      if (b < this.lower || b > this.upper) return this.fail(i);
      this.lower = 0x80;
      this.upper = 0xbf;
      if (++this.seen === this.needed) this.needed = this.seen = 0;
    }
    this.bytes += bytes.length;
    return true;
  }

  /** Whether everything pushed so far is valid and ends on a code point boundary. */
  get complete(): boolean {
    return this.failedAt < 0 && this.needed === 0;
  }

  private fail(i: number): false {
    this.failedAt = this.bytes + i;
    return false;
  }
}

/** Whether `bytes` is complete, valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const v = new Utf8Validator();
  return v.push(bytes) && v.complete;
}

/**
 * The index of the byte at which a fail-fast validator rejects `bytes`, or -1 if it never does
 * (the bytes are valid, or only truncated at the end).
 */
export function failFastIndex(bytes: Uint8Array): number {
  const v = new Utf8Validator();
  v.push(bytes);
  return v.failedAt;
}
