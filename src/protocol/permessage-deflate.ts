/**
 * permessage-deflate (RFC 7692): negotiation of its four parameters, server side. The
 * compression itself is done by the adapter (src/adapters/node/zlib.ts); this module decides what was
 * agreed.
 * @module
 */

import { formatExtension, type ExtensionOffer } from "./extensions-header.js";

/** The extension's registered name. */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** §7.2.1: a compressed message ends with these four bytes, removed before sending. */
export const DEFLATE_TRAILER = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** What the server is willing to do (after defaults). */
export interface DeflateConfig {
  /** Always reset our compression context after each message (saves memory, costs ratio). */
  readonly serverNoContextTakeover: boolean;
  /** Ask the client to reset its context after each message (lets us drop our inflater). */
  readonly clientNoContextTakeover: boolean;
  /** Largest LZ77 window we use to compress, 9–15. */
  readonly serverMaxWindowBits: number;
  /** Largest window we let the client use, 8–15; below 15 needs the client's consent. */
  readonly clientMaxWindowBits: number;
}

/** What was agreed for one connection. */
export interface DeflateAgreement {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  /** The window our deflater uses. */
  readonly serverMaxWindowBits: number;
  /** The window the client's messages may use (our inflater's window). */
  readonly clientMaxWindowBits: number;
  /** The `Sec-WebSocket-Extensions` response value. */
  readonly response: string;
}

function windowBits(value: string | true, min: number): number | undefined {
  if (value === true || !/^[0-9]{1,2}$/.test(value)) return undefined;
  const bits = Number(value);
  return bits >= min && bits <= 15 ? bits : undefined;
}

/**
 * Accepts the first permessage-deflate offer we can honour (§5.1) and returns what was agreed,
 * or undefined when there is none. Offers with unknown, repeated or invalid parameters are
 * declined, not failed.
 */
export function negotiateDeflate(
  offers: readonly ExtensionOffer[],
  config: DeflateConfig,
): DeflateAgreement | undefined {
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const agreed = accept(offer, config);
    if (agreed !== undefined) return agreed;
  }
  return undefined;
}

function accept(offer: ExtensionOffer, config: DeflateConfig): DeflateAgreement | undefined {
  const seen = new Set<string>();
  let serverNoContextTakeover = config.serverNoContextTakeover;
  let clientNoContextTakeover = config.clientNoContextTakeover;
  let serverBits: number | undefined;
  let clientBitsOffered: number | true | undefined;
  for (const [key, value] of offer.params) {
    // §5.1: decline an offer with a repeated parameter.
    if (seen.has(key)) return undefined;
    seen.add(key);
    switch (key) {
      case "server_no_context_takeover":
        if (value !== true) return undefined;
        serverNoContextTakeover = true;
        break;
      case "client_no_context_takeover":
        if (value !== true) return undefined;
        clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
        serverBits = windowBits(value, 8);
        if (serverBits === undefined) return undefined;
        break;
      case "client_max_window_bits":
        if (value === true) clientBitsOffered = true;
        else {
          clientBitsOffered = windowBits(value, 8);
          if (clientBitsOffered === undefined) return undefined;
        }
        break;
      default:
        // §5.1: decline an offer with a parameter not defined for offers.
        return undefined;
    }
  }

  const serverMaxWindowBits = Math.min(serverBits ?? 15, config.serverMaxWindowBits);
  // zlib cannot compress with an 8-bit window (it silently uses 9), so such a limit is declined.
  if (serverMaxWindowBits < 9) return undefined;

  let clientMaxWindowBits = typeof clientBitsOffered === "number" ? clientBitsOffered : 15;
  if (config.clientMaxWindowBits < clientMaxWindowBits) {
    // §7.1.2.2: we may only limit the client's window if it said it can be limited.
    if (clientBitsOffered === undefined) return undefined;
    clientMaxWindowBits = config.clientMaxWindowBits;
  }

  const params: Array<[string, string | true]> = [];
  if (serverNoContextTakeover) params.push(["server_no_context_takeover", true]);
  if (clientNoContextTakeover) params.push(["client_no_context_takeover", true]);
  if (serverBits !== undefined || serverMaxWindowBits < 15) {
    params.push(["server_max_window_bits", String(serverMaxWindowBits)]);
  }
  if (clientBitsOffered !== undefined && clientMaxWindowBits < 15) {
    params.push(["client_max_window_bits", String(clientMaxWindowBits)]);
  }
  const response = formatExtension(PERMESSAGE_DEFLATE, params);
  return {
    serverNoContextTakeover,
    clientNoContextTakeover,
    serverMaxWindowBits,
    clientMaxWindowBits,
    response,
  };
}
