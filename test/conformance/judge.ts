/**
 * Autobahn's verdict rules, applied to what one case run recorded.
 *
 * As in Autobahn's `Case.onConnectionLost`: the behaviour is OK if the observed events equal
 * the OK list, NON-STRICT if they equal the NON-STRICT list, FAILED otherwise. The close is
 * judged apart: closed by the wrong side → FAILED; not clean where the spec requires it →
 * UNCLEAN; a close code outside the expected ones (no code at all is accepted) → WRONG CODE;
 * the client had to drop TCP because the server did not → FAILED BY CLIENT. For the UTF-8
 * cases, a close by the wrong side makes the whole case FAILED (the server never noticed).
 *
 * A case that needs an extension the server declined is UNIMPLEMENTED (never judged further);
 * an extension answer that does not fit the offer is FAILED.
 *
 * One verdict comes out: INFORMATIONAL cases are never judged; otherwise FAILED if either part
 * failed (WRONG CODE and UNCLEAN count as failures, as in undici's Autobahn gate), NON-STRICT
 * if the behaviour was NON-STRICT or the client had to drop TCP (RFC 6455 §7.1.1: the server
 * SHOULD close first), OK otherwise.
 * @module
 */
import type { CloseFrameInfo, TcpEnd } from "../helpers/raw-client.js";
import type { Expectation, Observed, Verdict } from "./case-kit.js";

/** Everything a run recorded that the judge looks at. */
export interface RunRecord {
  observed: readonly Observed[];
  /** Who sent the first close frame (raw bytes do not count). */
  closeInitiator: "client" | "server" | undefined;
  serverClose: CloseFrameInfo | undefined;
  /** Whether the client sent a close frame (initiating or replying). */
  clientSentClose: boolean;
  tcpEnd: TcpEnd | undefined;
  /** Frames the server should never have sent. */
  violations: readonly string[];
  /** The run could not happen (handshake failed, the runner broke, an unacceptable extension answer). */
  error: string | undefined;
  /** The server declined the extension the case needs (Autobahn: UNIMPLEMENTED). */
  unimplemented?: string;
}

export type CloseBehavior = "OK" | "FAILED" | "UNCLEAN" | "WRONG CODE" | "FAILED BY CLIENT";

/** The judgement of one run. */
export interface Judgement {
  verdict: Verdict;
  behavior: "OK" | "NON-STRICT" | "FAILED" | "UNIMPLEMENTED";
  closeBehavior: CloseBehavior;
  /** Why, in one line, when the verdict is not OK (and for INFORMATIONAL cases). */
  detail: string;
}

/** Whether two observed events are the same. */
export function sameEvent(a: Observed, b: Observed): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "timeout" || b.kind === "timeout") {
    return a.kind === "timeout" && b.kind === "timeout" && a.label === b.label;
  }
  if (a.kind === "message" && b.kind === "message" && a.binary !== b.binary) return false;
  return a.payload.equals(b.payload);
}

/** Whether two lists of events are the same, in order. */
export function sameEvents(a: readonly Observed[], b: readonly Observed[]): boolean {
  return a.length === b.length && a.every((e, i) => sameEvent(e, b[i] as Observed));
}

/** Whether `prefix` could still grow into `whole`. */
export function isPrefix(prefix: readonly Observed[], whole: readonly Observed[]): boolean {
  return prefix.length <= whole.length && prefix.every((e, i) => sameEvent(e, whole[i] as Observed));
}

function payloadText(p: Buffer): string {
  const s = p.subarray(0, 24).toString("utf8");
  const printable = /^[\x20-\x7e]*$/.test(s);
  const shown = printable ? JSON.stringify(s) : `0x${p.subarray(0, 16).toString("hex")}`;
  return p.length > 24 || (!printable && p.length > 16) ? `${shown}…(${p.length} B)` : shown;
}

/** A short rendering of an event list, e.g. `[text "hi", pong "", timeout A]`. */
export function describeEvents(events: readonly Observed[], max = 6): string {
  const parts = events.slice(0, max).map((e) => {
    if (e.kind === "timeout") return `timeout ${e.label}`;
    if (e.kind === "message") return `${e.binary ? "binary" : "text"} ${payloadText(e.payload)}`;
    return `${e.kind} ${payloadText(e.payload)}`;
  });
  if (events.length > max) parts.push(`… ${events.length - max} more`);
  return `[${parts.join(", ")}]`;
}

/** A short rendering of how the connection ended. */
export function describeClose(r: RunRecord): string {
  const sc = r.serverClose;
  const server =
    sc === undefined
      ? "no close frame from server"
      : `server close ${sc.code ?? "(no code)"}${sc.reason ? ` "${sc.reason.slice(0, 40)}"` : ""}`;
  const tcp =
    r.tcpEnd === undefined ? "TCP open" : `TCP ended by ${r.tcpEnd.by}${r.tcpEnd.reset ? " (reset)" : ""}`;
  return `${server}, close started by ${r.closeInitiator ?? "nobody"}, ${tcp}`;
}

/** Applies Autobahn's rules. */
export function judge(expect: Expectation, ok: readonly Observed[], r: RunRecord): Judgement {
  if (r.error !== undefined) {
    return { verdict: "FAILED", behavior: "FAILED", closeBehavior: "FAILED", detail: r.error };
  }
  if (r.unimplemented !== undefined) {
    return {
      verdict: "UNIMPLEMENTED",
      behavior: "UNIMPLEMENTED",
      closeBehavior: "OK",
      detail: r.unimplemented,
    };
  }
  let behavior: Judgement["behavior"] = "FAILED";
  if (sameEvents(r.observed, ok)) behavior = "OK";
  else if (expect.nonStrict !== undefined && sameEvents(r.observed, expect.nonStrict))
    behavior = "NON-STRICT";

  const closedByMe =
    r.closeInitiator !== undefined ? r.closeInitiator === "client" : r.tcpEnd?.by === "client";
  const wasClean = r.serverClose !== undefined && r.clientSentClose;
  const code = r.serverClose?.code;
  const wantClient = expect.close.closedBy === "client";

  let closeBehavior: CloseBehavior;
  let closeDetail = "";
  if (closedByMe !== wantClient) {
    closeBehavior = "FAILED";
    closeDetail = `the connection was closed by the wrong endpoint (expected the ${expect.close.closedBy})`;
  } else if (expect.close.requireClean && !wasClean) {
    closeBehavior = "UNCLEAN";
    closeDetail = "the spec requires a clean close (close frames both ways)";
  } else if (code !== undefined && !expect.close.codes.includes(code)) {
    closeBehavior = "WRONG CODE";
    closeDetail = `close code ${code}; expected ${expect.close.codes.join(" or ")} or none`;
  } else if (r.tcpEnd?.by === "client") {
    closeBehavior = "FAILED BY CLIENT";
    closeDetail = "the server did not close the TCP connection; the client had to";
  } else {
    closeBehavior = "OK";
  }
  if (expect.close.wrongEndpointFatal && closeBehavior === "FAILED") behavior = "FAILED";

  const events = `got ${describeEvents(r.observed)}, expected ${describeEvents(ok)}${
    expect.nonStrict !== undefined ? ` (NON-STRICT: ${describeEvents(expect.nonStrict)})` : ""
  }`;
  const details: string[] = [];
  if (behavior !== "OK") details.push(events);
  if (closeBehavior !== "OK") details.push(`${closeBehavior}: ${closeDetail}; ${describeClose(r)}`);
  if (r.violations.length > 0) details.push(`server violations: ${r.violations.slice(0, 3).join("; ")}`);

  let verdict: Verdict;
  if (expect.informational) {
    verdict = "INFORMATIONAL";
    details.unshift(
      `${behavior === "OK" ? "as the OK outline" : behavior === "NON-STRICT" ? "as the alternative outline" : "other"}: ${describeEvents(r.observed)}; ${describeClose(r)}`,
    );
  } else if (
    behavior === "FAILED" ||
    closeBehavior === "FAILED" ||
    closeBehavior === "UNCLEAN" ||
    closeBehavior === "WRONG CODE" ||
    r.violations.length > 0
  ) {
    verdict = "FAILED";
  } else if (behavior === "NON-STRICT" || closeBehavior === "FAILED BY CLIENT") {
    verdict = "NON-STRICT";
  } else {
    verdict = "OK";
  }
  return { verdict, behavior, closeBehavior, detail: verdict === "OK" ? "" : details.join(" | ") };
}
