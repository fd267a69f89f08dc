/**
 * UTF-8 validation for text messages (RFC 6455 §5.6, §8.1), fail-fast: a byte that can never
 * begin or continue valid UTF-8 fails the message as soon as it arrives, while a code point
 * split between two pieces is carried over. Built on the WHATWG decoder, which rejects
 * overlongs, surrogates and values past U+10FFFF at the first byte that rules them out.
 * @module
 */

import { ProtocolError } from "./errors.js";

const DECODER_OPTIONS = { fatal: true, ignoreBOM: true } as const;
const STREAM = { stream: true } as const;
/** Stateless use only: whole messages in one piece. */
const oneShot = new TextDecoder("utf-8", DECODER_OPTIONS);

function invalid(): ProtocolError {
  return new ProtocolError("ERR_INVALID_UTF8", "invalid UTF-8 in text");
}

/** Decodes a complete UTF-8 message; throws a 1007 {@link ProtocolError} if it is invalid. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return oneShot.decode(bytes);
  } catch {
    throw invalid();
  }
}

/** Decodes a text message that arrives in pieces, checking each piece as it comes. */
export class StreamingUtf8Decoder {
  private decoder = new TextDecoder("utf-8", DECODER_OPTIONS);
  private text = "";

  /** Adds a piece; throws a 1007 {@link ProtocolError} at the first impossible byte. */
  push(piece: Uint8Array): void {
    try {
      this.text += this.decoder.decode(piece, STREAM);
    } catch {
      throw invalid();
    }
  }

  /** Ends the message: a code point left incomplete at the end is invalid. Returns the text. */
  end(): string {
    let tail: string;
    try {
      tail = this.decoder.decode();
    } catch {
      throw invalid();
    }
    const text = this.text + tail;
    this.text = "";
    return text;
  }
}
