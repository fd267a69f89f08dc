/**
 * The architecture of src/, as rules (DESIGN.md §2). `npm run arch` checks them, and `npm test`
 * runs it. Layers, from the bottom:
 *
 *   protocol/   sans-I/O RFC 6455 / 7692 rules: bytes in, events and bytes out
 *   common/     errors and their table, validation, the thenable test, shared value types
 *   pubsub/     topics and the broker contract
 *   core/       sessions, Channel, callbacks, options, timers on an injected clock, the ports
 *   wire/       a byte stream + the protocol core = a link
 *   brokers/    brokers on external services (Redis): may use Node's modules
 *   adapters/   one folder per transport and runtime: the only code that touches a runtime
 *   index.ts    entry points: the only files that import an adapter
 *
 * Arrows point down only; nothing below adapters/ (and brokers/) imports a `node:` module; no
 * cycle, type-only imports included.
 */
const below = (layer, allowed) => ({
  name: `${layer}-points-down`,
  comment: `src/${layer}/ may import only ${allowed.join(", ")} (DESIGN.md §2)`,
  severity: "error",
  from: { path: `^src/${layer}/` },
  to: {
    path: "^src/",
    pathNot: allowed.map((name) => `^src/${name}/`),
  },
});

module.exports = {
  forbidden: [
    {
      name: "no-cycle",
      comment: "No import cycle in src/, type-only imports included.",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "runtime-agnostic",
      comment:
        "protocol/, common/, pubsub/, core/ and wire/ run on every runtime: no Node built-in; inject it from an adapter.",
      severity: "error",
      from: { path: "^src/(protocol|common|pubsub|core|wire)/" },
      to: { dependencyTypes: ["core"] },
    },
    below("protocol", ["protocol"]),
    below("common", ["protocol", "common"]),
    below("pubsub", ["protocol", "common", "pubsub"]),
    below("core", ["protocol", "common", "pubsub", "core"]),
    below("wire", ["protocol", "common", "pubsub", "core", "wire"]),
    below("brokers", ["protocol", "common", "pubsub", "brokers"]),
    {
      name: "adapters-stay-apart",
      comment:
        "An adapter imports the layers below it and its own folder, never another adapter or an entry point.",
      severity: "error",
      from: { path: "^src/adapters/([^/]+)/" },
      to: {
        path: "^src/",
        pathNot: ["^src/(protocol|common|pubsub|core|wire|brokers)/", "^src/adapters/$1/"],
      },
    },
    {
      name: "no-orphans",
      comment: "Every module in src/ is reached from an entry point.",
      severity: "error",
      from: { orphan: true, path: "^src/", pathNot: "\\.d\\.ts$" },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "types"] },
  },
};
