// Prints every test file under test/ (Node 20's `node --test` takes no globs).
// `node scripts/list-tests.mjs [dir-or-file...]` limits the search to some folders or files.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const roots = process.argv.length > 2 ? process.argv.slice(2) : ["test"];
const found = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith(".test.ts")) found.push(path);
  }
};
for (const root of roots) {
  if (statSync(root).isDirectory()) walk(root);
  else found.push(root);
}
process.stdout.write(found.join(" "));
