// `trellis eval-steering`: does GeDi steering move the attributes, and at what cost (issue 7)?
// Held-out Python files (H1's held-out split: never seen by either model); each prompt is a file's
// text up to and including a `def name(` line of a real function. For every attribute and
// ω ∈ {−k, 0, +k}: the share of completions whose function has the attribute — decided by the
// SAME labeller that labelled the training data (src/engine/steering/labels.ts, checked against
// tools/train/label_attrs.py) — the base model's per-token log-likelihood of the completions (the
// quality cost), and decode tokens/s. One more row steers two attributes at once; its tokens/s
// over the unsteered row's, measured interleaved in the same run, is the steering overhead.
// Completions may not end before --min-tokens (16). `safe` is measured on its own prompts (rows
// marked [api], with their own unsteered row): held-out functions whose original body calls
// `module.function(` of a module the safe labeller checks (os, subprocess, pickle, …) or eval/exec.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompletionOptions, CompletionResult } from '../../engine/api';
import { Engine, defaultPlugins } from '../../engine/engine';
import { grammarPlugin } from '../../engine/decode/grammar';
import { createMatcher, loadGrammar } from '../../engine/grammar';
import { buildPrompt, modelPromptSpec } from '../../engine/prompt/fimPrompt';
import { logSoftmax } from '../../engine/steering/gedi';
import { completedFunctionText, PythonAttributeLabeller, type LabelledUnit } from '../../engine/steering/labels';
import { utf8Encode } from '../../engine/text';
import { type Command, UsageError } from '../command';
import { defaultGediDir, defaultModelDir, numberFlag, parseFlags } from './completion-args';

export interface SteeringEvalOptions {
  modelDir: string;
  gediDir: string;
  /** Python files to take prompts from; default: H1's held-out list. */
  files?: string[];
  prompts: number;
  /** k: the evaluated weights are −k, 0, +k. */
  weight: number;
  /** Attributes to evaluate (default: all in the manifest). */
  attributes?: string[];
  maxTokens: number;
  /**
   * The end of the completion is not allowed before this many tokens (CompletionOptions.minTokens;
   * default 16). Unsteered, the tiny model ends most held-out `def name(` prompts within a few
   * tokens (mean 8 at 0): an empty function has none of the attributes, so the rates would
   * measure when the model stops rather than what it writes.
   */
  minTokens?: number;
  temperature: number;
  topP: number;
  seed: number;
  grammar: CompletionOptions['grammar'];
  /** Prompt token budget (the model's context caps it). */
  contextTokens: number;
  /**
   * Text after the cursor: `file` = the rest of the file after the held-out function
   * (the editor's fill-in-the-middle situation: the completion writes the function's body);
   * `none` (default) = empty (the file ends at the cursor).
   */
  suffix?: 'file' | 'none';
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Called with every completion (diagnostics: `--dump FILE`). */
  onCompletion?: (c: { setting: string; file: string; defLine: string; text: string; labels?: Record<string, boolean>; stopReason: string }) => void;
}

export interface SteeringEvalRow {
  /** `unsteered`, `documented=+4`, `documented=+4,typed=+4` … */
  setting: string;
  weights: Record<string, number>;
  completions: number;
  /** Completions the labeller found a function in (the denominator of the rates). */
  labelled: number;
  /** Share of labelled completions with each attribute. */
  rates: Record<string, number>;
  /** Mean base-model log-likelihood per completion token (nats). */
  baseLogLikPerToken: number;
  decodeTokensPerSecond: number;
  /** decodeTokensPerSecond / the unsteered row's (interleaved in the same run). */
  speedVsUnsteered: number;
  meanGeneratedTokens: number;
  maxTokensShare: number;
}

export interface SteeringEvalReport {
  model: string;
  gedi: string;
  source: string;
  prompts: number;
  /** Prompts of the `safe` pool (functions calling into UNSAFE_API_MODULES); 0 without `safe`. */
  apiPrompts: number;
  options: Omit<SteeringEvalOptions, 'signal' | 'log' | 'files' | 'onCompletion'>;
  rows: SteeringEvalRow[];
  /** Per attribute: rate at +k minus rate at −k, in percentage points. */
  swingPp: Record<string, number>;
  /** Two attributes at +k: tokens/s relative to unsteered (target ≥ 0.6). */
  overheadRatio: number;
}

interface Prompt {
  file: string;
  prefix: string;
  /** The file after the original function (its last line's newline on). */
  suffix: string;
  /** The `def` line up to and including `(`: where the completion continues. */
  defLine: string;
}

export const DEFAULT_MIN_TOKENS = 16;

/** H1's held-out Python files (never trained on); the eval refuses to fall back to training data. */
function heldoutFiles(): { files: string[]; source: string } {
  for (const up of ['..', '../..', '../../..', '../../../..']) {
    const list = path.resolve(__dirname, up, 'models/trellis-code-tiny/heldout-files.txt');
    if (fs.existsSync(list)) {
      const files = fs.readFileSync(list, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.endsWith('.py') && fs.existsSync(l));
      if (files.length > 0) return { files, source: `held-out list ${path.relative(process.cwd(), list) || list}` };
    }
  }
  throw new UsageError('no held-out file list (tools/train/work/corpus/heldout_files.txt, written by tools/train/corpus.py): run the corpus stage or pass --files');
}

/**
 * Modules whose calls the `safe` labeller checks (labels.ts UNSAFE_CALLS and the shell / yaml /
 * dynamic-import rules). The `safe` rows use their own prompts: held-out functions whose ORIGINAL
 * body calls into one of these modules (or eval/exec), i.e. where the code about to be written
 * plausibly reaches for such an API — whether the original call was unsafe or not (the rule is
 * printed with the report; the prompt stops at `def name(` as for the other attributes).
 */
export const UNSAFE_API_MODULES = ['os', 'subprocess', 'pickle', 'cPickle', '_pickle', 'dill', 'marshal', 'shelve', 'yaml', 'commands', 'pty', 'tempfile', 'importlib', 'builtins'];
const UNSAFE_API_USE_RE = new RegExp(`\\b(?:${UNSAFE_API_MODULES.join('|')})\\.\\w+\\s*\\(|\\b(?:eval|exec|__import__)\\s*\\(`);

/** Does this function text call into one of UNSAFE_API_MODULES (or eval/exec/__import__)? */
export function usesUnsafeApiModule(functionText: string): boolean {
  return UNSAFE_API_USE_RE.test(functionText);
}

/** Seeded choice of function starts: at most two per file, spread over the files. */
function choosePrompts(files: string[], labeller: PythonAttributeLabeller, n: number, seed: number, unitFilter?: (functionText: string) => boolean, perFile = 2): Prompt[] {
  const all: Prompt[][] = [];
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    if (text.length > 200_000) continue;
    const lines = text.split('\n');
    const offsets: number[] = [0];
    for (const l of lines) offsets.push(offsets[offsets.length - 1]! + l.length + 1);
    const per: Prompt[] = [];
    for (const u of labeller.label(text)) {
      const line = lines[u.startLine - 1] ?? '';
      const m = /^(\s*(?:async\s+)?def\s+[A-Za-z_]\w*\s*\()/.exec(line);
      if (!m) continue;
      const start = offsets[u.startLine - 1]!;
      if (unitFilter && !unitFilter(text.slice(start, offsets[u.endLine] ?? text.length))) continue;
      const after = Math.min(text.length, Math.max(offsets[u.endLine]! - 1, start + m[1]!.length));
      per.push({ file, prefix: text.slice(0, start + m[1]!.length), suffix: text.slice(after), defLine: m[1]! });
    }
    if (per.length) all.push(per);
  }
  // Deterministic shuffle (xorshift) of files, then of functions within a file.
  let s = (seed * 2654435761) >>> 0 || 1;
  const rnd = (k: number): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % k;
  };
  const shuffle = <T>(a: T[]): T[] => {
    for (let i = a.length - 1; i > 0; i--) {
      const j = rnd(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };
  shuffle(all);
  const out: Prompt[] = [];
  for (let round = 0; round < perFile && out.length < n; round++) {
    for (const per of all) {
      if (out.length >= n) break;
      if (round === 0) shuffle(per);
      if (per[round]) out.push(per[round]!);
    }
  }
  return out;
}

/**
 * Labels of the function a completion wrote. A completion that stopped inside the signature (or
 * right away) is completed with a trivial body so that it still counts: empty, it has none of
 * the attributes except `safe`.
 */
function labelCompletion(labeller: PythonAttributeLabeller, defLine: string, completion: string): LabelledUnit | undefined {
  const text = completedFunctionText(defLine, completion).trimEnd();
  for (const candidate of [text, `${text}:\n    pass`, `${text}\n    pass`, `${text}):\n    pass`]) {
    const unit = labeller.label(candidate + '\n')[0];
    if (unit) return unit;
  }
  return undefined;
}

/** Mean log P_base(completion token | prompt, earlier completion tokens), the engine's prompt layout. */
async function baseLogLik(engine: Engine, prompt: Prompt, suffix: string, completion: string, contextTokens: number): Promise<{ sum: number; tokens: number }> {
  const l = engine.model;
  const tok = l.tokenizer;
  const ids = tok.encodeBytes(utf8Encode(completion));
  if (ids.length === 0) return { sum: 0, tokens: 0 };
  const room = Math.min(contextTokens, l.geometry.contextLength - ids.length - 1);
  if (room < 8) return { sum: 0, tokens: 0 };
  const p = buildPrompt(modelPromptSpec(l), utf8Encode(prompt.prefix), utf8Encode(suffix), { maxTokens: room });
  const cache = l.model.newCache();
  try {
    const [all] = await l.model.forward([{ ids: [...p.ids, ...ids], cache }], { allPositions: true });
    const V = l.model.vocabSize;
    let sum = 0;
    for (let j = 0; j < ids.length; j++) {
      const pos = p.ids.length - 1 + j;
      sum += logSoftmax(all!.subarray(pos * V, (pos + 1) * V))[ids[j]!]!;
    }
    return { sum, tokens: ids.length };
  } finally {
    cache.dispose();
  }
}

/** Runs the evaluation; the CLI prints its report. */
export async function runSteeringEval(o: SteeringEvalOptions): Promise<SteeringEvalReport> {
  const log = o.log ?? (() => undefined);
  const { files, source } = o.files ? { files: o.files, source: `${o.files.length} files given` } : heldoutFiles();
  const labeller = await PythonAttributeLabeller.load();
  const engine = await Engine.load(o.modelDir, {
    gediDir: o.gediDir,
    signal: o.signal,
    plugins: async (loaded, lo) => {
      const base = await defaultPlugins(loaded, lo);
      if (base.grammar || o.grammar === 'off') return base;
      // The grammar engine's Python matcher, when this build's default plugins do not wire one.
      const g = loadGrammar('python');
      const plugin = grammarPlugin((lang) => (lang === 'python' ? createMatcher(g, null, loaded.tokenizer) : null));
      return { ...base, grammar: (ctx) => plugin(ctx) };
    },
  });
  try {
    const known = engine.info().attributes.map((a) => a.name);
    if (known.length === 0) throw new UsageError(`${o.gediDir} has no attributes: pass --gedi with a GeDi folder (trellis-attributes.json)`);
    const attrs = o.attributes ?? known;
    for (const a of attrs) if (!known.includes(a)) throw new UsageError(`unknown attribute '${a}' (the discriminator knows ${known.join(', ')})`);
    const prompts = choosePrompts(files, labeller, o.prompts, o.seed);
    if (prompts.length === 0) throw new UsageError(`no Python function found in ${source}`);
    // `safe` is judged on its own pool: held-out functions of modules importing an unsafe API.
    const safePrompts = attrs.includes('safe') ? choosePrompts(files, labeller, o.prompts, o.seed, usesUnsafeApiModule, 4) : [];
    const pools: Prompt[][] = [prompts, safePrompts];
    const k = o.weight;
    const settings: { name: string; weights: Record<string, number>; pool: number }[] = [{ name: 'unsteered', weights: {}, pool: 0 }];
    for (const a of attrs) {
      const pool = a === 'safe' && safePrompts.length > 0 ? 1 : 0;
      settings.push({ name: `${a}=-${k}${pool ? ' [api]' : ''}`, weights: { [a]: -k }, pool });
      settings.push({ name: `${a}=+${k}${pool ? ' [api]' : ''}`, weights: { [a]: k }, pool });
    }
    const pair = attrs.length >= 2 ? attrs.slice(0, 2) : known.slice(0, 2);
    if (pair.length === 2) settings.push({ name: pair.map((a) => `${a}=+${k}`).join(','), weights: { [pair[0]!]: k, [pair[1]!]: k }, pool: 0 });
    if (safePrompts.length > 0) settings.push({ name: 'unsteered [api]', weights: {}, pool: 1 });
    const suffixMode = o.suffix ?? 'none';

    const acc = settings.map(() => ({ n: 0, labelled: 0, has: {} as Record<string, number>, ll: 0, llTokens: 0, gen: 0, decodeTokens: 0, decodeMs: 0, maxTok: 0 }));
    const started = Date.now();
    const rounds = Math.max(...pools.map((p) => p.length));
    for (let pi = 0; pi < rounds; pi++) {
      // Settings interleaved per prompt, so the speed ratios see the same machine load.
      for (let si = 0; si < settings.length; si++) {
        if (o.signal?.aborted) throw new UsageError('aborted');
        const prompt = pools[settings[si]!.pool]![pi];
        if (!prompt) continue;
        const suffix = suffixMode === 'file' ? prompt.suffix : '';
        const options: Partial<CompletionOptions> = {
          maxTokens: o.maxTokens, minTokens: o.minTokens ?? DEFAULT_MIN_TOKENS, temperature: o.temperature, topP: o.topP, topK: 0, seed: o.seed + pi,
          grammar: o.grammar, healing: 'off', attributes: settings[si]!.weights, contextTokens: o.contextTokens,
        };
        const r: CompletionResult = await engine.complete({ prefix: prompt.prefix, suffix, languageId: 'python', fileName: prompt.file, options }, o.signal);
        const a = acc[si]!;
        a.n++;
        a.gen += r.stats.generatedTokens;
        if (r.stopReason === 'max_tokens') a.maxTok++;
        const decodeMs = r.timings.totalMs - r.timings.firstTokenMs;
        if (r.stats.generatedTokens > 1 && decodeMs > 0) {
          a.decodeTokens += r.stats.generatedTokens - 1;
          a.decodeMs += decodeMs;
        }
        const unit = labelCompletion(labeller, prompt.defLine, r.text);
        if (unit) {
          a.labelled++;
          for (const [name, v] of Object.entries(unit.labels)) a.has[name] = (a.has[name] ?? 0) + (v ? 1 : 0);
        }
        o.onCompletion?.({ setting: settings[si]!.name, file: prompt.file, defLine: prompt.defLine, text: r.text, labels: unit?.labels, stopReason: r.stopReason });
        const ll = await baseLogLik(engine, prompt, suffix, r.text, o.contextTokens);
        a.ll += ll.sum;
        a.llTokens += ll.tokens;
      }
      log(`eval-steering: ${pi + 1}/${rounds} prompts, ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    const speed = (i: number): number => (acc[i]!.decodeMs > 0 ? (acc[i]!.decodeTokens * 1000) / acc[i]!.decodeMs : 0);
    const rows: SteeringEvalRow[] = settings.map((s, i) => {
      const a = acc[i]!;
      const rates: Record<string, number> = {};
      for (const name of known) rates[name] = a.labelled ? (a.has[name] ?? 0) / a.labelled : NaN;
      return {
        setting: s.name,
        weights: s.weights,
        completions: a.n,
        labelled: a.labelled,
        rates,
        baseLogLikPerToken: a.llTokens ? a.ll / a.llTokens : NaN,
        decodeTokensPerSecond: speed(i),
        speedVsUnsteered: speed(0) > 0 ? speed(i) / speed(0) : NaN,
        meanGeneratedTokens: a.n ? a.gen / a.n : 0,
        maxTokensShare: a.n ? a.maxTok / a.n : 0,
      };
    });
    const swingPp: Record<string, number> = {};
    for (const a of attrs) {
      const lo = rows.find((r) => r.setting.startsWith(`${a}=-${k}`) && !r.setting.includes(','))!;
      const hi = rows.find((r) => r.setting.startsWith(`${a}=+${k}`) && !r.setting.includes(','))!;
      swingPp[a] = 100 * (hi.rates[a]! - lo.rates[a]!);
    }
    const pairRow = pair.length === 2 ? rows.find((r) => r.setting === pair.map((a) => `${a}=+${k}`).join(',')) : undefined;
    const { signal: _s, log: _l, files: _f, onCompletion: _c, ...opts } = o;
    return {
      model: engine.info().name,
      gedi: o.gediDir,
      source,
      prompts: prompts.length,
      apiPrompts: safePrompts.length,
      options: { ...opts, minTokens: o.minTokens ?? DEFAULT_MIN_TOKENS, suffix: o.suffix ?? 'none' },
      rows,
      swingPp,
      overheadRatio: pairRow ? pairRow.speedVsUnsteered : NaN,
    };
  } finally {
    labeller.dispose();
    await engine.dispose();
  }
}

/** The report as a table. */
export function formatSteeringReport(r: SteeringEvalReport): string {
  const names = Object.keys(r.rows[0]?.rates ?? {});
  const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '—');
  const head = ['setting', ...names.map((n) => `${n}%`), 'base ll/tok', 'tok/s', '×unsteered', 'gen tok', 'max-tok', 'labelled'];
  const body = r.rows.map((row) => [
    row.setting,
    ...names.map((n) => pct(row.rates[n]!)),
    row.baseLogLikPerToken.toFixed(3),
    row.decodeTokensPerSecond.toFixed(1),
    row.speedVsUnsteered.toFixed(2),
    row.meanGeneratedTokens.toFixed(1),
    pct(row.maxTokensShare),
    `${row.labelled}/${row.completions}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const o = r.options;
  return [
    `eval-steering: ${r.model} + ${path.basename(r.gedi)}, ${r.prompts} held-out prompts (${r.source}), k=${o.weight}, T=${o.temperature}, top-p ${o.topP}, max ${o.maxTokens} tokens, min ${o.minTokens ?? DEFAULT_MIN_TOKENS}, grammar ${o.grammar}, seed ${o.seed}, suffix ${o.suffix ?? 'none'}`,
    `prompts: the file up to a held-out function's \`def name(\`${(o.suffix ?? 'none') === 'file' ? ', suffix = the file after that function' : ', no suffix'}; rows marked [api]: ${r.apiPrompts} held-out functions whose original body calls ${UNSAFE_API_MODULES.join('/')}.* or eval/exec/__import__ (same seeded choice, ≤ 4 per file)`,
    line(head),
    ...body.map(line),
    `swing (+k vs −k, own attribute): ${Object.entries(r.swingPp).map(([a, v]) => `${a} ${v >= 0 ? '+' : ''}${v.toFixed(1)} pp`).join(', ')}  (target ≥ 30 pp)`,
    `overhead, two attributes: ${r.overheadRatio.toFixed(2)} × unsteered tokens/s  (target ≥ 0.6)`,
  ].join('\n');
}

const usage = `Usage: trellis eval-steering [options]

Steers held-out Python prompts (a file up to a \`def name(\` line) with ω ∈ {−k, 0, +k} per
attribute and reports the share of completions with each attribute (same labeller as training),
the base model's log-likelihood per token, tokens/s, and the two-attribute overhead.

  --model DIR          base model folder (default: models/trellis-code-tiny)
  --gedi DIR           GeDi folder (default: models/trellis-gedi-tiny)
  --files F1,F2,…      Python files to take prompts from (default: H1's held-out list)
  --prompts N          number of prompts (default 24)
  --weight K           k (default 6)
  --attrs A,B          attributes to evaluate (default: all)
  --max-tokens N       tokens per completion (default 80)
  --min-tokens N       no end of completion before N tokens (default 16: unsteered, the
                       model ends most prompts at once, and an empty function has no attribute)
  --temperature T      (default 0.8)
  --top-p P            (default 0.95)
  --seed S             (default 1)
  --grammar MODE       off | mask | aligned (default off)
  --context-tokens N   prompt budget (default 384)
  --suffix MODE        none (default) | file (the rest of the file after the function)
  --json               print the report as JSON
  --dump FILE          write every completion (setting, prompt, text, labels) as JSON lines`;

function num(flag: string, v: string | undefined, dflt: number, integer = false): number {
  return numberFlag(flag, v, integer) ?? dflt;
}

export const evalSteeringCommand: Command = {
  name: 'eval-steering',
  summary: 'GeDi steering: attribute rates at ω = −k/0/+k, quality cost, speed (held-out Python)',
  usage,
  async run(argv: string[]): Promise<number> {
    const { values } = parseFlags({
      args: argv,
      options: {
        model: { type: 'string' }, gedi: { type: 'string' }, files: { type: 'string' }, prompts: { type: 'string' },
        weight: { type: 'string' }, attrs: { type: 'string' }, 'max-tokens': { type: 'string' }, temperature: { type: 'string' },
        'top-p': { type: 'string' }, seed: { type: 'string' }, grammar: { type: 'string' }, 'context-tokens': { type: 'string' }, 'min-tokens': { type: 'string' }, suffix: { type: 'string' },
        json: { type: 'boolean' }, dump: { type: 'string' },
      },
      allowPositionals: false,
    });
    const grammar = (values.grammar ?? 'off') as CompletionOptions['grammar'];
    if (!['off', 'mask', 'aligned'].includes(grammar)) throw new UsageError(`--grammar must be off, mask or aligned (got '${values.grammar}')`);
    if (values.suffix !== undefined && !['file', 'none'].includes(values.suffix)) throw new UsageError(`--suffix must be file or none (got '${values.suffix}')`);
    const weight = num('weight', values.weight, 6);
    if (!(weight > 0)) throw new UsageError('--weight must be > 0');
    const report = await runSteeringEval({
      modelDir: values.model ?? defaultModelDir(),
      gediDir: values.gedi ?? defaultGediDir(),
      files: values.files ? values.files.split(',').filter(Boolean) : undefined,
      prompts: num('prompts', values.prompts, 24, true),
      weight,
      attributes: values.attrs ? values.attrs.split(',').filter(Boolean) : undefined,
      maxTokens: num('max-tokens', values['max-tokens'], 80, true),
      minTokens: num('min-tokens', values['min-tokens'], DEFAULT_MIN_TOKENS, true),
      temperature: num('temperature', values.temperature, 0.8),
      topP: num('top-p', values['top-p'], 0.95),
      seed: num('seed', values.seed, 1, true),
      grammar,
      contextTokens: num('context-tokens', values['context-tokens'], 384, true),
      suffix: (values.suffix ?? 'none') as 'file' | 'none',
      log: (l) => process.stderr.write(l + '\n'),
      onCompletion: values.dump ? (c) => fs.appendFileSync(values.dump!, JSON.stringify(c) + '\n') : undefined,
    });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatSteeringReport(report));
    return 0;
  },
};
