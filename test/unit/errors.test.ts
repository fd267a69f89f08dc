/**
 * The error table in the code (`ERROR_CODES`) against everything that could drift from it: the
 * README's Errors table, the sources that construct the errors, and the classes the package
 * exports. Adding an error means one row in `src/common/error-codes.ts` (or, for a ProtocolError, in
 * `src/protocol/errors.ts`) and one line in the README; a failure here prints that line.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import * as api from "../../src/index.js";
import * as redis from "../../src/brokers/redis.js";
import { ERROR_CODES, type ErrorCode } from "../../src/common/error-codes.js";
import { PROTOCOL_ERROR_CODES } from "../../src/protocol/errors.js";
import { CloseCode } from "../../src/protocol/close-codes.js";

const root = new URL("../../", import.meta.url).pathname;
const rows = Object.entries(ERROR_CODES) as Array<[ErrorCode, (typeof ERROR_CODES)[ErrorCode]]>;

/** The README line for one code, as the table in the code says it should read. */
function readmeLine([code, row]: (typeof rows)[number]): string {
  const closeCode = "closeCode" in row ? String(row.closeCode) : "";
  return `| \`${code}\` | \`${row.class}\` | ${closeCode} | ${row.meaning} |`;
}

/** The rows of the table under `## Errors` in the README. */
function readmeRows(): string[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(
    readme.indexOf("\n## Errors\n"),
    readme.indexOf("\n## ", readme.indexOf("\n## Errors\n") + 1),
  );
  return section.split("\n").filter((line) => line.startsWith("| `ERR_"));
}

/** Every source file under src/, with its text. */
function sources(): Array<{ path: string; text: string }> {
  const found: Array<{ path: string; text: string }> = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".ts"))
        found.push({ path: path.slice(root.length), text: readFileSync(path, "utf8") });
    }
  };
  walk(join(root, "src"));
  return found;
}

describe("the error table", () => {
  test("the README's Errors table lists exactly these codes, classes and close codes", () => {
    const expected = rows.map(readmeLine);
    assert.deepEqual(
      readmeRows(),
      expected,
      `the README's Errors rows should read:\n${expected.join("\n")}\n`,
    );
  });

  test("every code is constructed somewhere in src", () => {
    const src = sources();
    const all = src.map((file) => file.text).join("\n");
    for (const [code, row] of rows) {
      // A class that fixes its code in its constructor: it must be constructed; one that takes
      // a code (ProtocolError): it must be constructed with this one.
      const fixed = new RegExp(`class ${row.class} extends[^]*?super\\(\\s*"${code}"`).test(all);
      const made = fixed
        ? new RegExp(`new ${row.class}\\(`).test(all)
        : new RegExp(`new ${row.class}\\(\\s*"${code}"`).test(all);
      assert.ok(made, `${code}: no \`new ${row.class}(\` in src${fixed ? "" : ` with "${code}"`}`);
    }
  });

  test("every code used in src is in the table", () => {
    for (const { path, text } of sources()) {
      for (const [, code] of text.matchAll(/"(ERR_[A-Z0-9_]+)"/g)) {
        assert.ok(code! in ERROR_CODES, `${path} uses ${code}, which the table does not have`);
      }
    }
  });

  test("every exported error class is in the table, and every class in the table is exported", () => {
    const exported = ([...Object.values(api), ...Object.values(redis)] as unknown[]).filter(
      (value): value is typeof api.UndercurrentError =>
        typeof value === "function" && value.prototype instanceof api.UndercurrentError,
    );
    const names = new Set(exported.map((error) => error.name));
    const classes = new Set(rows.map(([, row]) => row.class));
    assert.deepEqual([...names].sort(), [...classes].sort());
  });

  test("a ProtocolError's close code is its row's, and the protocol rows are ProtocolError rows", () => {
    for (const [code, row] of Object.entries(PROTOCOL_ERROR_CODES)) {
      const error = new api.ProtocolError(code as api.ProtocolErrorCode, "test");
      assert.equal(error.closeCode, row.closeCode);
      assert.deepEqual(ERROR_CODES[code as ErrorCode], { class: "ProtocolError", ...row });
    }
    const codes = new Set<number>(Object.values(CloseCode));
    for (const [code, row] of rows) {
      if ("closeCode" in row) assert.ok(codes.has(row.closeCode), `${code}: ${row.closeCode} is a CloseCode`);
    }
  });

  test("the table is frozen and public", () => {
    assert.equal(api.ERROR_CODES, ERROR_CODES);
    assert.ok(Object.isFrozen(ERROR_CODES));
  });
});
