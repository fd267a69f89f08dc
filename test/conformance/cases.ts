/**
 * Every conformance case, in Autobahn's order, and the category titles.
 * @module
 */
import type { ConformanceCase } from "./case-kit.js";
import { framingCases } from "./cases-1-framing.js";
import { pingCases } from "./cases-2-pings.js";
import { reservedBitsCases } from "./cases-3-reserved-bits.js";
import { opcodeCases } from "./cases-4-opcodes.js";
import { fragmentationCases } from "./cases-5-fragmentation.js";
import { utf8Cases } from "./cases-6-utf8.js";
import { closeCases } from "./cases-7-close.js";
import { limitCases } from "./cases-9-limits.js";
import { autoFragmentationCases } from "./cases-10-autofragment.js";
import { compressionCases } from "./cases-12-compression.js";
import { compressionParameterCases } from "./cases-13-compression-params.js";

/** Category number → title, as in Autobahn's report. */
export const CATEGORY_TITLES: Readonly<Record<number, string>> = {
  1: "Framing",
  2: "Pings/Pongs",
  3: "Reserved Bits",
  4: "Opcodes",
  5: "Fragmentation",
  6: "UTF-8 Handling",
  7: "Close Handling",
  9: "Limits/Performance",
  10: "Auto-Fragmentation",
  12: "WebSocket Compression (different payloads)",
  13: "WebSocket Compression (different parameters)",
};

/** All cases. */
export const allCases: readonly ConformanceCase[] = [
  ...framingCases,
  ...pingCases,
  ...reservedBitsCases,
  ...opcodeCases,
  ...fragmentationCases,
  ...utf8Cases,
  ...closeCases,
  ...limitCases,
  ...autoFragmentationCases,
  ...compressionCases,
  ...compressionParameterCases,
];

/** The cases whose id is listed, or which start with a listed prefix followed by a dot ("6" → all of 6). */
export function selectCases(
  patterns: readonly string[],
  cases: readonly ConformanceCase[] = allCases,
): ConformanceCase[] {
  if (patterns.length === 0) return [...cases];
  return cases.filter((c) => patterns.some((p) => c.id === p || c.id.startsWith(`${p}.`)));
}
