/**
 * Category 13: WebSocket compression with different parameters (RFC 7692 §7.1). The cases of
 * category 12 (JSON data) under each permessage-deflate offer: context takeover reset on either
 * side, every window size the client and the server may be limited to, several offers in one
 * header. The answer must fit the offer; the client then compresses as agreed (a limited window,
 * a context reset after each message) and inflates the echoes with exactly the window and
 * context the server agreed to, so a server that reaches further back than it may, or keeps a
 * context it said it would reset, produces echoes that fail to inflate (FAILED).
 *
 * 13.1–13.7 follow Autobahn's offers (its 13.3 and 13.5 ask for `server_max_window_bits=8`,
 * which zlib cannot produce, so a server may only decline them: here they ask for 9); the rest
 * extend it.
 * @module
 */
import { CaseList } from "./case-kit.js";
import { DEFAULT_OFFER } from "./cases-12-compression.js";
import { addEchoCases, JSON_DATA } from "./compression-kit.js";

const list = new CaseList(13);
const PMD = "permessage-deflate";

const OFFERS: ReadonlyArray<{ offer: string; source?: "extension" }> = [
  { offer: DEFAULT_OFFER },
  { offer: `${DEFAULT_OFFER}; server_no_context_takeover` },
  { offer: `${DEFAULT_OFFER}; server_max_window_bits=9`, source: "extension" },
  { offer: `${DEFAULT_OFFER}; server_max_window_bits=15` },
  { offer: `${DEFAULT_OFFER}; server_no_context_takeover; server_max_window_bits=9`, source: "extension" },
  { offer: `${DEFAULT_OFFER}; server_no_context_takeover; server_max_window_bits=15` },
  // Autobahn's three offers: the first asks for a window zlib cannot do; a server may take the next.
  {
    offer: [
      `${DEFAULT_OFFER}; server_no_context_takeover; server_max_window_bits=8`,
      `${DEFAULT_OFFER}; server_no_context_takeover`,
      DEFAULT_OFFER,
    ].join(", "),
  },
  { offer: PMD, source: "extension" },
  { offer: `${PMD}; client_no_context_takeover`, source: "extension" },
  { offer: `${PMD}; server_no_context_takeover; client_no_context_takeover`, source: "extension" },
  // What browsers offer.
  { offer: `${PMD}; client_max_window_bits`, source: "extension" },
  { offer: `${PMD}; client_max_window_bits=8`, source: "extension" },
  { offer: `${PMD}; client_max_window_bits=9`, source: "extension" },
  { offer: `${PMD}; client_max_window_bits=15`, source: "extension" },
  ...[10, 11, 12, 13, 14].map((bits) => ({
    offer: `${PMD}; server_max_window_bits=${bits}`,
    source: "extension" as const,
  })),
  {
    offer: `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9`,
    source: "extension",
  },
  {
    offer: `${PMD}; server_max_window_bits=8; client_max_window_bits, ${PMD}; server_max_window_bits=11; client_max_window_bits=10`,
    source: "extension",
  },
  // An extension the server does not know comes first; it must be ignored.
  { offer: `x-webkit-deflate-frame, ${PMD}; client_max_window_bits=12`, source: "extension" },
];

OFFERS.forEach(({ offer, source }, i) =>
  addEchoCases(list, i + 1, {
    group: `${JSON_DATA.title} (utf8), offer: ${offer}`,
    data: JSON_DATA,
    offer,
    offerText: `Offer: ${offer}.`,
    source,
  }),
);

/** Category 13 cases. */
export const compressionParameterCases = list.cases;
