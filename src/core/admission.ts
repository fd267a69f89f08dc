/**
 * Admission: whether a valid WebSocket upgrade request is let in, for every transport. The
 * handler's rules run in order (shutdown, `maxConnections`, `origins`, `protocols`, the
 * permessage-deflate agreement, `onUpgrade`), and what the application decides is read strictly:
 * anything that is not a documented decision, or that cannot be written as HTTP, is an error
 * (the transport answers with a plain 500) and is reported to `onUpgradeError`, never taken as
 * an acceptance. The transport validates the request itself first (RFC 6455 §4.2.1, and its own
 * HTTP rules) and writes the answer after.
 * @module
 */

import { isFieldValue, isToken } from "../protocol/handshake.js";
import { negotiateDeflate, type DeflateAgreement } from "../protocol/permessage-deflate.js";
import { parseExtensions } from "../protocol/extensions-header.js";
import {
  UpgradeCallbackError,
  UpgradeResponseError,
  describeValue,
  type UndercurrentError,
  type UpgradeCallbackName,
} from "../common/errors.js";
import { followThenable, isThenable } from "../common/thenable.js";
import type { HandlerContext } from "./context.js";
import type { Exchange, Runtime } from "./options.js";
import { startTimer } from "./timers.js";
import type { RefusalCheck } from "./events.js";

/** What a transport asks: a request that passed its own validation. */
export interface AdmissionRequest<R extends Runtime = Runtime> {
  readonly exchange: Exchange<R>;
  /** The `Origin` header, if any. */
  readonly origin: string | undefined;
  /** Subprotocols the client offered, in its order of preference. */
  readonly protocols: readonly string[];
  /** The raw `Sec-WebSocket-Extensions` header(s). */
  readonly extensions: string | readonly string[] | undefined;
}

/** The verdict of {@link admit}. */
export type Admission<T> =
  /** Let in: answer 101 with `protocol` and the deflate agreement, then start a session. */
  | {
      readonly kind: "accept";
      readonly protocol: string;
      readonly deflate: DeflateAgreement | undefined;
      /** `onUpgrade`'s `{ data }`, when it gave one. */
      readonly data: { readonly value: T } | undefined;
    }
  /** Refused by a rule of the handler or by the application: answer with this, validated. */
  | {
      readonly kind: "refuse";
      readonly status: number;
      readonly body: string;
      readonly headers: Readonly<Record<string, string>> | undefined;
      /** Which check refused (for observability). */
      readonly check: RefusalCheck;
    }
  /** The application failed: answer a plain 500; the error was reported to `onUpgradeError`. */
  | { readonly kind: "error"; readonly error: UndercurrentError };

type Verdict<T> = Admission<T>;

const refuse = <T>(
  status: number,
  body: string,
  check: RefusalCheck,
  headers?: Readonly<Record<string, string>>,
): Verdict<T> => ({ kind: "refuse", status, body, headers, check });

/**
 * Decides on an upgrade request; `done` gets the verdict, at once or (with an async `onUpgrade`)
 * later, exactly once. While an `onUpgrade` is pending it counts against `maxConnections`, and
 * after `handshakeTimeout` (never when it is `Infinity`) the request is refused with 503.
 */
export function admit<T, R extends Runtime>(
  context: HandlerContext<T, R>,
  request: AdmissionRequest<R>,
  answer: (admission: Admission<T>) => void,
): void {
  const { options } = context;
  const { exchange } = request;
  const done = (admission: Admission<T>): void => {
    observeAdmission(context, exchange, admission);
    answer(admission);
  };
  if (context.closing) return done(refuse(503, "server shutting down", "shutdown"));
  if (context.connections.size + context.pending >= options.maxConnections) {
    return done(refuse(503, "too many connections", "maxConnections"));
  }
  const fail = (error: UndercurrentError): void => {
    report(context, error, exchange);
    done({ kind: "error", error });
  };
  const failed = (callback: UpgradeCallbackName, cause: unknown): void =>
    fail(new UpgradeCallbackError(callback, cause));

  if (options.allowOrigin !== undefined) {
    let allowed: unknown;
    try {
      allowed = options.allowOrigin(request.origin, exchange);
    } catch (error) {
      return failed("origins", error);
    }
    // Only `true` lets a request through; anything but a boolean is a bug (a Promise, say).
    if (allowed === false) return done(refuse(403, "origin not allowed", "origins"));
    if (allowed !== true) {
      return fail(
        new UpgradeResponseError(`the origins predicate returned ${describeValue(allowed)}, not a boolean`),
      );
    }
  }

  let protocol = "";
  const select = options.selectProtocol;
  if (select !== undefined && request.protocols.length > 0) {
    let chosen: unknown;
    try {
      chosen = select(request.protocols, exchange);
    } catch (error) {
      return failed("protocols", error);
    }
    if (chosen === false) return done(refuse(400, "no acceptable subprotocol", "protocols"));
    // RFC 6455 §4.2.2: the server's choice MUST be one of the values the client offered.
    if (typeof chosen === "string" && request.protocols.includes(chosen)) protocol = chosen;
    else if (chosen !== undefined) {
      return fail(
        new UpgradeResponseError(
          `the protocols selector returned ${describeValue(chosen)} that is not one of the offered subprotocols`,
        ),
      );
    }
  }

  // RFC 7692 §5: accept the first permessage-deflate offer we can honour; decline the others.
  let deflate: DeflateAgreement | undefined;
  if (options.compression !== undefined) {
    const offers = parseExtensions(request.extensions as string | string[] | undefined);
    if (offers === undefined) return done(refuse(400, "invalid Sec-WebSocket-Extensions", "extensions"));
    deflate = negotiateDeflate(offers, options.compression);
  }

  const decide = (decision: unknown): void => {
    const reading = readDecision<T>(decision);
    if (reading.kind === "error") return fail(reading.error);
    if (reading.kind === "refuse") return done(reading);
    if (context.closing) return done(refuse(503, "server shutting down", "shutdown"));
    done({ kind: "accept", protocol, deflate, data: reading.data });
  };

  const onUpgrade = options.onUpgrade;
  if (onUpgrade === undefined) return decide(undefined);
  let result: unknown;
  try {
    result = onUpgrade(exchange);
  } catch (error) {
    return failed("onUpgrade", error);
  }
  if (!isThenable(result)) return decide(result);

  // An asynchronous decision: give up after handshakeTimeout, and count it against
  // maxConnections meanwhile.
  context.pending++;
  let settled = false;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    context.pending--;
    if (timer !== undefined) context.clock.clearTimeout(timer);
    return true;
  };
  const timer = startTimer(context.clock, options.handshakeTimeout, () => {
    if (settle()) done(refuse(503, "upgrade check timed out", "timeout"));
  });
  timer?.unref?.();
  followThenable(result).then(
    (decision) => {
      if (settle()) decide(decision);
    },
    (error: unknown) => {
      if (settle()) failed("onUpgrade", error);
    },
  );
}

/** Counts an admission's verdict for `handler.stats()`, and tells the event channels. */
function observeAdmission<T, R extends Runtime>(
  context: HandlerContext<T, R>,
  exchange: Exchange<R>,
  admission: Admission<T>,
): void {
  if (admission.kind === "accept") {
    context.counters.accepted++;
    const channel = context.events.upgradeAccepted;
    if (channel.hasSubscribers) {
      const extensions = admission.deflate?.response ?? "";
      channel.publish({ exchange, protocol: admission.protocol, extensions });
    }
  } else if (admission.kind === "refuse") {
    upgradeRefused(context, exchange, admission.status, admission.body, admission.check);
  } else upgradeRefused(context, exchange, 500, "internal server error", "error");
}

/**
 * An upgrade request was refused: counted for `handler.stats()` and told on
 * `undercurrent:upgrade:refused`. Admission reports its own verdicts; a transport calls this
 * for the requests it refuses before admission (an invalid handshake, a path it has no
 * endpoint for).
 */
export function upgradeRefused<T, R extends Runtime>(
  context: HandlerContext<T, R>,
  exchange: Exchange<R>,
  status: number,
  reason: string,
  check: RefusalCheck,
): void {
  context.counters.refuse(status);
  const channel = context.events.upgradeRefused;
  if (channel.hasSubscribers) channel.publish({ exchange, status, reason, check });
}

/** Writes `message` with `console.error`; never throws, whatever `error` is. */
function logError(message: string, error: unknown): void {
  try {
    console.error(message, error);
  } catch {
    // stderr itself failed: nothing left to tell.
  }
}

/**
 * Hands an error to `onUpgradeError`, or writes it with `console.error` when there is none.
 * Never throws: a throw or rejection in the hook is written with `console.error`.
 */
function report<T, R extends Runtime>(
  context: HandlerContext<T, R>,
  error: UndercurrentError,
  exchange: Exchange<R>,
): void {
  const hook = context.options.onUpgradeError;
  if (hook === undefined) return logError("undercurrent: an upgrade was answered with 500:", error);
  let result: unknown;
  try {
    result = hook({ error, exchange });
  } catch (thrown) {
    return logError("undercurrent: onUpgradeError threw:", thrown);
  }
  if (isThenable(result)) {
    followThenable(result).then(undefined, (rejected: unknown) =>
      logError("undercurrent: onUpgradeError rejected:", rejected),
    );
  }
}

/** What an `onUpgrade` decision means, once read. */
type Reading<T> =
  | { readonly kind: "accept"; readonly data: { readonly value: T } | undefined }
  | Extract<Admission<T>, { kind: "refuse" | "error" }>;

const ACCEPT = { kind: "accept", data: undefined } as const;
const FORBID = refuse<never>(403, "forbidden", "onUpgrade");
const REFUSAL_KEYS: ReadonlySet<PropertyKey> = new Set(["status", "headers", "body"]);

function invalid(message: string, cause?: unknown): Reading<never> {
  return { kind: "error", error: new UpgradeResponseError(message, cause) };
}

/**
 * Reads a (settled) `onUpgrade` decision strictly. `undefined` and `true` accept; `false` is
 * 403; an object whose only own key is `data` accepts with that data; an object with an own
 * `status` and no keys but `status`, `headers` and `body` refuses with that answer, validated.
 * Anything else is invalid (500), never an acceptance. Each property is read once.
 */
export function readDecision<T>(decision: unknown): Reading<T> {
  if (decision === undefined || decision === true) return ACCEPT;
  if (decision === false) return FORBID;
  if (typeof decision !== "object" || decision === null) {
    return invalid(
      `onUpgrade decided ${describeValue(decision)}, not undefined, false, { data } or { status }`,
    );
  }
  try {
    if (Array.isArray(decision)) return invalid("onUpgrade decided an array, not { data } or { status }");
    const keys = Reflect.ownKeys(decision);
    if (keys.length === 1 && keys[0] === "data") {
      return { kind: "accept", data: { value: (decision as { data: T }).data } };
    }
    if (keys.includes("status") && keys.every((key) => REFUSAL_KEYS.has(key))) {
      const { status, headers, body } = decision as Record<string, unknown>;
      return readRefusal(status, headers, body);
    }
  } catch (error) {
    return invalid("reading the onUpgrade decision threw", error);
  }
  return invalid(
    "onUpgrade decided an object that is neither { data } nor { status, headers?, body? } (no other keys)",
  );
}

/**
 * Validates an application's refusal: a status of 400–599, a string body, and headers whose
 * names are RFC 9110 tokens (§5.1) and whose values are field values (§5.5: "Field values
 * containing CR, LF, or NUL characters are invalid and dangerous"), the checks Node's own
 * `res.setHeader` applies. Header values are copied into a fresh object, each read once.
 */
function readRefusal<T>(status: unknown, headers: unknown, body: unknown): Reading<T> {
  if (typeof status !== "number" || !Number.isInteger(status) || status < 400 || status > 599) {
    return invalid("a refusal status must be an integer 400-599");
  }
  if (body !== undefined && typeof body !== "string") return invalid("a refusal body must be a string");
  const checked: Record<string, string> = Object.create(null) as Record<string, string>;
  if (headers !== undefined) {
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
      return invalid("refusal headers must be an object of names and values");
    }
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== "string" && !(typeof value === "number" && Number.isFinite(value))) {
        return invalid(`the refusal header ${JSON.stringify(name)} must be a string`);
      }
      const text = String(value);
      if (!isToken(name)) return invalid(`the refusal header name ${JSON.stringify(name)} is not a token`);
      if (!isFieldValue(text)) {
        return invalid(
          `the refusal header ${JSON.stringify(name)} has a character a field value cannot hold`,
        );
      }
      checked[name] = text;
    }
  }
  return refuse(status, body ?? "refused", "onUpgrade", checked);
}
