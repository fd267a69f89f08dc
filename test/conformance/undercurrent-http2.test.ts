/**
 * The conformance suite against undercurrent over HTTP/2: every case on its own extended CONNECT
 * stream (RFC 8441) of a cleartext session (see `undercurrent-suite.ts`).
 */
import { undercurrentConformance } from "./undercurrent-suite.js";

undercurrentConformance("http2");
