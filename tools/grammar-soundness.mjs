#!/usr/bin/env node
// Grammar soundness and precision on real code no one here wrote, against tree-sitter:
//   python      every .py file of the CPython standard library (Lib/, with Lib/test)
//   json        every .json file under node_modules
//   typescript  the typescript package's lib/*.d.ts
//   javascript  mocha's lib, refa, and the typescript package's lib/*.js (its compiled sources)
// For each: files accepted / total, files tree-sitter parses cleanly and how many of those the
// engine accepts with every prefix viable, every disagreement, files skipped and why; then
// precision on one-token mutations of a seeded sample (`--mutations`).
//
// Usage: npm run build && node tools/grammar-soundness.mjs [--lib DIR] [--languages a,b] [--out F]
//        [--sample N] [--mutations K] [--cli dist/cli.js]
// Writes report/grammar-soundness.json (summaries only). Takes ~10 minutes on 2 cores.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };

function findLib() {
  const candidates = [];
  const pyenv = path.join(process.env.HOME ?? '/root', '.pyenv/versions');
  if (fs.existsSync(pyenv)) for (const v of fs.readdirSync(pyenv).filter((v) => v.startsWith('3.11')).sort().reverse()) candidates.push(path.join(pyenv, v, 'lib/python3.11'));
  candidates.push('/usr/lib/python3.11');
  return candidates.find((c) => fs.existsSync(path.join(c, 'os.py')));
}

function walk(dir, ext, out = [], skipDir = () => false) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) { if (!skipDir(e.name)) walk(p, ext, out, skipDir); } else if (e.isFile() && p.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

const lib = opt('lib', findLib());
const nm = path.join(root, 'node_modules');
const corpora = {
  python: { source: `CPython standard library ${lib} (site-packages excluded)`, files: lib ? walk(lib, '.py', [], (d) => d === 'site-packages' || d === '__pycache__') : [] },
  json: { source: 'every .json file under node_modules', files: walk(nm, '.json') },
  typescript: { source: 'node_modules/typescript/lib/*.d.ts', files: fs.readdirSync(path.join(nm, 'typescript/lib')).filter((f) => f.endsWith('.d.ts')).map((f) => path.join(nm, 'typescript/lib', f)).sort() },
  javascript: {
    source: 'node_modules/mocha/lib, node_modules/refa, node_modules/typescript/lib/*.js',
    files: [...walk(path.join(nm, 'mocha/lib'), '.js'), ...walk(path.join(nm, 'refa'), '.js'), ...fs.readdirSync(path.join(nm, 'typescript/lib')).filter((f) => f.endsWith('.js')).map((f) => path.join(nm, 'typescript/lib', f)).sort()],
  },
};
const languages = (opt('languages', 'python,json,typescript,javascript')).split(',');
const cli = path.resolve(opt('cli', path.join(root, 'dist/cli.js')));
if (!fs.existsSync(cli)) { console.error('grammar-soundness: dist/cli.js is missing; run `npm run build` first'); process.exit(2); }

function check(language, files, extra) {
  // file lists go through a response file's worth of argv chunks (argv limits)
  const summaries = [];
  const chunk = 400;
  for (let i = 0; i < files.length; i += chunk) {
    const r = spawnSync(process.execPath, ['--max-old-space-size=8000', cli, 'grammar', 'check', '--tree-sitter', '--language', language, '--max-bytes', '20000000', '--json', '--quiet', ...extra, ...files.slice(i, i + chunk)], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.status !== 0 && r.status !== 1) throw new Error(`grammar check (${language}) failed: ${r.stderr.slice(-2000)}`);
    summaries.push(JSON.parse(r.stdout).summary);
  }
  const sum = (k) => summaries.reduce((a, s) => a + (s[k] ?? 0), 0);
  const cat = (k) => summaries.flatMap((s) => s[k] ?? []);
  const out = {
    files: sum('files'), skipped: sum('skipped'), skippedFiles: cat('skippedFiles'), accepted: sum('accepted'),
    treeSitterClean: sum('treeSitterClean'), acceptedOfClean: sum('acceptedOfClean'), everyPrefixViableOfClean: sum('everyPrefixViableOfClean'),
    disagreements: cat('disagreements'), acceptedDespiteTreeSitterError: cat('acceptedDespiteTreeSitterError'), bytes: sum('bytes'), ms: sum('ms'),
  };
  if (summaries.some((s) => s.mutations !== undefined)) {
    const tsRejected = sum('mutationsTreeSitterRejects'), engineRejected = sum('mutationsEngineRejects');
    out.mutations = { total: sum('mutations'), tsRejected, engineRejected, rejectionRate: tsRejected ? Math.round((engineRejected / tsRejected) * 10000) / 10000 : null, missed: cat('missedMutations') };
  }
  return out;
}

/** A fixed sample: the n files with the smallest FNV-1a hash of their path relative to the corpus. */
function sample(files, n) {
  const h = (str) => { let x = 0x811c9dc5; for (let i = 0; i < str.length; i++) { x ^= str.charCodeAt(i); x = Math.imul(x, 0x01000193) >>> 0; } return x; };
  return files.map((f) => [h(path.basename(path.dirname(f)) + '/' + path.basename(f)), f]).sort((a, b) => a[0] - b[0]).slice(0, n).map((x) => x[1]).sort();
}

const result = { generatedAt: new Date().toISOString(), command: `node tools/grammar-soundness.mjs`, languages: {} };
for (const language of languages) {
  const c = corpora[language];
  if (!c || c.files.length === 0) { console.error(`grammar-soundness: no files for ${language}, skipped`); continue; }
  const t0 = Date.now();
  const soundness = check(language, c.files, []);
  const precision = check(language, sample(c.files, Number(opt('sample', 200))), ['--mutations', String(Number(opt('mutations', 3))), '--seed', '1']);
  result.languages[language] = { source: c.source, soundness, precision: precision.mutations ?? null, seconds: Math.round((Date.now() - t0) / 1000) };
  const s = soundness;
  console.log(`${language.padEnd(11)} accepted ${s.acceptedOfClean}/${s.treeSitterClean} tree-sitter-clean files (every prefix viable: ${s.everyPrefixViableOfClean}), ${s.disagreements.length} disagreements, ${s.skipped} skipped; mutations rejected ${precision.mutations?.engineRejected}/${precision.mutations?.tsRejected}, ${result.languages[language].seconds} s`);
}
const out = opt('out', path.join(root, 'report/grammar-soundness.json'));
fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
console.log(`wrote ${path.relative(root, out)}`);
