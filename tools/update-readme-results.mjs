#!/usr/bin/env node
// Regenerates the results table in README.md (between <!-- results:start --> and
// <!-- results:end -->) and report/index.html from report/results.json, without rerunning any
// benchmark. The table code lives in src/cli/report/sections.ts; this calls the built CLI.
// Usage: node tools/update-readme-results.mjs [--screenshot]   (after npm run build)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
if (!existsSync(cli)) {
  console.error(`${cli} is missing: run npm run build first`);
  process.exit(2);
}
const args = [cli, 'report', '--readme', join(root, 'README.md')];
if (process.argv.includes('--screenshot')) args.push('--screenshot', join(root, 'report', 'screenshot.png'));
const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
