/**
 * `Sec-WebSocket-Extensions` syntax (RFC 6455 §9.1): a comma-separated list of extensions,
 * each a token followed by `;`-separated parameters, each a token with an optional value
 * (a token or a quoted string).
 * @module
 */

/** One extension offer: its name and its parameters in order (`true` for a parameter without value). */
export interface ExtensionOffer {
  readonly name: string;
  readonly params: ReadonlyArray<readonly [string, string | true]>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses the header (all its values joined with commas). Returns undefined when the syntax is
 * invalid, which fails the handshake with 400.
 */
export function parseExtensions(value: string | string[] | undefined): ExtensionOffer[] | undefined {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(",") : value;
  const offers: ExtensionOffer[] = [];
  for (const item of splitOutsideQuotes(text, ",")) {
    if (item.trim() === "") continue;
    const [name = "", ...rawParams] = splitOutsideQuotes(item, ";").map((part) => part.trim());
    if (!TOKEN.test(name)) return undefined;
    const params: Array<[string, string | true]> = [];
    for (const raw of rawParams) {
      const eq = raw.indexOf("=");
      const key = (eq === -1 ? raw : raw.slice(0, eq)).trim();
      if (!TOKEN.test(key)) return undefined;
      if (eq === -1) {
        params.push([key, true]);
        continue;
      }
      let val = raw.slice(eq + 1).trim();
      if (val.startsWith('"')) {
        // §9.1: a quoted-string value must, once unquoted, be a token.
        if (val.length < 2 || !val.endsWith('"')) return undefined;
        val = val.slice(1, -1).replace(/\\(.)/g, "$1");
      }
      if (!TOKEN.test(val)) return undefined;
      params.push([key, val]);
    }
    offers.push({ name: name.toLowerCase(), params });
  }
  return offers;
}

/** Formats one extension for a response header. */
export function formatExtension(
  name: string,
  params: ReadonlyArray<readonly [string, string | true]>,
): string {
  return [name, ...params.map(([key, val]) => (val === true ? key : `${key}=${val}`))].join("; ");
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "\\" && quoted) {
      current += ch + (text[i + 1] ?? "");
      i++;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === separator && !quoted) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts;
}
