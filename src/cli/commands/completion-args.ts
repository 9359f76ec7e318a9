// Shared pieces of the completion commands (complete, infill, bench): the default model folder,
// option flags → CompletionOptions, and 1-based LINE:COL positions ↔ string offsets.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CompletionOptions, CompletionResult, GrammarMode, HealingMode, PromptLayoutMode } from '../../engine/api';
import { UsageError } from '../command';

/**
 * The default model shipped with Trellis: models/trellis-code-tiny next to the CLI bundle
 * (dist/../models), or above the source tree when run from TypeScript.
 */
export function defaultModelDir(): string {
  const rel = path.join('models', 'trellis-code-tiny');
  for (const up of ['..', '../..', '../../..']) {
    const p = path.resolve(__dirname, up, rel);
    if (fs.existsSync(p)) return p;
  }
  return path.resolve(__dirname, '..', rel);
}

/** The GeDi discriminator shipped with Trellis (models/trellis-gedi-tiny), found like the model. */
export function defaultGediDir(): string {
  return path.join(path.dirname(defaultModelDir()), 'trellis-gedi-tiny');
}

/**
 * The GeDi folder to load: --gedi when given, else the shipped one when an attribute is steered
 * (loading it costs time, so plain completions skip it).
 */
export function gediDirFor(values: { gedi?: string }, options: Partial<CompletionOptions>): string | undefined {
  if (values.gedi) return values.gedi;
  return Object.values(options.attributes ?? {}).some((w) => w !== 0) ? defaultGediDir() : undefined;
}

/** `node:util` parseArgs whose errors (unknown flag, missing value) are usage errors (exit 2). */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** parseArgs options of the sampling/feature flags every completion command takes. */
export const completionFlags = {
  model: { type: 'string' },
  gedi: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  seed: { type: 'string' },
  grammar: { type: 'string' },
  healing: { type: 'string' },
  layout: { type: 'string' },
  attr: { type: 'string', multiple: true },
  stop: { type: 'string', multiple: true },
  'context-tokens': { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

export const completionFlagsUsage = `  --model DIR           model folder (default: models/trellis-code-tiny of this install)
  --max-tokens N        most tokens to generate (default 64)
  --temperature T       0 = greedy (default 0.2)
  --top-p P             nucleus mass in (0, 1] (default 0.95)
  --top-k K             0 = off (default 0)
  --seed S              same seed → same text (default 0)
  --grammar MODE        off | mask | aligned (default mask)
  --healing MODE        off | token | exact (default exact)
  --layout MODE         auto | fim | plain: the prompt (default auto: the model card's choice)
  --attr NAME=W         steer an attribute (GeDi), repeatable, e.g. --attr documented=2
  --gedi DIR            GeDi discriminator folder (default: models/trellis-gedi-tiny, loaded with --attr)
  --stop STRING         stop before this text, repeatable
  --context-tokens N    prompt token budget (default 1024, capped by the model)
  --json                print one JSON object with every result field`;

/** A numeric flag's value (undefined when absent); a non-number, or a fraction where an integer is due, is a UsageError. */
export function numberFlag(flag: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${flag} expects ${integer ? 'an integer' : 'a number'}, got '${v}'`);
  }
  return n;
}

/** The value of --layout (auto | fim | plain). */
export function layoutFlag(v: string): PromptLayoutMode {
  if (!['auto', 'fim', 'plain'].includes(v)) throw new UsageError(`--layout must be auto, fim or plain, got '${v}'`);
  return v as PromptLayoutMode;
}

/** CompletionOptions from the parsed flags (only those given; the engine fills the rest). */
export function optionsFromFlags(values: Record<string, string | boolean | string[] | undefined>): Partial<CompletionOptions> {
  const o: Partial<CompletionOptions> = {};
  const s = (k: string) => values[k] as string | undefined;
  const set = <K extends keyof CompletionOptions>(k: K, v: CompletionOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('maxTokens', numberFlag('max-tokens', s('max-tokens'), true));
  set('temperature', numberFlag('temperature', s('temperature'), false));
  set('topP', numberFlag('top-p', s('top-p'), false));
  set('topK', numberFlag('top-k', s('top-k'), true));
  set('seed', numberFlag('seed', s('seed'), false));
  set('contextTokens', numberFlag('context-tokens', s('context-tokens'), true));
  const g = s('grammar');
  if (g !== undefined) {
    if (!['off', 'mask', 'aligned'].includes(g)) throw new UsageError(`--grammar must be off, mask or aligned, got '${g}'`);
    o.grammar = g as GrammarMode;
  }
  const h = s('healing');
  if (h !== undefined) {
    if (!['off', 'token', 'exact'].includes(h)) throw new UsageError(`--healing must be off, token or exact, got '${h}'`);
    o.healing = h as HealingMode;
  }
  const lay = s('layout');
  if (lay !== undefined) o.layout = layoutFlag(lay);
  const attrs = (values.attr as string[] | undefined) ?? [];
  if (attrs.length) {
    o.attributes = {};
    for (const a of attrs) {
      const m = /^([A-Za-z0-9_.-]+)=(-?[0-9.]+(?:e-?[0-9]+)?)$/.exec(a);
      if (!m || !Number.isFinite(Number(m[2]))) throw new UsageError(`--attr expects NAME=WEIGHT (e.g. documented=2), got '${a}'`);
      o.attributes[m[1]!] = Number(m[2]);
    }
  }
  const stops = values.stop as string[] | undefined;
  if (stops?.length) o.stop = stops;
  return o;
}

/** An integer flag ≥ `min`, or `dflt` when absent. */
export function intFlag(flag: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} expects an integer ≥ ${min}, got '${v}'`);
  return n;
}

/** Start offsets (UTF-16) of each line of `text`; lines end at '\n'. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** Offset (UTF-16) of a 1-based line and column; the column may be one past the line's last character. */
export function offsetOf(text: string, line: number, col: number, file: string): number {
  const starts = lineStarts(text);
  if (!Number.isInteger(line) || !Number.isInteger(col) || line < 1 || col < 1) {
    throw new UsageError(`positions are 1-based LINE:COL, got ${line}:${col}`);
  }
  if (line > starts.length) throw new UsageError(`line ${line} is past the end of ${file} (${starts.length} lines)`);
  const start = starts[line - 1]!;
  let end = line < starts.length ? starts[line]! - 1 : text.length; // at the '\n' (excluded)
  if (end > start && text[end - 1] === '\r') end--;
  if (col - 1 > end - start) throw new UsageError(`column ${col} is past the end of line ${line} of ${file} (${end - start} characters)`);
  return start + col - 1;
}

/** 1-based [line, col] of a UTF-16 offset. */
export function positionOf(text: string, offset: number): [number, number] {
  const starts = lineStarts(text);
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return [lo + 1, offset - starts[lo]! + 1];
}

/** Parses `LINE:COL`. */
export function parsePosition(flag: string, v: string): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(v.trim());
  if (!m) throw new UsageError(`--${flag} expects LINE:COL (1-based), got '${v}'`);
  return [Number(m[1]), Number(m[2])];
}

/** Reads a text file for completion; missing or unreadable files are usage errors. */
export function readDocument(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new UsageError(`file not found: ${file}`);
  }
  if (!st.isFile()) throw new UsageError(`not a regular file: ${file}`);
  return fs.readFileSync(file, 'utf8');
}

/** The JSON object of one completion, with the fields first. */
export function resultJson(r: CompletionResult, text: string, cursor: number, replaceTo: number): Record<string, unknown> {
  const from = cursor - r.respelledChars;
  return {
    text: r.text,
    replace: { from: positionOf(text, from), to: positionOf(text, replaceTo) },
    tokens: r.stats.generatedTokens,
    stopReason: r.stopReason,
    ms: { total: round(r.timings.totalMs), firstToken: round(r.timings.firstTokenMs) },
    respelledChars: r.respelledChars,
    timings: { ...r.timings, firstTokenMs: round(r.timings.firstTokenMs), totalMs: round(r.timings.totalMs), tokensPerSecond: round(r.timings.tokensPerSecond) },
    stats: r.stats,
  };
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
