/**
 * Masking (RFC 6455 §5.3): every client-to-server payload byte is XORed with one of the four
 * bytes of the frame's masking key. Unmasking is the same XOR, done in place.
 * @module
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Below this many bytes a plain byte loop is faster than setting up a word view. */
const WORD_THRESHOLD = 64;

/**
 * XORs `data[start..end)` in place with `mask` (the four key bytes as a big-endian 32-bit
 * number), starting at key byte `phase` (the offset of `start` within the frame payload, mod 4).
 * Aligned runs are processed a 32-bit word at a time.
 */
export function unmask(data: Uint8Array, start: number, end: number, mask: number, phase: number): void {
  let i = start;
  let p = phase & 3;
  if (end - i >= WORD_THRESHOLD && LITTLE_ENDIAN) {
    while (((data.byteOffset + i) & 3) !== 0) {
      data[i] = data[i]! ^ ((mask >>> ((3 - p) << 3)) & 0xff);
      p = (p + 1) & 3;
      i++;
    }
    const words = (end - i) >>> 2;
    // The key rotated to start at byte `p`, laid out as a little-endian word.
    const rotated = ((mask << (p << 3)) | (p === 0 ? 0 : mask >>> ((4 - p) << 3))) >>> 0;
    const word =
      ((rotated >>> 24) | ((rotated >>> 8) & 0xff00) | ((rotated << 8) & 0xff0000) | (rotated << 24)) >>> 0;
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ word;
    i += words << 2;
  }
  for (; i < end; i++) {
    data[i] = data[i]! ^ ((mask >>> ((3 - p) << 3)) & 0xff);
    p = (p + 1) & 3;
  }
}
