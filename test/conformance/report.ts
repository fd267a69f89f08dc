/**
 * Prints conformance results: a table per category, then a summary line per verdict and the
 * final line `conformance: X/Y OK`, where Y counts the judged cases (INFORMATIONAL and
 * UNIMPLEMENTED ones are reported, not judged).
 * @module
 */
import type { Verdict } from "./case-kit.js";
import { CATEGORY_TITLES } from "./cases.js";
import type { CaseResult } from "./runner.js";

const VERDICTS: readonly Verdict[] = ["OK", "NON-STRICT", "FAILED", "INFORMATIONAL", "UNIMPLEMENTED"];

/** Counts per verdict. */
export function tally(results: readonly CaseResult[]): Record<Verdict, number> {
  const counts: Record<Verdict, number> = {
    OK: 0,
    "NON-STRICT": 0,
    FAILED: 0,
    INFORMATIONAL: 0,
    UNIMPLEMENTED: 0,
  };
  for (const r of results) counts[r.verdict]++;
  return counts;
}

/** The final line: `conformance: X/Y OK`. */
export function summaryLine(results: readonly CaseResult[]): string {
  const t = tally(results);
  const judged = results.length - t.INFORMATIONAL - t.UNIMPLEMENTED;
  return `conformance: ${t.OK}/${judged} OK`;
}

/** Options for {@link formatReport}. */
export interface ReportOptions {
  /** List every case, not only those that are not OK. Default: `true`. */
  allRows?: boolean;
  /** Add what was sent and what came back under each case that is not OK. Default: `true`. */
  details?: boolean;
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + " ".repeat(n - s.length));
const clip = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** The whole report as text. */
export function formatReport(results: readonly CaseResult[], options: ReportOptions = {}): string {
  const allRows = options.allRows ?? true;
  const details = options.details ?? true;
  const lines: string[] = [];
  const categories = [...new Set(results.map((r) => r.category))].sort((a, b) => a - b);
  for (const category of categories) {
    const rows = results.filter((r) => r.category === category);
    const t = tally(rows);
    const counts = VERDICTS.filter((v) => t[v] > 0)
      .map((v) => `${t[v]} ${v}`)
      .join(", ");
    lines.push("");
    lines.push(`Category ${category}: ${CATEGORY_TITLES[category] ?? "?"} (${rows.length} cases: ${counts})`);
    const shown = allRows ? rows : rows.filter((r) => r.verdict !== "OK");
    if (shown.length > 0) lines.push(`  ${pad("case", 9)} ${pad("verdict", 13)} ${pad("ms", 6)} description`);
    for (const r of shown) {
      const ext = r.source === "extension" ? "+" : " ";
      lines.push(
        `  ${pad(r.id, 8)}${ext} ${pad(r.verdict, 13)} ${pad(String(Math.round(r.durationMs)), 6)} ${clip(r.description, 90)}`,
      );
      if (details && r.verdict !== "OK") {
        lines.push(`            why:      ${r.detail}`);
        lines.push(`            sent:     ${r.sent}`);
        lines.push(`            received: ${r.received}; ${r.closing}`);
      }
    }
  }
  const t = tally(results);
  lines.push("");
  lines.push("(+ marks cases that extend Autobahn's catalogue)");
  lines.push(VERDICTS.map((v) => `${v}: ${t[v]}`).join(", "));
  lines.push(summaryLine(results));
  return lines.join("\n");
}
