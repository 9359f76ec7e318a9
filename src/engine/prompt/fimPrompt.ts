// Builds the model's prompt from the bytes before and after the cursor: the FIM template of the
// model (PSM by default, SPM when the model card says so) or a plain left-to-right prompt for
// models without FIM tokens; trims both sides to a token budget, keeping the lines nearest the
// cursor (more prefix than suffix), and reports which byte ranges were kept.
import type { TokenizerLike } from '../interfaces';
import type { PromptLayoutMode } from '../api';
import type { FimTokens } from '../runtime/fim';
import { utf8CeilBoundary, utf8FloorBoundary } from '../text';

export type PromptLayout = 'psm' | 'spm' | 'plain';

export interface PromptSpec {
  tokenizer: TokenizerLike;
  /** FIM tokens; null → plain left-to-right prompt (the suffix is ignored). */
  fim: FimTokens | null;
  order: 'psm' | 'spm';
  /** Prepended when the tokenizer config asks for a BOS token. */
  bosId?: number;
  /**
   * Plain prompts that keep the file from its start begin with this token: the end-of-text that
   * separated files in training (one token of the budget is kept for it).
   */
  fileStart?: number;
}

/** What modelPromptSpec reads of a loaded model folder (runtime/modelFolder.ts). */
export interface PromptModel {
  tokenizer: TokenizerLike;
  fim: FimTokens | null;
  fimOrder: 'psm' | 'spm';
  promptLayout: 'fim' | 'plain';
  eosIds: readonly number[];
  tokenizerConfig: Record<string, unknown>;
}

/**
 * How a model is prompted for a request: its FIM template when it has one and the layout (the
 * request's, else the model card's) is FIM; else left to right, after the tokenizer's BOS when its
 * config asks for one, else after end-of-text at the start of a file.
 */
export function modelPromptSpec(m: PromptModel, layout: PromptLayoutMode = 'auto'): PromptSpec {
  const fim = m.fim !== null && (layout === 'fim' || (layout === 'auto' && m.promptLayout === 'fim')) ? m.fim : null;
  const bosContent = m.tokenizerConfig.add_bos_token === true ? m.tokenizerConfig.bos_token : undefined;
  const bosId = typeof bosContent === 'string' ? m.tokenizer.specialTokenId(bosContent) : undefined;
  const fileStart = !fim && bosId === undefined ? m.eosIds[0] : undefined;
  return { tokenizer: m.tokenizer, fim, order: m.fimOrder, bosId, fileStart };
}

export interface BuiltPrompt {
  ids: number[];
  layout: PromptLayout;
  /** The prefix kept is prefix[prefixStart, prefix.length). */
  prefixStart: number;
  /** The suffix kept is suffix[0, suffixEnd). */
  suffixEnd: number;
  /** Tokens spent on the prefix and on the suffix. */
  prefixTokens: number;
  suffixTokens: number;
}

export interface BudgetOptions {
  /** Maximum prompt tokens, template tokens included. */
  maxTokens: number;
  /** Share of the budget reserved for the prefix when both sides are long (default 0.75 = 3:1). */
  prefixShare?: number;
}

/** Start offsets of lines (after each '\n') in [0, n]; ascending. */
function lineStarts(bytes: Uint8Array): number[] {
  const starts = [0];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a && i + 1 < bytes.length) starts.push(i + 1);
  return starts;
}

/**
 * Largest tail of `bytes` (a start offset) whose encoding fits `budget` tokens: whole lines from
 * the end first; when not even the cursor's line fits, the end of that line, cut at a character
 * boundary.
 */
export function keepTail(tok: TokenizerLike, bytes: Uint8Array, budget: number): { start: number; tokens: number } {
  if (budget <= 0 || bytes.length === 0) return { start: bytes.length, tokens: 0 };
  const whole = tok.encodeBytes(bytes).length;
  if (whole <= budget) return { start: 0, tokens: whole };
  const starts = lineStarts(bytes);
  // Walk lines outward from the cursor, counting tokens per line (an estimate: the pre-tokenizer
  // may join a line break with the next line's indentation), then verify with one encode.
  let k = starts.length; // index into starts of the first kept line
  let used = 0;
  while (k > 0) {
    const n = tok.encodeBytes(bytes.subarray(starts[k - 1]!, k < starts.length ? starts[k]! : bytes.length)).length;
    if (used + n > budget) break;
    used += n;
    k--;
  }
  for (; k < starts.length; k++) {
    const n = tok.encodeBytes(bytes.subarray(starts[k]!)).length;
    if (n <= budget) return { start: starts[k]!, tokens: n };
  }
  return cutInside(tok, bytes, starts[starts.length - 1]!, bytes.length, budget, 'tail');
}

/** Largest head of `bytes` (an end offset) whose encoding fits `budget` tokens, by whole lines first. */
export function keepHead(tok: TokenizerLike, bytes: Uint8Array, budget: number): { end: number; tokens: number } {
  if (budget <= 0 || bytes.length === 0) return { end: 0, tokens: 0 };
  const whole = tok.encodeBytes(bytes).length;
  if (whole <= budget) return { end: bytes.length, tokens: whole };
  const ends = lineStarts(bytes).slice(1).concat(bytes.length); // line ends (exclusive, after '\n')
  let k = 0; // number of whole lines kept
  let used = 0;
  while (k < ends.length) {
    const n = tok.encodeBytes(bytes.subarray(k > 0 ? ends[k - 1]! : 0, ends[k]!)).length;
    if (used + n > budget) break;
    used += n;
    k++;
  }
  for (; k > 0; k--) {
    const n = tok.encodeBytes(bytes.subarray(0, ends[k - 1]!)).length;
    if (n <= budget) return { end: ends[k - 1]!, tokens: n };
  }
  const c = cutInside(tok, bytes, 0, ends[0]!, budget, 'head');
  return { end: c.start, tokens: c.tokens };
}

/**
 * Cuts inside bytes[from, to) by binary search on the byte count: for 'tail' returns the
 * smallest start with encode(bytes[start, to)) ≤ budget; for 'head' the largest end (in `start`).
 */
function cutInside(tok: TokenizerLike, bytes: Uint8Array, from: number, to: number, budget: number, side: 'tail' | 'head'): { start: number; tokens: number } {
  let lo = 0;
  // A token rarely spans more than 64 bytes: bound the search so huge lines stay cheap.
  let hi = Math.min(to - from, Math.max(1, budget) * 64); // number of bytes kept
  let best = 0;
  let bestTokens = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const cut = side === 'tail' ? utf8CeilBoundary(bytes, to - mid) : utf8FloorBoundary(bytes, from + mid);
    const piece = side === 'tail' ? bytes.subarray(cut, to) : bytes.subarray(from, cut);
    const n = piece.length ? tok.encodeBytes(piece).length : 0;
    if (n <= budget) {
      if (piece.length >= best) {
        best = piece.length;
        bestTokens = n;
      }
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return side === 'tail' ? { start: to - best, tokens: bestTokens } : { start: from + best, tokens: bestTokens };
}

/**
 * Builds the prompt. PSM: `P prefix S suffix M`; SPM (as tools/train/train.py trains it):
 * `S suffix P prefix M`; plain: `prefix`. The generated middle follows the prompt.
 */
export function buildPrompt(spec: PromptSpec, prefix: Uint8Array, suffix: Uint8Array, budget: BudgetOptions): BuiltPrompt {
  const { tokenizer: tok, fim } = spec;
  const bos = spec.bosId !== undefined ? [spec.bosId] : [];
  if (!fim) {
    const sep = spec.fileStart !== undefined ? 1 : 0;
    const avail = Math.max(0, budget.maxTokens - bos.length - sep);
    const p = keepTail(tok, prefix, avail);
    const head = sep && p.start === 0 ? [...bos, spec.fileStart!] : bos;
    const ids = [...head, ...tok.encodeBytes(prefix.subarray(p.start))];
    return { ids, layout: 'plain', prefixStart: p.start, suffixEnd: 0, prefixTokens: ids.length - head.length, suffixTokens: 0 };
  }
  const avail = Math.max(0, budget.maxTokens - bos.length - 3);
  const share = budget.prefixShare ?? 0.75;
  // The suffix gets at most its share unless the whole prefix fits; a short suffix leaves its
  // share to the prefix. Lines are kept whole (training segments start at line starts), so a
  // side may use a little less than its share.
  const suffixWanted = Math.max(0, Math.floor(avail * (1 - share)));
  let p = keepTail(tok, prefix, suffix.length ? avail - suffixWanted : avail);
  const s = keepHead(tok, suffix, p.start === 0 ? avail - p.tokens : suffixWanted);
  if (s.end === suffix.length && s.tokens < suffixWanted && p.start > 0) p = keepTail(tok, prefix, avail - s.tokens);
  const pIds = tok.encodeBytes(prefix.subarray(p.start));
  const sIds = tok.encodeBytes(suffix.subarray(0, s.end));
  const ids =
    spec.order === 'spm'
      ? [...bos, fim.suffix, ...sIds, fim.prefix, ...pIds, fim.middle]
      : [...bos, fim.prefix, ...pIds, fim.suffix, ...sIds, fim.middle];
  return { ids, layout: spec.order, prefixStart: p.start, suffixEnd: s.end, prefixTokens: pIds.length, suffixTokens: sIds.length };
}
