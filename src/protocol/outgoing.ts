/**
 * The bytes a connection has to send, in order. Small frames are written one after another
 * into a slab shared by all the connections of a handler, so a batch of replies is one
 * contiguous buffer and one write, and an idle connection holds no buffer of its own; large
 * payloads are queued by reference after their header, never copied.
 * @module
 */

import { headerSize, writeHeader } from "./frame-codec.js";
import { Opcode } from "./opcodes.js";

/** Allocates an uninitialised byte array (the adapter passes a pooled, non-zeroing one). */
export type Allocate = (size: number) => Uint8Array;

/** Payloads up to this size are copied into the slab; larger ones are queued by reference. */
const COPY_LIMIT = 2048;
const SLAB_SIZE = 64 * 1024;
const encoder = new TextEncoder();
const defaultAllocate: Allocate = (size) => new Uint8Array(size);

/**
 * Slab memory shared by many {@link Outgoing}s. Each writes its frames at the pool's end; the
 * views handed out keep their slab alive until written, and a full slab is simply replaced.
 */
export class SlabPool {
  readonly allocate: Allocate;
  /** The current slab, and how much of it is taken. */
  slab: Uint8Array | null = null;
  used = 0;

  constructor(allocate: Allocate = defaultAllocate) {
    this.allocate = allocate;
  }
}

/** An ordered queue of outgoing chunks with a slab for small frames. */
export class Outgoing {
  private readonly pool: SlabPool;
  private chunks: Uint8Array[] = [];
  private slab: Uint8Array | null = null;
  /** Start of the bytes in the slab not yet handed out. */
  private start = 0;
  /** End of the bytes written into the slab. */
  private end = 0;
  /** Bytes queued, for backpressure accounting. */
  size = 0;

  constructor(pool: SlabPool = new SlabPool()) {
    this.pool = pool;
  }

  /** Whether anything is queued. */
  get empty(): boolean {
    return this.size === 0;
  }

  /** Takes everything queued, in order. */
  take(): Uint8Array[] {
    this.seal();
    const out = this.chunks;
    if (out.length !== 0) this.chunks = [];
    this.size = 0;
    return out;
  }

  /** Queues one unmasked frame. */
  frame(opcode: number, payload: Uint8Array, fin = true, rsv1 = false): void {
    const length = payload.length;
    const header = headerSize(length);
    this.size += header + length;
    if (length <= COPY_LIMIT) {
      const at = this.reserve(header + length);
      writeHeader(this.slab!, at, opcode, length, fin, rsv1);
      this.slab!.set(payload, at + header);
      this.commit(at + header + length);
      return;
    }
    const at = this.reserve(header);
    writeHeader(this.slab!, at, opcode, length, fin, rsv1);
    this.commit(at + header);
    this.seal();
    this.chunks.push(payload);
  }

  /**
   * Frames one message now and hands its chunks back instead of queueing them (what is queued
   * stays queued): for a message that waited, in the adapter's order, for its compression.
   * Framed like every other frame: small payloads into the slab, large ones by reference. With
   * `fin` false, the frame is a fragment that more of the message follows (RFC 6455 §5.4).
   */
  frameNow(opcode: number, payload: Uint8Array, rsv1: boolean, fin = true): Uint8Array[] {
    this.seal();
    const before = this.chunks.length;
    const size = this.size;
    this.frame(opcode, payload, fin, rsv1);
    this.seal();
    this.size = size;
    return this.chunks.splice(before);
  }

  /** Queues a text frame, encoding the string straight into the slab when it is small. */
  text(text: string): void {
    if (text.length * 3 > COPY_LIMIT) {
      this.frame(Opcode.Text, encoder.encode(text));
      return;
    }
    // Reserve room for the longest header this text can need, encode, then fix the header up.
    const maxHeader = text.length * 3 < 126 ? 2 : 4;
    const at = this.reserve(maxHeader + text.length * 3);
    const slab = this.slab!;
    const { written } = encoder.encodeInto(
      text,
      slab.subarray(at + maxHeader, at + maxHeader + text.length * 3),
    );
    const header = headerSize(written);
    if (header < maxHeader) slab.copyWithin(at + header, at + maxHeader, at + maxHeader + written);
    writeHeader(slab, at, Opcode.Text, written);
    this.commit(at + header + written);
    this.size += header + written;
  }

  /** Queues bytes that already are complete frames, by reference. */
  raw(bytes: Uint8Array): void {
    this.seal();
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  /**
   * Makes room for `size` bytes at the end of the pool's slab; returns where they start. The
   * bytes continue this queue's last chunk when nobody else wrote after it.
   */
  private reserve(size: number): number {
    const pool = this.pool;
    if (pool.slab === null || pool.used + size > pool.slab.length) {
      pool.slab = pool.allocate(Math.max(SLAB_SIZE, size));
      pool.used = 0;
    }
    if (this.slab !== pool.slab || this.end !== pool.used) {
      this.seal();
      this.slab = pool.slab;
      this.start = this.end = pool.used;
    }
    return this.end;
  }

  /** The bytes up to `end` are written: they are this queue's, and the pool's free space starts there. */
  private commit(end: number): void {
    this.end = end;
    this.pool.used = end;
  }

  /** Moves the slab bytes written so far into the chunk list. */
  private seal(): void {
    if (this.end === this.start) return;
    this.chunks.push(this.slab!.subarray(this.start, this.end));
    this.start = this.end;
  }
}
