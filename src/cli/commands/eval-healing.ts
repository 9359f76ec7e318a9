// `trellis eval-healing`: the healing modes (off / token / exact) compared on held-out real
// Python files with the local model (issue 6). Cursors are drawn (seeded) inside identifiers,
// strictly inside a token of the canonical encoding — where a keystroke leaves the prompt. Per
// mode: the model's log-likelihood per byte of the true next 16 bytes under that mode's law
// (off: the prompt as typed; token: the back-off-one-token law; exact: P(tail·c)/P(tail) by
// cover encodings), greedy exact match of the completed identifier and line, model calls spent
// by healing, and the time to the first byte after the cursor with its ratio to `off`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_OPTIONS, type HealingMode, type StopReason } from '../../engine/api';
import type { PromptTailHealer } from '../../engine/decode/hooks';
import { decode } from '../../engine/decode/loop';
import { Xoshiro128 } from '../../engine/decode/rng';
import { samplingTools } from '../../engine/decode/sampler';
import { ByteLevelScorer, ExactHealer, PrefixIndex, TokenHealer, logSumExp, type ModelState } from '../../engine/healing';
import type { KvCache, LanguageModel, TokenizerLike } from '../../engine/interfaces';
import { buildPrompt, modelPromptSpec } from '../../engine/prompt/fimPrompt';
import { loadModelFolder, type LoadedModelFolder } from '../../engine/runtime/modelFolder';
import { loadTokenizerFile } from '../../engine/runtime/tokenizerLoader';
import { utf8Decode } from '../../engine/text';
import { type Command, UsageError } from '../command';
import { defaultModelDir, intFlag, parseFlags } from './completion-args';

export interface HealingEvalOptions {
  modelDir: string;
  /** Python files to draw cursors from; default: H1's held-out list, else /usr/lib/python3.11. */
  files?: string[];
  maxFiles: number;
  positions: number;
  seed: number;
  modes: HealingMode[];
  /** `plain`: left-to-right prompt (EOS as a document separator, then the prefix); `fim`: the model's FIM template with the text after the line as suffix. */
  layout: 'plain' | 'fim';
  /** Prompt budget in tokens (the prefix is cut at a line start to fit). */
  contextTokens: number;
  /** Bytes of true continuation whose likelihood is measured. */
  continuationBytes: number;
  /** Greedy completion length cap (tokens); completions stop at the end of the line. */
  maxTokens: number;
  /** Skip files larger than this. */
  maxFileBytes: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface HealingEvalRow {
  mode: HealingMode;
  positions: number;
  /** Mean over cursors of log P(true next bytes) / bytes, in nats (higher is better). */
  logLikelihoodPerByte: number;
  /** Share of cursors where this mode's likelihood beats `token` / `off` (ties count half). */
  winsVsToken: number;
  winsVsOff: number;
  /** Greedy: the completion finishes the identifier exactly / the line exactly. */
  identifierExact: number;
  lineExact: number;
  /** Mean forward passes spent by healing (before the first generated token), and in total. */
  healingCalls: number;
  modelCalls: number;
  /** Mean cover encodings scored (exact) or tokens allowed at the first forced step (token). */
  covers: number;
  /** Mean bytes re-spelled before the cursor. */
  tailBytes: number;
  /** Mean ms from request to the first byte after the cursor (prompt tokenization included). */
  firstByteMs: number;
  /** firstByteMs / that of `off` (same run; NaN without `off`). */
  firstByteVsOff: number;
  /** Median over cursors of the per-cursor ratio to `off`. */
  firstByteVsOffMedian: number;
}

export interface HealingEvalReport {
  model: string;
  filesSource: string;
  files: number;
  positions: number;
  layout: 'plain' | 'fim';
  contextTokens: number;
  continuationBytes: number;
  seed: number;
  rows: HealingEvalRow[];
  seconds: number;
}

const IDENT = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;

/** H1's held-out Python files if the list exists, else the standard library's. */
export function defaultHeldOutFiles(): { files: string[]; source: string } {
  for (const up of ['..', '../..', '../../..']) {
    const list = path.resolve(__dirname, up, 'models/trellis-code-tiny/heldout-files.txt');
    if (fs.existsSync(list)) {
      const files = fs.readFileSync(list, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.endsWith('.py') && fs.existsSync(l));
      if (files.length > 0) return { files, source: `held-out list ${path.relative(process.cwd(), list) || list}` };
    }
  }
  const dir = '/usr/lib/python3.11';
  if (!fs.existsSync(dir)) throw new UsageError('no held-out list (models/trellis-code-tiny/heldout-files.txt) and no /usr/lib/python3.11: pass --file');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.py')).sort().map((f) => path.join(dir, f));
  return { files, source: `${dir}/*.py (no held-out list found: these may overlap training)` };
}

interface Case {
  file: string;
  bytes: Uint8Array;
  cursor: number;
  /** Bytes of the line after the cursor (to '\n', exclusive) and of the identifier after it. */
  restOfLine: Uint8Array;
  restOfIdent: Uint8Array;
}

/** Seeded cursors strictly inside a token, inside an identifier, with enough text after. */
function drawCases(docs: { file: string; bytes: Uint8Array }[], tok: TokenizerLike, n: number, seed: number, need: number): Case[] {
  const rng = new Xoshiro128(seed, 6);
  const out: Case[] = [];
  for (let tries = 0; out.length < n && tries < n * 200; tries++) {
    const d = docs[Math.floor(rng.next() * docs.length)]!;
    const b = d.bytes;
    const p = 1 + Math.floor(rng.next() * (b.length - need - 1));
    if (!IDENT(b[p - 1]!) || !IDENT(b[p]!)) continue;
    let ls = p;
    while (ls > 0 && b[ls - 1] !== 0x0a) ls--;
    let le = p;
    while (le < b.length && b[le] !== 0x0a) le++;
    // Is p strictly inside a token of the canonical encoding of its line?
    const line = b.subarray(ls, le);
    const bounds = tok.preTokenizeBoundaries(line);
    const rel = p - ls;
    let k = 0;
    while (k + 1 < bounds.length && bounds[k + 1]! <= rel) k++;
    if (bounds[k] === rel) continue;
    let pos = bounds[k]!;
    let inside = false;
    for (const id of tok.encodeBytes(line.subarray(bounds[k]!, bounds[k + 1]!))) {
      const next = pos + tok.tokenBytes(id).length;
      if (pos < rel && rel < next) inside = true;
      pos = next;
    }
    if (!inside) continue;
    let ie = p;
    while (ie < b.length && IDENT(b[ie]!)) ie++;
    out.push({ file: d.file, bytes: b, cursor: p, restOfLine: b.slice(p, le), restOfIdent: b.slice(p, ie) });
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function trimEnd(b: Uint8Array): string {
  return utf8Decode(b).replace(/[ \t\r]+$/, '');
}

/**
 * log P(continuation) under token healing's law at temperature 1: each forced step draws among
 * tokens extending the rest of the tail or spelling a prefix of it, ∝ P(t | prompt); after the
 * tail, the model continues freely (byte-level probability by covers). Branches below e^−25 of
 * the step's mass are skipped.
 */
async function tokenModeLogProb(model: LanguageModel, index: PrefixIndex, scorer: ByteLevelScorer, state: ModelState, rest: Uint8Array, cont: Uint8Array, signal?: AbortSignal): Promise<{ logp: number; calls: number }> {
  const target = concat(rest, cont);
  const allowed = new Set<number>(index.tokensWithPrefix(rest));
  for (let k = 1; k < rest.length; k++) {
    const e = index.tokensWithPrefix(rest.subarray(0, k));
    if (e.length > 0 && index.bytesOf[e[0]!]!.length === k) allowed.add(e[0]!);
  }
  const ids = [...allowed];
  const lz = logSumExp(ids.map((t) => state.logits[t]!));
  let total = -Infinity;
  let calls = 0;
  const add = (lp: number): void => {
    total = total === -Infinity ? lp : Math.max(total, lp) + Math.log1p(Math.exp(-Math.abs(total - lp)));
  };
  for (const t of ids) {
    const lw = state.logits[t]! - lz;
    if (lw < -25) continue;
    const tb = index.bytesOf[t]!;
    const n = Math.min(tb.length, target.length);
    let consistent = true;
    for (let i = 0; i < n; i++) if (tb[i] !== target[i]) consistent = false;
    if (!consistent) continue;
    if (tb.length >= target.length) {
      add(lw);
      continue;
    }
    const cache = state.cache.fork();
    try {
      const [lg] = await model.forward([{ ids: [t], cache }]);
      calls++;
      const next: ModelState = { cache, logits: lg! };
      if (tb.length < rest.length) {
        const r = await tokenModeLogProb(model, index, scorer, next, rest.subarray(tb.length), cont, signal);
        calls += r.calls;
        add(lw + r.logp);
      } else {
        const r = await scorer.logProb(next, target.subarray(tb.length), signal);
        calls += r.modelCalls;
        add(lw + r.logp);
      }
    } finally {
      cache.dispose();
    }
  }
  return { logp: total, calls };
}

interface ModeResult {
  ll: number;
  identOk: boolean;
  lineOk: boolean;
  healCalls: number;
  calls: number;
  covers: number;
  tail: number;
  firstByteMs: number;
}

/** Runs the healing eval; see the command's usage for what it measures. */
export async function runHealingEval(opts: HealingEvalOptions): Promise<HealingEvalReport> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const src = opts.files && opts.files.length > 0 ? { files: opts.files, source: 'files given' } : defaultHeldOutFiles();
  const loaded: LoadedModelFolder = await loadModelFolder(opts.modelDir, { loadTokenizer: loadTokenizerFile, signal: opts.signal });
  try {
    const { tokenizer: tok, model } = loaded;
    const index = new PrefixIndex(tok);
    const healers: Record<HealingMode, PromptTailHealer | null> = {
      off: null,
      token: new TokenHealer(tok, { index }),
      exact: new ExactHealer(tok, { index }),
    };
    // Relative mass 1e-6 of unchecked covers moves a log-likelihood by < 1e-6 nats.
    const scorer = new ByteLevelScorer(model, tok, { index, tolerance: 1e-6 });
    const docs: { file: string; bytes: Uint8Array }[] = [];
    for (const f of src.files) {
      if (docs.length >= opts.maxFiles) break;
      const st = fs.statSync(f);
      if (st.size > opts.maxFileBytes || st.size < 4 * opts.continuationBytes) continue;
      docs.push({ file: f, bytes: new Uint8Array(fs.readFileSync(f)) });
    }
    if (docs.length === 0) throw new UsageError(`no usable Python files (${src.source})`);
    const cases = drawCases(docs, tok, opts.positions, opts.seed, opts.continuationBytes + 1);
    log(`eval-healing: ${cases.length} cursors in ${new Set(cases.map((c) => c.file)).size} files (${src.source}), layout ${opts.layout}`);
    // Prompted as the engine prompts this model (modelPromptSpec); the file-start separator only
    // where the window below starts the file.
    const modelSpec = modelPromptSpec(loaded, opts.layout);
    const endTokens = new Map<number, StopReason>();
    for (const id of loaded.eosIds) endTokens.set(id, 'eos');
    if (loaded.fim?.end !== undefined) endTokens.set(loaded.fim.end, 'fim_end');
    const params = { ...DEFAULT_OPTIONS, temperature: 0, maxTokens: opts.maxTokens, stop: ['\n'] };
    // Room for the prompt, the re-spelled tail, the completion and the likelihood passes.
    const budget = Math.min(opts.contextTokens, model.contextLength - opts.maxTokens - opts.continuationBytes - 32);
    if (budget < 16) throw new UsageError(`--max-tokens ${opts.maxTokens} leaves no room for a prompt in the model's context of ${model.contextLength}`);
    const results: Record<HealingMode, ModeResult[]> = { off: [], token: [], exact: [] };

    for (let ci = 0; ci < cases.length; ci++) {
      const c = cases[ci]!;
      if (opts.signal?.aborted) break;
      // The same left context for every mode: whole lines, about 3 bytes per token.
      let start = Math.max(0, c.cursor - 3 * budget);
      while (start > 0 && start < c.cursor && c.bytes[start - 1] !== 0x0a) start++;
      const prefixAll = c.bytes.subarray(start, c.cursor);
      const cont = c.bytes.subarray(c.cursor, c.cursor + opts.continuationBytes);
      let le = c.cursor;
      while (le < c.bytes.length && c.bytes[le] !== 0x0a) le++;
      const suffix = c.bytes.subarray(le, Math.min(c.bytes.length, le + 3 * budget));
      const spec = start === 0 ? modelSpec : { ...modelSpec, fileStart: undefined };
      for (const mode of opts.modes) {
        const healer = healers[mode];
        const started = performance.now();
        const tailLen = healer ? healer.tailLength(prefixAll) : 0;
        const prefix = prefixAll.subarray(0, prefixAll.length - tailLen);
        const tail = prefixAll.subarray(prefixAll.length - tailLen);
        const prompt = buildPrompt(
          spec,
          prefix,
          suffix,
          { maxTokens: budget },
        );
        const cache: KvCache = model.newCache();
        const [logits] = (await model.forward([{ ids: prompt.ids, cache }])) as [Float32Array];
        const promptState: ModelState = { cache: cache.fork(), logits };
        const rng = new Xoshiro128(opts.seed, ci);
        let healCalls = 0;
        let covers = 0;
        let forced: { ids: number[]; state?: { cache: KvCache; logits: Float32Array } } | undefined;
        if (healer && tail.length > 0) {
          const h = await healer.heal({ model, tokenizer: tok, cache, promptIds: prompt.ids, lastLogits: logits, tail, sampling: samplingTools(params, rng), signal: opts.signal });
          healCalls = h.modelCalls;
          covers = h.covers;
          forced = { ids: h.forcedIds, state: h.state };
        }
        let firstByteMs = -1;
        const out = await decode({
          model,
          tokenizer: tok,
          cache,
          logits,
          params,
          rng,
          endTokens,
          banned: loaded.bannedIds,
          forced,
          signal: opts.signal,
          startedAt: started,
          hooks: {
            onToken: (_t, bytes) => {
              if (firstByteMs < 0 && bytes.length > tail.length) firstByteMs = performance.now() - started;
            },
          },
        });
        if (firstByteMs < 0) firstByteMs = out.totalMs;
        out.cache.dispose();
        if (out.cache !== cache) cache.dispose();
        const completion = out.bytes.subarray(Math.min(tail.length, out.bytes.length));
        let ie = 0;
        while (ie < completion.length && IDENT(completion[ie]!)) ie++;
        const identOk = utf8Decode(completion.subarray(0, ie)) === utf8Decode(c.restOfIdent);
        const nl = completion.indexOf(0x0a);
        const lineOk = trimEnd(nl >= 0 ? completion.subarray(0, nl) : completion) === trimEnd(c.restOfLine);

        // Likelihood of the true continuation under this mode's law.
        let ll: number;
        try {
          if (mode === 'off') ll = (await scorer.logProb(promptState, cont, opts.signal)).logp;
          else if (mode === 'exact') ll = (await scorer.continuationLogProb(promptState, tail, cont, opts.signal)).logp;
          else ll = (await tokenModeLogProb(model, index, scorer, promptState, tail, cont, opts.signal)).logp;
        } finally {
          promptState.cache.dispose();
        }
        results[mode].push({ ll: ll / cont.length, identOk, lineOk, healCalls, calls: 1 + healCalls + out.modelCalls, covers, tail: tail.length, firstByteMs });
      }
      if ((ci + 1) % 10 === 0) log(`  ${ci + 1}/${cases.length} cursors`);
    }

    const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
    const median = (xs: number[]): number => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length ? (s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
    };
    const wins = (a: ModeResult[], b: ModeResult[]): number =>
      a.length && b.length === a.length ? mean(a.map((r, i) => (r.ll > b[i]!.ll ? 1 : r.ll === b[i]!.ll ? 0.5 : 0))) : NaN;
    const offMs = mean(results.off.map((r) => r.firstByteMs));
    const rows: HealingEvalRow[] = opts.modes.map((mode) => {
      const rs = results[mode];
      return {
        mode,
        positions: rs.length,
        logLikelihoodPerByte: mean(rs.map((r) => r.ll)),
        winsVsToken: wins(rs, results.token),
        winsVsOff: wins(rs, results.off),
        identifierExact: mean(rs.map((r) => (r.identOk ? 1 : 0))),
        lineExact: mean(rs.map((r) => (r.lineOk ? 1 : 0))),
        healingCalls: mean(rs.map((r) => r.healCalls)),
        modelCalls: mean(rs.map((r) => r.calls)),
        covers: mean(rs.map((r) => r.covers)),
        tailBytes: mean(rs.map((r) => r.tail)),
        firstByteMs: mean(rs.map((r) => r.firstByteMs)),
        firstByteVsOff: results.off.length ? mean(rs.map((r) => r.firstByteMs)) / offMs : NaN,
        firstByteVsOffMedian: results.off.length === rs.length ? median(rs.map((r, i) => r.firstByteMs / results.off[i]!.firstByteMs)) : NaN,
      };
    });
    return {
      model: loaded.name,
      filesSource: src.source,
      files: new Set(cases.map((c) => c.file)).size,
      positions: cases.length,
      layout: opts.layout,
      contextTokens: budget,
      continuationBytes: opts.continuationBytes,
      seed: opts.seed,
      rows,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    loaded.model.dispose();
  }
}

/** The report as a table. */
export function formatHealingEval(rep: HealingEvalReport): string {
  const f = (x: number, d = 3): string => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '—');
  const head = ['mode', 'LL/byte (nats)', 'wins vs token', 'wins vs off', 'ident exact', 'line exact', 'heal calls', 'calls', 'covers', 'tail B', 'first byte ms', '× off (mean)', '× off (median)'];
  const lines = rep.rows.map((r) => [
    r.mode,
    f(r.logLikelihoodPerByte, 4),
    pct(r.winsVsToken),
    pct(r.winsVsOff),
    pct(r.identifierExact),
    pct(r.lineExact),
    f(r.healingCalls, 2),
    f(r.modelCalls, 1),
    f(r.covers, 1),
    f(r.tailBytes, 1),
    f(r.firstByteMs, 1),
    f(r.firstByteVsOff, 2),
    f(r.firstByteVsOffMedian, 2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    `eval-healing: ${rep.model}, ${rep.positions} cursors mid-token in ${rep.files} files (${rep.filesSource})`,
    `layout ${rep.layout}, context ${rep.contextTokens} tokens, likelihood of the next ${rep.continuationBytes} bytes, greedy completions to end of line, seed ${rep.seed}, ${rep.seconds.toFixed(0)} s`,
    '',
    row(head),
    row(widths.map((w) => '-'.repeat(w))),
    ...lines.map(row),
  ].join('\n');
}

const MODES: HealingMode[] = ['off', 'token', 'exact'];


export const evalHealingCommand: Command = {
  name: 'eval-healing',
  summary: 'compare token healing modes (off/token/exact) on held-out Python files',
  usage: `Usage: trellis eval-healing [options]

Places seeded random cursors inside identifiers, strictly inside a token, in held-out Python
files (H1's tools/train/work/corpus/heldout_files.txt, else /usr/lib/python3.11/*.py) and reports
per healing mode: mean log-likelihood per byte (nats) of the true next bytes under the mode's law,
how often it beats token / off on that, greedy exact match of the completed identifier and line,
model calls spent by healing, and the time to the first byte after the cursor with its ratio to off.

Options:
  --model DIR            model folder (default: models/trellis-code-tiny)
  --positions N          cursors (default 60)
  --files N              most files to use (default 60)
  --file PATH            use this Python file (repeatable) instead of the default list
  --modes LIST           comma-separated modes (default off,token,exact)
  --layout plain|fim     prompt layout (default plain: the prefix alone, as after a keystroke in a plain LM)
  --context-tokens N     prompt budget (default 512)
  --bytes N              continuation bytes scored (default 16)
  --max-tokens N         greedy completion cap (default 24)
  --max-file-bytes N     skip larger files (default 60000)
  --seed S               (default 0)
  --json                 print the report as JSON`,
  async run(argv) {
    const { values } = parseFlags({
      args: argv,
      options: {
        model: { type: 'string' },
        positions: { type: 'string' },
        files: { type: 'string' },
        file: { type: 'string', multiple: true },
        modes: { type: 'string' },
        layout: { type: 'string' },
        'context-tokens': { type: 'string' },
        bytes: { type: 'string' },
        'max-tokens': { type: 'string' },
        'max-file-bytes': { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
    const modes = (values.modes ?? 'off,token,exact').split(',').map((m) => m.trim()) as HealingMode[];
    for (const m of modes) if (!MODES.includes(m)) throw new UsageError(`--modes: unknown mode '${m}' (off, token, exact)`);
    const layout = values.layout ?? 'plain';
    if (layout !== 'plain' && layout !== 'fim') throw new UsageError(`--layout expects plain or fim, got '${layout}'`);
    const rep = await runHealingEval({
      modelDir: values.model ?? defaultModelDir(),
      files: values.file,
      maxFiles: intFlag('files', values.files, 60, 1),
      positions: intFlag('positions', values.positions, 60, 1),
      seed: intFlag('seed', values.seed, 0, 0),
      modes,
      layout,
      contextTokens: intFlag('context-tokens', values['context-tokens'], 512, 16),
      continuationBytes: intFlag('bytes', values.bytes, 16, 1),
      maxTokens: intFlag('max-tokens', values['max-tokens'], 24, 1),
      maxFileBytes: intFlag('max-file-bytes', values['max-file-bytes'], 60_000, 64),
      log: (l) => console.error(l),
    });
    console.log(values.json ? JSON.stringify(rep, null, 2) : formatHealingEval(rep));
    return 0;
  },
};
