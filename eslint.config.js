// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
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
    // DESIGN.md §2: the protocol core is sans-I/O. It imports no Node module.
    files: ["src/protocol/**/*.ts"],
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
              message: "src/protocol is sans-I/O: inject what it needs from src/node.",
            },
          ],
        },
      ],
      "no-restricted-globals": ["error", "Buffer", "setTimeout", "setInterval", "setImmediate", "process"],
    },
  },
);
