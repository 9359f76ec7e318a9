// The benchmark and evaluation suites behind `npm run bench` / `npm run eval`: which parts run,
// at what default size, each under a time budget; one failing part records its error and the
// others still run. Writes report/bench.json or report/eval.json; `mergeResults` joins them into
// report/results.json (the data of report/index.html and of the README table).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Engine } from '../../engine/engine';
import { measureDecode } from '../../engine/decode/throughput';
import { runTokenizerBench, repoRoot } from '../commands/bench-tokenizer';
import { runMaskBench, type MaskBenchMode } from '../commands/bench-mask';
import { runXGrammarBench } from '../commands/bench-xgrammar';
import { runGrammarEval } from '../commands/eval-grammar';
import { runHealingEval } from '../commands/eval-healing';
import { runSteeringEval } from '../commands/eval-steering';
import { defaultGediDir, defaultModelDir } from '../commands/completion-args';

export type SuiteKind = 'bench' | 'eval';

/** What one part of a suite left behind. */
export interface PartResult {
  name: string;
  status: 'ok' | 'error';
  seconds: number;
  /** CPU seconds of this process during the part (user + system; steadier than wall time on a busy machine). */
  cpuSeconds?: number;
  /** The sizes it ran with. */
  params: Record<string, unknown>;
  data?: unknown;
  /** Why it failed (its message; the other parts still ran). */
  error?: string;
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  /** Node flags of the process that ran the suite (engine/heap.ts; absent in older runs). */
  nodeFlags?: string[];
  /** 1-minute load average when the suite started and ended (a busy machine slows everything). */
  loadAverage: { start: number; end: number };
}

export interface SuiteResult {
  kind: SuiteKind;
  version: 1;
  quick: boolean;
  startedAt: string;
  seconds: number;
  machine: MachineInfo;
  model: string;
  /** The command that reproduces it. */
  command: string;
  parts: Record<string, PartResult>;
}

/** report/results.json: the last bench and eval runs. */
export interface Results {
  generatedAt: string;
  bench?: SuiteResult;
  eval?: SuiteResult;
}

export interface SuiteContext {
  quick: boolean;
  modelDir: string;
  signal: AbortSignal;
  log: (line: string) => void;
}

interface PartDef {
  name: string;
  /** Seconds after which the part is aborted (its error says so). */
  budgetS: (quick: boolean) => number;
  params: (quick: boolean) => Record<string, unknown>;
  run: (ctx: SuiteContext, params: Record<string, unknown>) => Promise<unknown>;
}

const pick = <T>(quick: boolean, q: T, full: T): T => (quick ? q : full);

/** Python files of this repository used as decode prompts (present in every clone). */
function repoPythonFiles(): string[] {
  const dir = path.join(repoRoot(), 'tools', 'train');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.py')).sort().map((f) => path.join(dir, f)) : [];
}

/** Ends of non-blank lines spread evenly through a text. */
function lineEnds(text: string, count: number): number[] {
  const ends: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) if (i > 0 && text[i - 1] !== '\n') ends.push(i);
  if (ends.length === 0) return [text.length];
  return Array.from({ length: count }, (_, k) => ends[Math.floor(((k + 0.5) * ends.length) / count)]!);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[(s.length >> 1) - 1]! + s[s.length >> 1]!) / 2;
};

/** The CLI bundle the memory part spawns. */
export function cliBundle(): string {
  return path.join(repoRoot(), 'dist', 'cli.js');
}

/**
 * Peak resident set size of one `trellis complete … --json` process with the default model. A
 * preload script writes the process's VmHWM (Linux; elsewhere `process.resourceUsage().maxRSS`)
 * at exit, so no /usr/bin/time is needed.
 */
async function measureCompletionMemory(modelDir: string, signal: AbortSignal, grammar: string, healing: string): Promise<Record<string, unknown>> {
  const cli = cliBundle();
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const target = repoPythonFiles()[0] ?? '/usr/lib/python3.11/textwrap.py';
  const text = fs.readFileSync(target, 'utf8');
  const line = text.slice(0, lineEnds(text, 1)[0]).split('\n').length;
  const col = text.split('\n')[line - 1]!.length + 1;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-rss-'));
  const preload = path.join(dir, 'rss.cjs');
  const out = path.join(dir, 'rss.json');
  // VmHWM is the peak of this program's own memory; getrusage's maxRSS also counts the parent's
  // pages the child had right after fork (before exec), so it grew with the benchmark process
  fs.writeFileSync(preload, `process.on('exit', () => { const fs = require('fs'); let kib = process.resourceUsage().maxRSS; try { const m = /VmHWM:\\s*(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8')); if (m) kib = Number(m[1]); } catch {} fs.writeFileSync(${JSON.stringify(out)}, JSON.stringify({ maxRSSKiB: kib })); });\n`);
  const args = ['-r', preload, cli, 'complete', target, '--at', `${line}:${col}`, '--model', modelDir, '--grammar', grammar, '--healing', healing, '--max-tokens', '32', '--json'];
  const t0 = performance.now();
  const { code, stderr, stdout } = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve, reject) => {
    const p = spawn(process.execPath, args, { signal, stdio: ['ignore', 'pipe', 'pipe'] });
    let se = '', so = '';
    p.stdout.on('data', (d) => (so += d));
    p.stderr.on('data', (d) => (se += d));
    p.on('error', reject);
    p.on('close', (c) => resolve({ code: c, stderr: se, stdout: so }));
  });
  const wallMs = performance.now() - t0;
  try {
    if (code !== 0) throw new Error(`trellis complete exited with ${code}: ${stderr.trim().split('\n').pop()}`);
    const { maxRSSKiB } = JSON.parse(fs.readFileSync(out, 'utf8')) as { maxRSSKiB: number };
    let generatedTokens: number | undefined;
    try { generatedTokens = (JSON.parse(stdout) as { stats?: { generatedTokens?: number } }).stats?.generatedTokens; } catch { /* text output */ }
    const modelBytes = fs.existsSync(path.join(modelDir, 'onnx', 'model.onnx')) ? fs.statSync(path.join(modelDir, 'onnx', 'model.onnx')).size : NaN;
    return {
      command: `node dist/cli.js ${args.slice(3).join(' ').replace(modelDir, path.relative(repoRoot(), modelDir) || modelDir).replace(target, path.relative(repoRoot(), target))}`,
      grammar, healing, peakRssMiB: Math.round((maxRSSKiB / 1024) * 10) / 10, wallMs: Math.round(wallMs), generatedTokens,
      modelFileMiB: Math.round((modelBytes / 2 ** 20) * 10) / 10,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Benchmarks (speed, memory), each with its default and --quick sizes. The budgets add up to
 * 740 s here and 590 s for the evaluations: `npm run bench && npm run eval` ends within 20
 * minutes even when a part overruns (its partial data or its error is recorded).
 */
export const BENCH_PARTS: PartDef[] = [
  {
    name: 'tokenizer',
    budgetS: (q) => pick(q, 60, 90),
    params: (q) => ({ bytes: pick(q, 40_000, 400_000), repeat: pick(q, 1, 3) }),
    run: (_ctx, p) => runTokenizerBench({ quiet: true, bytes: p.bytes as number, repeat: p.repeat as number }),
  },
  {
    name: 'xgrammar',
    budgetS: (q) => pick(q, 120, 120),
    params: (q) => ({ masks: pick(q, 12, 400), tokenizers: ['tiny', 'llama3'] }),
    run: (ctx, p) => runXGrammarBench({ masks: p.masks as number, tokenizers: p.tokenizers as string[], signal: ctx.signal, log: ctx.log }),
  },
  {
    name: 'masks',
    budgetS: (q) => pick(q, 120, 300),
    params: (q) => ({ mode: pick(q, 'window', 'whole'), masks: pick(q, 8, 200), languages: ['python', 'javascript', 'typescript'], tokenizers: ['tiny', 'llama3'] }),
    run: (ctx, p) => runMaskBench({ mode: p.mode as MaskBenchMode, masks: p.masks as number, languages: p.languages as string[], tokenizers: p.tokenizers as string[], signal: ctx.signal }),
  },
  {
    name: 'mask-session',
    budgetS: (q) => pick(q, 60, 150),
    params: (q) => ({ mode: 'session', files: pick(q, 3, 45), languages: ['python', 'javascript', 'typescript'], tokenizers: ['llama3'] }),
    run: (ctx, p) => runMaskBench({ mode: 'session', sessionFiles: p.files as number, languages: p.languages as string[], tokenizers: p.tokenizers as string[], signal: ctx.signal }),
  },
  {
    name: 'decode',
    budgetS: (q) => pick(q, 60, 40),
    params: (q) => ({ prompts: pick(q, 2, 12), maxTokens: pick(q, 16, 64) }),
    run: async (ctx, p) => {
      const files = repoPythonFiles();
      if (files.length === 0) throw new Error('no Python files under tools/train for prompts');
      const n = p.prompts as number;
      const prompts: { prefix: string; suffix: string; file: string }[] = [];
      const perFile = Math.max(1, Math.ceil(n / files.length));
      for (const f of files) {
        const text = fs.readFileSync(f, 'utf8');
        for (const c of lineEnds(text, perFile)) prompts.push({ file: path.basename(f), prefix: text.slice(0, c), suffix: text.slice(c) });
      }
      prompts.length = Math.min(prompts.length, n);
      const t0 = performance.now();
      const engine = await Engine.load(ctx.modelDir, { signal: ctx.signal });
      const loadMs = performance.now() - t0;
      try {
        await measureDecode(engine.model, prompts[0]!.prefix, prompts[0]!.suffix, 4); // warm-up
        const samples = [];
        for (const [i, pr] of prompts.entries()) {
          if (ctx.signal.aborted) throw new Error('aborted');
          samples.push({ file: pr.file, ...(await measureDecode(engine.model, pr.prefix, pr.suffix, p.maxTokens as number)) });
          ctx.log(`  decode ${i + 1}/${prompts.length}`);
        }
        return {
          model: engine.info().name, threads: engine.model.threads, loadMs: Math.round(loadMs),
          tokensPerSecond: median(samples.map((s) => s.tokensPerSecond)),
          firstTokenMs: median(samples.map((s) => s.firstTokenMs)),
          firstTokenMsQuantiles: quantiles(samples.map((s) => s.firstTokenMs)),
          promptTokens: median(samples.map((s) => s.promptTokens)),
          samples,
        };
      } finally {
        await engine.dispose();
      }
    },
  },
  {
    name: 'memory',
    budgetS: (q) => pick(q, 60, 40),
    params: () => ({ grammar: 'mask', healing: 'exact', maxTokens: 32 }),
    run: async (ctx, p) => {
      // one process's peak moves by a third with when its collector runs: the median of three
      const runs: Record<string, unknown>[] = [];
      for (let i = 0; i < 3; i++) runs.push(await measureCompletionMemory(ctx.modelDir, ctx.signal, p.grammar as string, p.healing as string));
      runs.sort((a, b) => (a.peakRssMiB as number) - (b.peakRssMiB as number));
      return { ...runs[1], runsMiB: runs.map((r) => r.peakRssMiB) };
    },
  },
];

/** Quality evaluations (held-out files, seeded). */
export const EVAL_PARTS: PartDef[] = [
  {
    name: 'grammar',
    budgetS: (q) => pick(q, 120, 170),
    params: (q) => ({ positions: pick(q, 4, 40), maxFiles: 40, maxTokens: 32, throughputCursors: pick(q, 1, 6), modes: ['off', 'mask', 'aligned'], temperature: 0.2, topP: 0.95, seed: 0, healing: 'off' }),
    run: (ctx, p) => runGrammarEval({
      modelDir: ctx.modelDir, maxFiles: p.maxFiles as number, positions: p.positions as number, seed: p.seed as number,
      modes: p.modes as ('off' | 'mask' | 'aligned')[], maxTokens: p.maxTokens as number, temperature: p.temperature as number,
      topP: p.topP as number, maxFileBytes: 40_000, healing: 'off', throughputCursors: p.throughputCursors as number,
      signal: ctx.signal, log: ctx.log,
    }),
  },
  {
    name: 'healing',
    budgetS: (q) => pick(q, 120, 120),
    params: (q) => ({ positions: pick(q, 4, 60), maxFiles: 60, modes: ['off', 'token', 'exact'], layout: 'plain', contextTokens: 512, continuationBytes: 16, maxTokens: 24, seed: 0 }),
    run: (ctx, p) => runHealingEval({
      modelDir: ctx.modelDir, maxFiles: p.maxFiles as number, positions: p.positions as number, seed: p.seed as number,
      modes: p.modes as ('off' | 'token' | 'exact')[], layout: 'plain', contextTokens: p.contextTokens as number,
      continuationBytes: p.continuationBytes as number, maxTokens: p.maxTokens as number, maxFileBytes: 60_000,
      signal: ctx.signal, log: ctx.log,
    }),
  },
  {
    name: 'steering',
    // (about 80 s on the 2-core EPYC, 190-205 s on the 2-core Xeon at 2.0 GHz)
    budgetS: (q) => pick(q, 180, 300),
    params: (q) => ({ prompts: pick(q, 2, 24), weight: 6, maxTokens: pick(q, 24, 80), temperature: 0.8, topP: 0.95, seed: 1, grammar: 'off', contextTokens: 384 }),
    run: (ctx, p) => runSteeringEval({
      modelDir: ctx.modelDir, gediDir: defaultGediDir(), prompts: p.prompts as number, weight: p.weight as number,
      maxTokens: p.maxTokens as number, temperature: p.temperature as number, topP: p.topP as number, seed: p.seed as number,
      grammar: 'off', contextTokens: p.contextTokens as number, signal: ctx.signal, log: ctx.log,
    }),
  },
];

export function quantiles(xs: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1]! : NaN };
}

export function machineInfo(loadStart: number): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length, cpuModel: cpus[0]?.model.trim() ?? 'unknown', memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version, platform: `${os.platform()} ${os.arch()}`, nodeFlags: [...process.execArgv],
    loadAverage: { start: Math.round(loadStart * 100) / 100, end: Math.round(os.loadavg()[0]! * 100) / 100 },
  };
}

export interface RunSuiteOptions {
  quick?: boolean;
  /** Only these parts (default: all). */
  parts?: string[];
  modelDir?: string;
  /** Multiplies every part's time budget. */
  budgetScale?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
  command?: string;
}

export function partsOf(kind: SuiteKind): PartDef[] {
  return kind === 'bench' ? BENCH_PARTS : EVAL_PARTS;
}

/** Runs a suite's parts in order; an error or an overrun in one part is recorded, not thrown. */
export async function runSuite(kind: SuiteKind, opts: RunSuiteOptions = {}): Promise<SuiteResult> {
  const quick = !!opts.quick;
  const log = opts.log ?? (() => {});
  const modelDir = opts.modelDir ?? defaultModelDir();
  const defs = partsOf(kind).filter((d) => !opts.parts || opts.parts.includes(d.name));
  const load0 = os.loadavg()[0]!;
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const parts: Record<string, PartResult> = {};
  for (const [i, def] of defs.entries()) {
    const params = def.params(quick);
    const budget = def.budgetS(quick) * (opts.budgetScale ?? 1);
    log(`[${kind} ${i + 1}/${defs.length}] ${def.name} (budget ${Math.round(budget)} s) …`);
    const ctrl = new AbortController();
    const onOuter = () => ctrl.abort();
    opts.signal?.addEventListener('abort', onOuter);
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ctrl.abort();
        // A part that ignores its signal gets 10 s more, then the suite moves on without it.
        setTimeout(() => reject(new Error(`stopped after its ${Math.round(budget)} s budget (rerun with a larger --budget-scale or smaller sizes)`)), 10_000).unref();
      }, budget * 1000);
      timer.unref();
    });
    const s0 = performance.now();
    const c0 = process.cpuUsage();
    const cpu = () => round1((() => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1e6; })());
    try {
      const data = await Promise.race([def.run({ quick, modelDir, signal: ctrl.signal, log }, params), overrun]);
      const overBudget = ctrl.signal.aborted && !opts.signal?.aborted;
      parts[def.name] = { name: def.name, status: 'ok', seconds: round1((performance.now() - s0) / 1000), cpuSeconds: cpu(), params: overBudget ? { ...params, truncatedAtBudgetS: Math.round(budget) } : params, data };
      log(`[${kind} ${i + 1}/${defs.length}] ${def.name}: done in ${parts[def.name]!.seconds} s${overBudget ? ' (cut at its budget: partial data)' : ''}`);
    } catch (e) {
      const err = e as Error;
      const msg = ctrl.signal.aborted && !opts.signal?.aborted && !/budget/.test(err.message) ? `stopped after its ${Math.round(budget)} s budget (${err.message})` : err.message;
      parts[def.name] = { name: def.name, status: 'error', seconds: round1((performance.now() - s0) / 1000), cpuSeconds: cpu(), params, error: msg };
      log(`[${kind} ${i + 1}/${defs.length}] ${def.name}: FAILED after ${parts[def.name]!.seconds} s: ${msg}`);
      if (process.env.TRELLIS_DEBUG) console.error(err);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onOuter);
    }
    if (opts.signal?.aborted) break;
  }
  return {
    kind, version: 1, quick, startedAt, seconds: round1((performance.now() - t0) / 1000), machine: machineInfo(load0),
    model: path.relative(repoRoot(), modelDir) || modelDir, command: opts.command ?? `npm run ${kind}`, parts,
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Reads a JSON file, or undefined when it is missing. */
export function readJson<T>(file: string): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/**
 * Adds a suite's result to the saved ones. A run with only some parts keeps the other parts of
 * the previous run of the same kind (so `--parts xgrammar` refreshes one section).
 */
export function mergeSuite(prev: SuiteResult | undefined, next: SuiteResult): SuiteResult {
  if (!prev || prev.kind !== next.kind) return next;
  return { ...next, parts: { ...prev.parts, ...next.parts } };
}

/** JSON with NaN/Infinity as null (JSON has neither). */
export function toJson(x: unknown): string {
  return JSON.stringify(x, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1) + '\n';
}
