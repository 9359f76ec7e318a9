// `trellis eval-grammar`: the grammar modes (off / mask / aligned) compared on held-out real
// Python files with the local model (issue 5). Cursors at seeded random line ends and mid-line
// positions; the real text up to the end of the (next) line is the expected middle. Per mode:
// share of completions after which the file has no new tree-sitter error, exact match and edit
// similarity to the real text, share stopped by max tokens / loop guards / dead ends, mean
// latency, and decode tokens/s. The speed ratio to `off` comes from a throughput phase in the
// same run where every mode decodes exactly --max-tokens tokens (end tokens banned), since a
// mode that ends early would otherwise be compared on different work.
// web-tree-sitter is used here only to validate results (never to constrain decoding).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompletionOptions, CompletionResult, GrammarMode, PromptLayoutMode } from '../../engine/api';
import { Engine, defaultPlugins, type EngineLoadOptions, type EnginePlugins } from '../../engine/engine';
import type { Matcher } from '../../engine/interfaces';
import { Xoshiro128 } from '../../engine/decode/rng';
import { createGrammarSession, grammarPlugin } from '../../engine/decode/grammar';
import { decode } from '../../engine/decode/loop';
import { DEFAULT_OPTIONS } from '../../engine/api';
import { AsapStore } from '../../engine/decode/asap-trie';
import { findPackageFile } from '../../engine/grammar/load';
import { createMatcher, grammarLanguages, loadGrammar, type CompiledGrammar } from '../../engine/grammar';
import { type Command, UsageError } from '../command';
import { defaultHeldOutFiles as defaultFiles } from './eval-healing';
import { defaultModelDir, intFlag, layoutFlag, parseFlags } from './completion-args';

export interface GrammarEvalOptions {
  modelDir: string;
  /** Python files to draw cursors from; default: H1's held-out list, else /usr/lib/python3.11. */
  files?: string[];
  /** Most files used (the first that parse cleanly, in list order). */
  maxFiles: number;
  /** Cursor positions (half at line ends, half mid-line). */
  positions: number;
  /**
   * Run only these cursors (indices in draw order, as in the details' `index`), each with the
   * seed it has in the full run: reproduces one completion of a larger evaluation.
   */
  only?: number[];
  seed: number;
  modes: GrammarMode[];
  maxTokens: number;
  temperature: number;
  topP: number;
  /** Skip files larger than this many bytes (the grammar walks the whole prefix per request). */
  maxFileBytes: number;
  healing: CompletionOptions['healing'];
  /** Prompt layout (default auto: the model card's). */
  layout?: PromptLayoutMode;
  /** Matcher factory for the grammar plugin when the build's default plugins have none. */
  matcherFor?: (languageId: string, engine: EngineLoadContext) => Matcher | null;
  signal?: AbortSignal;
  /** Include every completion in the report. */
  details?: boolean;
  /**
   * Cursors of the throughput phase: each mode decodes exactly `maxTokens` tokens there (end
   * tokens banned), so decode tokens/s compare like with like even when a mode ends early.
   */
  throughputCursors: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

/** What a matcher factory may use from the loaded model folder. */
export type EngineLoadContext = Parameters<Exclude<EngineLoadOptions['plugins'], EnginePlugins | undefined>>[0];

export interface GrammarEvalRow {
  mode: GrammarMode;
  completions: number;
  /** prefix + completion + suffix has no more ERROR/MISSING nodes than the original file. */
  parseOk: number;
  exactMatch: number;
  editSimilarity: number;
  maxTokensShare: number;
  loopShare: number;
  deadEndShare: number;
  meanLatencyMs: number;
  meanFirstTokenMs: number;
  /** Generated tokens per second of decoding over the completions of the quality phase. */
  decodeTokensPerSecond: number;
  /** Decode tokens/s of the throughput phase (every mode decodes maxTokens tokens). */
  forcedTokensPerSecond: number;
  /**
   * Decode tokens/s relative to `off` in the same run: the median over the throughput cursors
   * of (this mode's tokens/s / off's) at that cursor (NaN without an `off` row).
   */
  tokensPerSecondVsOff: number;
  /**
   * The same ratio with tokens per CPU second of the process (all its threads) instead of per
   * wall-clock second: insensitive to other work on a shared machine.
   */
  cpuTokensPerSecondVsOff: number;
  meanGeneratedTokens: number;
  maskedStepsPerToken: number;
  suffixChecks: Record<string, number>;
  /** Share of completions that decoded past max tokens (grace tokens) looking for an allowed end. */
  graceShare: number;
  /** How cut completions got an allowed end (stats.endRepair), counts. */
  endRepairs: Record<string, number>;
}

export interface GrammarEvalReport {
  model: string;
  source: string;
  files: number;
  positions: number;
  lineEndPositions: number;
  midLinePositions: number;
  options: { seed: number; maxTokens: number; temperature: number; topP: number; healing: string };
  rows: GrammarEvalRow[];
  /** Per cursor and mode (with `details`): the completion, why it stopped, whether it parses. */
  details?: unknown[];
}

interface Case {
  /** Position in draw order (the completion's seed is options.seed + index). */
  index: number;
  file: string;
  prefix: string;
  middle: string;
  suffix: string;
  kind: 'line-end' | 'mid-line';
  originalErrors: number;
}

export type TsParser = { parse(text: string): { rootNode: TsNode; delete(): void } | null; delete(): void };
type TsNode = { type: string; isMissing: boolean; hasError: boolean; childCount: number; child(i: number): TsNode | null };

/** ERROR and MISSING nodes of a tree-sitter parse (only subtrees that contain errors are walked). */
export function errorCount(parser: TsParser, text: string): number {
  const tree = parser.parse(text);
  if (!tree) return Number.MAX_SAFE_INTEGER;
  try {
    let n = 0;
    const walk = (node: TsNode): void => {
      if (node.type === 'ERROR' || node.isMissing) n++;
      if (!node.hasError && !node.isMissing) return;
      for (let i = 0; i < node.childCount; i++) {
        const c = node.child(i);
        if (c) walk(c);
      }
    };
    walk(tree.rootNode);
    return n;
  } finally {
    tree.delete();
  }
}

/** A web-tree-sitter parser for Python (call `delete()` when done). */
export async function pythonParser(): Promise<TsParser> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('web-tree-sitter') as { Parser: { init(): Promise<void>; new (): TsParser & { setLanguage(l: unknown): void } }; Language: { load(p: string): Promise<unknown> } };
  const wasm = findPackageFile('tree-sitter-python', 'tree-sitter-python.wasm');
  if (!wasm) throw new UsageError('eval-grammar needs node_modules/tree-sitter-python/tree-sitter-python.wasm (npm install)');
  await ts.Parser.init();
  const lang = await ts.Language.load(wasm);
  const p = new ts.Parser();
  p.setLanguage(lang);
  return p;
}

/** Seeded cursors: line ends (middle = the next line) and mid-line points (middle = rest of line). */
function drawCases(docs: { file: string; text: string; errors: number }[], positions: number, seed: number): Case[] {
  const rng = new Xoshiro128(seed, 5);
  const pick = (n: number) => Math.floor(rng.next() * n);
  const cases: Case[] = [];
  for (let tries = 0; cases.length < positions && tries < positions * 50; tries++) {
    const doc = docs[pick(docs.length)]!;
    const lines = doc.text.split('\n');
    const starts: number[] = [];
    let at = 0;
    for (const l of lines) {
      starts.push(at);
      at += l.length + 1;
    }
    const li = pick(lines.length);
    const line = lines[li]!;
    if (line.trim() === '') continue;
    const kind = cases.length % 2 === 0 ? 'line-end' : 'mid-line';
    let cursor: number;
    let end: number;
    if (kind === 'line-end') {
      // Cursor after the line; the real continuation is the next non-blank line.
      let nj = li + 1;
      while (nj < lines.length && lines[nj]!.trim() === '') nj++;
      if (nj >= lines.length) continue;
      cursor = starts[li]! + line.length;
      end = starts[nj]! + lines[nj]!.length;
    } else {
      const indent = line.length - line.trimStart().length;
      const content = line.trimEnd().length;
      if (content - indent < 4) continue;
      cursor = starts[li]! + indent + 1 + pick(content - indent - 2);
      end = starts[li]! + line.length;
    }
    const middle = doc.text.slice(cursor, end);
    if (middle.trim() === '') continue;
    cases.push({ index: cases.length, file: doc.file, prefix: doc.text.slice(0, cursor), middle, suffix: doc.text.slice(end), kind, originalErrors: doc.errors });
  }
  return cases;
}

/** 1 − Levenshtein / max length (1 for two empty strings). */
export function editSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return 0;
  let prev = new Uint32Array(m + 1);
  let cur = new Uint32Array(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    for (let j = 1; j <= m; j++) {
      const sub = prev[j - 1]! + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1);
      cur[j] = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return 1 - prev[m]! / Math.max(n, m);
}

/** Runs the evaluation; see the module comment. */
export async function runGrammarEval(opts: GrammarEvalOptions): Promise<GrammarEvalReport> {
  const log = opts.log ?? (() => {});
  const parser = await pythonParser();
  try {
    const { files: candidates, source } = opts.files ? { files: opts.files, source: 'given files' } : defaultFiles();
    const docs: { file: string; text: string; errors: number }[] = [];
    for (const f of candidates) {
      if (docs.length >= opts.maxFiles) break;
      let text: string;
      try {
        if (fs.statSync(f).size > opts.maxFileBytes) continue;
        text = fs.readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      if (text.includes('\0') || text.includes('\r')) continue;
      const errors = errorCount(parser, text);
      // Only files that parse: "no new error" then means "parses".
      if (errors === 0) docs.push({ file: f, text, errors });
    }
    if (docs.length === 0) throw new UsageError(`no usable Python file (parsing cleanly, ≤ ${opts.maxFileBytes} bytes) in ${source}`);
    const drawn = drawCases(docs, opts.positions, opts.seed);
    const cases = opts.only ? drawn.filter((c) => opts.only!.includes(c.index)) : drawn;
    if (cases.length === 0) throw new UsageError(`--only: no such cursor (${drawn.length} drawn)`);
    log(`eval-grammar: ${cases.length} cursors in ${docs.length} files from ${source}`);

    const store = new AsapStore();
    const engine = await Engine.load(opts.modelDir, {
      signal: opts.signal,
      plugins: async (loaded, o) => {
        const base = await defaultPlugins(loaded, o);
        if (base.grammar || !opts.matcherFor) return base;
        const plugin = grammarPlugin((lang) => opts.matcherFor!(lang, loaded), store);
        return { ...base, grammar: (ctx) => plugin(ctx) };
      },
    });
    try {
      const complete = (c: Case, mode: GrammarMode) =>
        engine.complete(
          {
            prefix: c.prefix,
            suffix: c.suffix,
            languageId: 'python',
            fileName: c.file,
            options: { grammar: mode, maxTokens: opts.maxTokens, temperature: opts.temperature, topP: opts.topP, seed: opts.seed + c.index, healing: opts.healing, layout: opts.layout },
          },
          opts.signal,
        );
      // Warm-up (JIT of the grammar and the model), not measured.
      for (const mode of opts.modes) await complete(cases[0]!, mode);
      // Modes interleaved per cursor, so that a machine shared with other work slows all alike.
      const results = new Map<GrammarMode, { r: CompletionResult; c: Case }[]>(opts.modes.map((m) => [m, []]));
      for (const [i, c] of cases.entries()) {
        for (const mode of opts.modes) {
          if (opts.signal?.aborted) throw new UsageError('aborted');
          results.get(mode)!.push({ r: await complete(c, mode), c });
        }
        if ((i + 1) % 10 === 0) log(`  ${i + 1}/${cases.length} cursors`);
      }
      const rows = opts.modes.map((mode) => summarize(mode, results.get(mode)!, parser));
      const details = opts.details
        ? cases.map((c, i) => ({
            index: c.index,
            file: c.file,
            kind: c.kind,
            /** The cursor: UTF-16 offset of the middle in the file. */
            at: c.prefix.length,
            middle: c.middle,
            modes: Object.fromEntries(
              opts.modes.map((m) => {
                const { r } = results.get(m)![i]!;
                const doc = c.prefix.slice(0, c.prefix.length - r.respelledChars) + r.text + c.suffix;
                return [m, { text: r.text, stopReason: r.stopReason, suffixCheck: r.stats.suffixCheck, endRepair: r.stats.endRepair ?? 'none', generated: r.stats.generatedTokens, parseOk: errorCount(parser, doc) <= c.originalErrors, ms: Math.round(r.timings.totalMs) }];
              }),
            ),
          }))
        : undefined;
      const forced = await throughput(engine, cases.slice(0, opts.throughputCursors), opts, store);
      for (const r of rows) {
        r.forcedTokensPerSecond = forced.tps.get(r.mode) ?? NaN;
        r.tokensPerSecondVsOff = forced.ratio.get(r.mode) ?? NaN;
        r.cpuTokensPerSecondVsOff = forced.cpuRatio.get(r.mode) ?? NaN;
      }
      return {
        model: engine.info().name,
        source,
        files: docs.length,
        positions: cases.length,
        lineEndPositions: cases.filter((c) => c.kind === 'line-end').length,
        midLinePositions: cases.filter((c) => c.kind === 'mid-line').length,
        options: { seed: opts.seed, maxTokens: opts.maxTokens, temperature: opts.temperature, topP: opts.topP, healing: opts.healing },
        rows,
        details,
      };
    } finally {
      await engine.dispose();
    }
  } finally {
    parser.delete();
  }
}

/** Rounds of the throughput phase: every cursor is decoded this many times per mode. */
const THROUGHPUT_ROUNDS = 3;

/**
 * Decode speed per mode with the end tokens banned: every mode decodes `maxTokens` tokens from
 * the same prompts. Time runs from the first to the last token, so prefill and the grammar's
 * per-request preparation are not counted. On a machine shared with other work the load swings
 * within seconds, so the modes run back to back per cursor, in an order rotated per cursor and
 * round, THROUGHPUT_ROUNDS times; per mode it returns the pooled tokens/s and the median over
 * cursors of the per-cursor ratio to `off` (each cursor's ratio compares runs made seconds
 * apart, the median drops the cursors a load burst hit).
 */
async function throughput(
  engine: Engine,
  cases: Case[],
  opts: GrammarEvalOptions,
  store: AsapStore,
): Promise<{ tps: Map<GrammarMode, number>; ratio: Map<GrammarMode, number>; cpuRatio: Map<GrammarMode, number> }> {
  const l = engine.model;
  const tok = l.tokenizer;
  const ends = [...l.eosIds, ...(l.fim?.end !== undefined ? [l.fim.end] : [])];
  const banned = [...new Set([...l.bannedIds, ...ends])];
  const grammar = loadGrammar('python');
  const totals = new Map<GrammarMode, { tokens: number; ms: number }>(opts.modes.map((m) => [m, { tokens: 0, ms: 0 }]));
  const ratios = new Map<GrammarMode, number[]>(opts.modes.map((m) => [m, []]));
  const cpuRatios = new Map<GrammarMode, number[]>(opts.modes.map((m) => [m, []]));
  for (const [i, c] of cases.entries()) {
    const prefix = utf8(c.prefix);
    const suffix = utf8(c.suffix);
    const ids = tok.encodeBytes(prefix).slice(-256);
    const perCursor = new Map<GrammarMode, { tokens: number; ms: number; cpuMs: number }>(opts.modes.map((m) => [m, { tokens: 0, ms: 0, cpuMs: 0 }]));
    for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
      const k = (i + round) % opts.modes.length;
      const order = [...opts.modes.slice(k), ...opts.modes.slice(0, k)];
      for (const mode of order) {
        const session = mode === 'off' ? null : createGrammarSession({ mode, matcher: createMatcher(grammar, null, tok), tokenizer: tok, prefix, suffix, store });
        const cache = l.model.newCache();
        const [logits] = await l.model.forward([{ ids, cache }]);
        const times: number[] = [];
        let cpu0: NodeJS.CpuUsage | null = null;
        let cpu1: NodeJS.CpuUsage | null = null;
        const onToken = () => {
          times.push(performance.now());
          cpu1 = process.cpuUsage();
          cpu0 ??= cpu1;
        };
        const out = await decode({
          model: l.model,
          tokenizer: tok,
          cache,
          logits: logits!,
          params: { ...DEFAULT_OPTIONS, temperature: opts.temperature, topP: opts.topP, maxTokens: opts.maxTokens, seed: opts.seed + i },
          rng: new Xoshiro128(opts.seed + i),
          endTokens: new Map(),
          banned,
          hooks: { selector: session?.newSelector(0), onToken },
          signal: opts.signal,
        });
        out.cache.dispose();
        if (out.cache !== cache) cache.dispose();
        if (times.length > 1) {
          for (const t of [totals.get(mode)!, perCursor.get(mode)!]) {
            t.tokens += times.length - 1;
            t.ms += times[times.length - 1]! - times[0]!;
          }
          const c0 = cpu0 as NodeJS.CpuUsage | null;
          const c1 = cpu1 as NodeJS.CpuUsage | null;
          if (c0 && c1) perCursor.get(mode)!.cpuMs += (c1.user - c0.user + c1.system - c0.system) / 1000;
        }
      }
    }
    const rate = (t: { tokens: number; ms: number }) => (t.ms > 0 ? t.tokens / t.ms : NaN);
    const off = perCursor.get('off');
    for (const m of opts.modes) if (off && rate(off) > 0 && rate(perCursor.get(m)!) > 0) ratios.get(m)!.push(rate(perCursor.get(m)!) / rate(off));
    // The same per CPU time of this process (all its threads): what the machine's other work
    // does not change, unlike wall time.
    const cpuRate = (t: { tokens: number; cpuMs: number }) => (t.cpuMs > 0 ? t.tokens / t.cpuMs : NaN);
    for (const m of opts.modes) if (off && cpuRate(off) > 0 && cpuRate(perCursor.get(m)!) > 0) cpuRatios.get(m)!.push(cpuRate(perCursor.get(m)!) / cpuRate(off));
  }
  const median = (xs: number[]) => {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  return {
    tps: new Map([...totals].map(([m, t]) => [m, t.ms > 0 ? (t.tokens * 1000) / t.ms : NaN])),
    ratio: new Map([...ratios].map(([m, r]) => [m, median(r)])),
    cpuRatio: new Map([...cpuRatios].map(([m, r]) => [m, median(r)])),
  };
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function summarize(mode: GrammarMode, results: { r: CompletionResult; c: Case }[], parser: TsParser): GrammarEvalRow {
  let parseOk = 0;
  let exact = 0;
  let sim = 0;
  let decodeTokens = 0;
  let decodeMs = 0;
  let latency = 0;
  let first = 0;
  let generated = 0;
  let masked = 0;
  const reasons = new Map<string, number>();
  const checks: Record<string, number> = {};
  const repairs: Record<string, number> = {};
  let grace = 0;
  for (const { r, c } of results) {
    if ((r.stats.graceTokens ?? 0) > 0) grace++;
    const how = r.stats.endRepair ?? 'none';
    if (how !== 'none') repairs[how] = (repairs[how] ?? 0) + 1;
    const before = c.prefix.slice(0, c.prefix.length - r.respelledChars);
    const doc = before + r.text + c.suffix;
    if (errorCount(parser, doc) <= c.originalErrors) parseOk++;
    // Compare what the edit produces with the real text over the same span.
    const produced = c.prefix.slice(before.length) + r.text;
    if (produced.trimEnd() === c.middle.trimEnd()) exact++;
    sim += editSimilarity(produced.trimEnd(), c.middle.trimEnd());
    const gen = r.stats.generatedTokens;
    if (gen > 1) {
      decodeTokens += gen - 1;
      decodeMs += r.timings.totalMs - r.timings.firstTokenMs;
    }
    latency += r.timings.totalMs;
    first += r.timings.firstTokenMs;
    generated += gen;
    masked += r.stats.maskedSteps;
    reasons.set(r.stopReason, (reasons.get(r.stopReason) ?? 0) + 1);
    checks[r.stats.suffixCheck] = (checks[r.stats.suffixCheck] ?? 0) + 1;
  }
  const n = Math.max(1, results.length);
  return {
    mode,
    completions: results.length,
    parseOk: parseOk / n,
    exactMatch: exact / n,
    editSimilarity: sim / n,
    maxTokensShare: (reasons.get('max_tokens') ?? 0) / n,
    loopShare: (reasons.get('loop') ?? 0) / n,
    deadEndShare: (reasons.get('grammar') ?? 0) / n,
    meanLatencyMs: latency / n,
    meanFirstTokenMs: first / n,
    decodeTokensPerSecond: decodeMs > 0 ? (decodeTokens * 1000) / decodeMs : 0,
    forcedTokensPerSecond: NaN,
    tokensPerSecondVsOff: NaN,
    cpuTokensPerSecondVsOff: NaN,
    meanGeneratedTokens: generated / n,
    maskedStepsPerToken: generated > 0 ? masked / generated : 0,
    suffixChecks: checks,
    graceShare: grace / n,
    endRepairs: repairs,
  };
}

/** The report as a fixed-width table. */
export function formatGrammarEval(rep: GrammarEvalReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const head = ['mode', 'n', 'parse ok', 'exact', 'edit sim', 'max tok', 'grace', 'loop', 'dead end', 'latency ms', 'tok/s', 'forced tok/s', 'vs off', 'cpu vs off', 'masked/tok', 'suffix checks', 'end repairs'];
  const body = rep.rows.map((r) => [
    r.mode,
    String(r.completions),
    pct(r.parseOk),
    pct(r.exactMatch),
    r.editSimilarity.toFixed(3),
    pct(r.maxTokensShare),
    pct(r.graceShare),
    pct(r.loopShare),
    pct(r.deadEndShare),
    r.meanLatencyMs.toFixed(0),
    r.decodeTokensPerSecond.toFixed(1),
    r.forcedTokensPerSecond.toFixed(1),
    Number.isNaN(r.tokensPerSecondVsOff) ? '-' : r.tokensPerSecondVsOff.toFixed(2),
    Number.isNaN(r.cpuTokensPerSecondVsOff) ? '-' : r.cpuTokensPerSecondVsOff.toFixed(2),
    r.maskedStepsPerToken.toFixed(2),
    Object.entries(r.suffixChecks).map(([k, v]) => `${k}:${v}`).join(' '),
    Object.entries(r.endRepairs).map(([k, v]) => `${k}:${v}`).join(' ') || '-',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i >= cells.length - 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [
    `model ${rep.model}; ${rep.positions} cursors (${rep.lineEndPositions} line ends, ${rep.midLinePositions} mid-line) in ${rep.files} files from ${rep.source}`,
    `seed ${rep.options.seed}, max tokens ${rep.options.maxTokens}, temperature ${rep.options.temperature}, top-p ${rep.options.topP}, healing ${rep.options.healing}`,
    line(head),
    ...body.map(line),
  ].join('\n');
}

const MODES: GrammarMode[] = ['off', 'mask', 'aligned'];


function num(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${flag} expects a number, got '${v}'`);
  return n;
}

export const evalGrammarCommand: Command = {
  name: 'eval-grammar',
  summary: 'compare grammar modes (off/mask/aligned) on held-out Python files',
  usage: `Usage: trellis eval-grammar [options]

Completes seeded random cursors (half at line ends, half mid-line) in held-out Python files
(H1's tools/train/work/corpus/heldout_files.txt, else /usr/lib/python3.11/*.py) with each grammar
mode and reports: share of completions after which the file has no new tree-sitter error,
exact match and edit similarity to the real text, shares stopped by max tokens / loop guards /
dead ends, the share that decoded grace tokens past max tokens, how cut completions got an
allowed end (cut, grace, trim, close, stand-in, failed), mean latency, decode tokens/s, and (throughput phase: every mode decodes exactly
--max-tokens tokens at a few cursors, three rounds, mode order rotated) decode tokens/s relative
to off: the median over those cursors of the per-cursor ratio, per wall-clock second ('vs off')
and per CPU second of the process ('cpu vs off', insensitive to other work on the machine).

Options:
  --model DIR          model folder (default: models/trellis-code-tiny)
  --positions N        cursor positions (default 40)
  --files N            most files to use (default 40)
  --file PATH          use this Python file (repeatable) instead of the default list
  --modes LIST         comma-separated modes (default off,mask,aligned)
  --max-tokens N       per completion (default 32)
  --temperature T      (default 0.2)
  --top-p P            (default 0.95)
  --healing MODE       off | token | exact (default off: measure the grammar alone)
  --layout MODE        auto | fim | plain: the prompt (default auto: the model card's choice)
  --max-file-bytes N   skip larger files (default 40000)
  --seed S             (default 0)
  --only LIST          comma-separated cursor indices (draw order, the details' 'index'): run only
                       those cursors, each with its seed in the full run (reproduces a completion)
  --throughput-cursors N  cursors where every mode decodes exactly --max-tokens tokens (end
                       tokens banned) to compare decode tokens/s (default 6)
  --json               print the report as JSON
  --details            with --json: every completion, its stop reason and parse result`,
  async run(argv) {
    const { values } = parseFlags({
      args: argv,
      options: {
        model: { type: 'string' },
        positions: { type: 'string' },
        files: { type: 'string' },
        file: { type: 'string', multiple: true },
        modes: { type: 'string' },
        'max-tokens': { type: 'string' },
        temperature: { type: 'string' },
        'top-p': { type: 'string' },
        healing: { type: 'string' },
        layout: { type: 'string' },
        'max-file-bytes': { type: 'string' },
        seed: { type: 'string' },
        only: { type: 'string' },
        json: { type: 'boolean' },
        details: { type: 'boolean' },
        'throughput-cursors': { type: 'string' },
      },
    });
    const modes = (values.modes ?? 'off,mask,aligned').split(',').map((m) => m.trim()) as GrammarMode[];
    for (const m of modes) if (!MODES.includes(m)) throw new UsageError(`--modes: unknown mode '${m}' (off, mask, aligned)`);
    const healing = (values.healing ?? 'off') as CompletionOptions['healing'];
    if (!['off', 'token', 'exact'].includes(healing)) throw new UsageError(`--healing expects off, token or exact, got '${healing}'`);
    const layout = layoutFlag(values.layout ?? 'auto');
    const rep = await runGrammarEval({
      layout,
      modelDir: values.model ?? defaultModelDir(),
      files: values.file,
      maxFiles: intFlag('files', values.files, 40, 1),
      positions: intFlag('positions', values.positions, 40, 1),
      only: values.only === undefined ? undefined : values.only.split(',').map((v) => intFlag('only', v.trim(), 0, 0)),
      seed: num('seed', values.seed, 0),
      modes,
      maxTokens: intFlag('max-tokens', values['max-tokens'], 32, 1),
      temperature: num('temperature', values.temperature, 0.2),
      topP: num('top-p', values['top-p'], 0.95),
      maxFileBytes: intFlag('max-file-bytes', values['max-file-bytes'], 40_000, 1),
      healing,
      details: values.details,
      throughputCursors: intFlag('throughput-cursors', values['throughput-cursors'], 6, 0),
      matcherFor: defaultMatcherFor(),
      log: (l) => console.error(l),
    });
    console.log(values.json ? JSON.stringify(rep, null, 2) : formatGrammarEval(rep));
    return 0;
  },
};

/**
 * The grammar engine's matchers (src/engine/grammar), used when the build's default plugins do
 * not wire a grammar into the engine themselves. Grammars are compiled once per language.
 */
function defaultMatcherFor(): GrammarEvalOptions['matcherFor'] {
  const compiled = new Map<string, CompiledGrammar>();
  return (languageId, loaded) => {
    if (!grammarLanguages().includes(languageId)) return null;
    let g = compiled.get(languageId);
    if (!g) compiled.set(languageId, (g = loadGrammar(languageId)));
    return createMatcher(g, null, loaded.tokenizer);
  };
}
