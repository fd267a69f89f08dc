/** The conformance suite against undercurrent over HTTP/1.1 (see `undercurrent-suite.ts`). */
import { undercurrentConformance } from "./undercurrent-suite.js";

undercurrentConformance("http1");
