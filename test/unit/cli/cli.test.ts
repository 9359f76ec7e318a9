// The CLI bundle end to end (node dist/cli.js after `node esbuild.mjs`): completions on the real
// default model, and bad inputs → one line on stderr and exit code 2.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MODEL_DIR, modelAvailable } from '../runtime/helpers';

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist', 'cli.js');

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit code 2 and exactly one line on stderr, no stack trace. */
function assertUsageFailure(r: ReturnType<typeof run>, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^trellis: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

describe('cli: complete / infill / info (dist/cli.js, real model)', function () {
  let dir: string;
  let file: string;
  before(function () {
    if (!modelAvailable()) assert.fail(`the default model is missing: expected ${MODEL_DIR}/onnx/model.onnx`);
    execFileSync(process.execPath, ['esbuild.mjs'], { cwd: root, stdio: 'pipe' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-cli-'));
    file = path.join(dir, 'sample.py');
    fs.writeFileSync(file, 'import os\n\n\ndef list_python_files(root):\n    result = []\n    for name in os.listdir(root):\n        \n    return result\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('complete --json has text, replace, tokens, stopReason and ms', () => {
    const r = run('complete', file, '--at', '7:9', '--model', MODEL_DIR, '--json', '--max-tokens', '12', '--seed', '3', '--grammar', 'off', '--healing', 'off');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(typeof j.text, 'string');
    assert.deepEqual(j.replace, { from: [7, 9], to: [7, 9] });
    assert.ok(j.tokens >= 0 && j.tokens <= 12);
    assert.ok(['eos', 'fim_end', 'max_tokens', 'loop', 'stop_string'].includes(j.stopReason));
    assert.ok(j.ms.total >= j.ms.firstToken && j.ms.firstToken >= 0);
    assert.equal(j.stats.generatedTokens, j.tokens);
    // Same seed, same text; plain output prints the text.
    const again = run('complete', file, '--line', '7', '--col', '9', '--model', MODEL_DIR, '--max-tokens', '12', '--seed', '3', '--grammar', 'off', '--healing', 'off');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, j.text.endsWith('\n') ? j.text : `${j.text}\n`);
  });

  it('infill --candidates returns several candidates for a range', () => {
    const r = run('infill', file, '--from', '7:9', '--to', '7:9', '--candidates', '2', '--model', MODEL_DIR, '--json', '--max-tokens', '8', '--temperature', '1', '--grammar', 'off', '--healing', 'off');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.candidates.length, 2);
    assert.equal(j.text, j.candidates[0].text);
  });

  it('complete with the default options (grammar mask, exact healing) and the default model folder', function () {
    // Without --model the CLI uses models/trellis-code-tiny next to the bundle.
    const args = ['complete', file, '--at', '6:30', '--json', '--max-tokens', '8'];
    const r = run(...(process.env.TRELLIS_TEST_MODEL ? [...args, '--model', MODEL_DIR] : args));
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.stats.healing, 'exact');
    assert.deepEqual(j.replace.to, [6, 30]);
    assert.equal(j.replace.from[1], 30 - j.respelledChars);
  });

  it('bench decode prints tokens/s and first-token latency', () => {
    const r = run('bench', 'decode', '--model', MODEL_DIR, '--prompts', '2', '--max-tokens', '8', '--json');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.prompts, 2);
    assert.ok(j.firstTokenMs > 0);
    assert.ok(j.tokensPerSecond > 0 || j.promptsDecodedAtLeast8 === 0);
  });

  it('info prints the model', () => {
    const r = run('info', '--model', MODEL_DIR, '--json');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.fimTokens.prefix, '<fim_prefix>');
    assert.ok(j.vocabSize > 256 && j.contextLength > 0);
  });

  it('bad inputs: one line on stderr, exit code 2', () => {
    assertUsageFailure(run('complete', path.join(dir, 'missing.py'), '--at', '1:1', '--model', MODEL_DIR), /file not found: .*missing\.py/);
    assertUsageFailure(run('complete', file, '--at', '99:1', '--model', MODEL_DIR), /line 99 is past the end/);
    assertUsageFailure(run('complete', file, '--at', '1:50', '--model', MODEL_DIR), /column 50 is past the end of line 1/);
    assertUsageFailure(run('complete', file, '--offset', '100000', '--model', MODEL_DIR), /past the end/);
    assertUsageFailure(run('complete', file, '--at', 'x', '--model', MODEL_DIR), /LINE:COL/);
    assertUsageFailure(run('complete', file, '--at', '1:1', '--temperature', 'hot', '--model', MODEL_DIR), /--temperature expects a number/);
    assertUsageFailure(run('complete', file, '--at', '1:1', '--bogus'), /bogus/);
    assertUsageFailure(run('complete', file), /needs a position/);
    assertUsageFailure(run('frobnicate'), /unknown command/);
    // A broken model folder: config.json only.
    const broken = path.join(dir, 'broken-model');
    fs.mkdirSync(broken, { recursive: true });
    fs.copyFileSync(path.join(MODEL_DIR, 'config.json'), path.join(broken, 'config.json'));
    assertUsageFailure(run('complete', file, '--at', '1:1', '--model', broken), /missing tokenizer\.json/);
    fs.writeFileSync(path.join(broken, 'config.json'), '{ not json');
    assertUsageFailure(run('complete', file, '--at', '1:1', '--model', broken), /config\.json is not valid JSON/);
    // A binary file.
    const bin = path.join(dir, 'data.bin');
    fs.writeFileSync(bin, Buffer.from([0x61, 0x00, 0x62, 0x0a]));
    assertUsageFailure(run('complete', bin, '--at', '1:1', '--model', MODEL_DIR), /NUL bytes/);
  });
});

describe('cli: bench mask (dist/cli.js)', function () {
  this.timeout(120000);

  it('counts every timed mask once by how it was answered and what its state was in', () => {
    const r = run('bench', 'mask', '--language', 'json', '--tokenizer', 'tiny', '--mode', 'spread', '--masks', '20', '--json');
    assert.equal(r.code, 0, r.stderr);
    const [row] = JSON.parse(r.stdout) as {
      maskUs: { n: number }; over1msShare: number; byKind: { answer: string; state: string; masks: number; over1ms: number; slowest1pct: number }[];
      rowsBuilt: { perMask: { n: number; p50: number; p99: number; max: number }; usPerRow: number | null; over1msMany: number | null };
      nodesStepped: { perMask: { n: number; p50: number; p99: number; max: number }; usPerNode: number | null; slowestMedian: number };
    }[];
    assert.ok(row.maskUs.n >= 20, `masks: ${row.maskUs.n}`);
    // each mask counts the parser rows it built: the first, a walk from a file's start, builds some
    const rb = row.rowsBuilt;
    assert.equal(rb.perMask.n, row.maskUs.n);
    assert.ok(rb.perMask.max >= 1 && rb.perMask.p50 <= rb.perMask.p99 && rb.perMask.p99 <= rb.perMask.max, JSON.stringify(rb));
    // a cost per row only where some mask built ten or more; a slow share only where some mask took over 1 ms
    assert.equal(rb.usPerRow === null, rb.perMask.max < 10, JSON.stringify(rb));
    if (rb.usPerRow !== null) assert.ok(rb.usPerRow > 0, JSON.stringify(rb));
    assert.equal(rb.over1msMany === null, row.over1msShare === 0 && row.byKind.every((k) => k.over1ms === 0), JSON.stringify(rb));
    // and the trie nodes it stepped: the first walk steps some; a cost per node only where some mask stepped a hundred
    const ns = row.nodesStepped;
    assert.equal(ns.perMask.n, row.maskUs.n);
    assert.ok(ns.perMask.max >= 1 && ns.perMask.p50 <= ns.perMask.p99 && ns.perMask.p99 <= ns.perMask.max, JSON.stringify(ns));
    assert.equal(ns.usPerNode === null, ns.perMask.max < 100, JSON.stringify(ns));
    if (ns.usPerNode !== null) assert.ok(ns.usPerNode > 0, JSON.stringify(ns));
    assert.ok(ns.slowestMedian <= ns.perMask.max, JSON.stringify(ns));
    assert.equal(row.byKind.reduce((n, k) => n + k.masks, 0), row.maskUs.n);
    assert.equal(row.byKind.reduce((n, k) => n + k.over1ms, 0), Math.round(row.over1msShare * row.maskUs.n));
    // the slowest 1% (rounded up) is counted once, by the kinds of those masks
    assert.equal(row.byKind.reduce((n, k) => n + k.slowest1pct, 0), Math.ceil(row.maskUs.n / 100));
    for (const k of row.byKind) {
      assert.ok(['exact', 'core', 'deeper', 'walk'].includes(k.answer), k.answer);
      assert.ok(k.slowest1pct <= k.masks, JSON.stringify(k));
      assert.ok(['lexeme-end', 'extra', 'inside-lexeme', 'lexeme-start', 'scanner-run', 'fallback'].includes(k.state), k.state);
    }
    // the first mask of each language is a walk from the start of a file
    assert.ok(row.byKind.some((k) => k.answer === 'walk' && k.state === 'lexeme-start'));
  });

  it('walks the slowest 1% of the masks again once every cache is warm', () => {
    const r = run('bench', 'mask', '--language', 'python', '--tokenizer', 'tiny', '--mode', 'window', '--masks', '300', '--json');
    assert.equal(r.code, 0, r.stderr);
    const [row] = JSON.parse(r.stdout) as { maskUs: { n: number; p99: number; max: number }; slowest: { masks: number; maskUs: number; warmWalkUs: number } }[];
    assert.equal(row.slowest.masks, Math.ceil(row.maskUs.n / 100));
    // the slowest masks' median is at least the p99 of them all (it is among the slowest 1%)
    assert.ok(row.slowest.maskUs >= row.maskUs.p99 && row.slowest.maskUs <= row.maskUs.max, JSON.stringify(row));
    assert.ok(row.slowest.warmWalkUs > 0, JSON.stringify(row.slowest));
  });

  it('runs a long session over other files in one runtime and times its last two thirds apart', () => {
    const r = run('bench', 'mask', '--language', 'python', '--tokenizer', 'tiny', '--mode', 'session', '--files', '3', '--json');
    assert.equal(r.code, 0, r.stderr);
    const [row] = JSON.parse(r.stdout) as { files: number; tokens: number; maskUs: { n: number }; byFile: unknown[]; warm: { fromFile: number; masks: number; maskUs: { n: number } }; memoMiB: number }[];
    assert.equal(row.files, 3);
    // a mask at every token of the three files, the last two files' ones apart
    assert.equal(row.maskUs.n, row.tokens);
    assert.equal(row.warm.fromFile, 2);
    assert.ok(row.warm.masks > 0 && row.warm.masks < row.maskUs.n, `${row.warm.masks} of ${row.maskUs.n}`);
    assert.equal(row.warm.maskUs.n, row.warm.masks);
    assert.ok(row.memoMiB > 0, `memos ${row.memoMiB} MiB`);
    assert.deepEqual(row.byFile, []);
    assert.equal(run('bench', 'mask', '--files', '3').code, 2, '--files needs --mode session');
  });
});
