// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: [".dependency-cruiser.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable" } },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly" } },
  },
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // DESIGN.md §2: the protocol core is sans-I/O, and the layers above it up to the wire run on
    // every runtime: none imports a Node module or uses a runtime global (inject it instead).
    files: ["src/{protocol,common,pubsub,core,wire}/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                "node:*",
                "net",
                "http",
                "https",
                "tls",
                "zlib",
                "fs",
                "timers",
                "stream",
                "events",
                "crypto",
                "buffer",
              ],
              message: "runtime-agnostic layer: inject what it needs from an adapter (src/adapters/).",
            },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        "Buffer",
        "setTimeout",
        "setInterval",
        "setImmediate",
        "clearTimeout",
        "clearInterval",
        "process",
        "NodeJS",
        "Bun",
        "Deno",
      ],
    },
  },
);
