// The pre-tokenizer: splits (normalized) text into the chunks that BPE encodes independently,
// reproducing the Hugging Face `tokenizers` pipeline (Split / ByteLevel / Digits / Sequence).
// Chunks are [start, end) pairs of UTF-16 offsets; byte offsets are derived by the caller.

import { GPT2_PATTERN } from './patterns';
import { RegexTranslationError, translateOnigurumaRegex } from './regex';
import { scannerFor, type PatternScanner } from './scanner';

export { GPT2_PATTERN };

/** What happens to the pieces a Split pattern matches (HF `SplitDelimiterBehavior`). */
export type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

const BEHAVIORS: ReadonlySet<string> = new Set(['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']);

/** A configuration problem; the tokenizer loader turns it into a TrellisError naming the file. */
export class PreTokenizerConfigError extends Error {}

/** One regex split stage. */
class RegexSplit {
  private readonly sticky: RegExp;
  /** @internal */
  readonly global: RegExp;

  /** Hand-written equivalent of the pattern, when it is one we know (Isolated, not inverted only). */
  readonly scanner: PatternScanner | null;

  constructor(source: string, readonly behavior: SplitBehavior, private readonly invert: boolean, originalPattern?: string) {
    this.sticky = new RegExp(source, 'uy');
    this.global = new RegExp(source, 'ug');
    this.scanner =
      originalPattern !== undefined && behavior === 'Isolated' && !invert ? scannerFor(originalPattern) : null;
  }

  /** Appends the kept pieces of text[start, end) to `out` as start/end pairs. */
  split(text: string, start: number, end: number, out: number[]): void {
    if (this.scanner !== null) {
      this.scanner.split(text, start, end, out);
      return;
    }
    const sub = start === 0 && end === text.length ? text : text.slice(start, end);
    if (this.behavior === 'Isolated') {
      // Fast path, inlined: gaps and matches alike become pieces, in order. While matches are
      // contiguous (the common case: shipped patterns cover every character) only the sticky
      // regex's test() runs, which allocates nothing.
      const sticky = this.sticky;
      const len = sub.length;
      let p = 0;
      while (p < len) {
        sticky.lastIndex = p;
        if (sticky.test(sub)) {
          const e = sticky.lastIndex;
          if (e > p) {
            out.push(start + p, start + e);
            p = e;
            continue;
          }
        }
        // No match (or an empty one) here: find the next match; the text before it is a gap.
        const m = this.nextMatch(sub, p);
        if (m === null) {
          out.push(start + p, start + len);
          break;
        }
        if (m[0] > p) out.push(start + p, start + m[0]);
        out.push(start + m[0], start + m[1]);
        p = m[1];
      }
      return;
    }
    // General path: a list of (start, end, isDelimiter), then the behavior (as in HF's
    // NormalizedString::split).
    const segs: number[] = [];
    let gapStart = 0;
    const inv = this.invert;
    this.forEachMatch(sub, (ms, me) => {
      if (gapStart < ms) segs.push(gapStart, ms, inv ? 1 : 0);
      segs.push(ms, me, inv ? 0 : 1);
      gapStart = me;
    });
    if (gapStart < sub.length) segs.push(gapStart, sub.length, inv ? 1 : 0);
    const pieces: number[] = [];
    const count = segs.length / 3;
    switch (this.behavior) {
      case 'Removed':
        for (let k = 0; k < count; k++) if (!segs[3 * k + 2]) pieces.push(segs[3 * k], segs[3 * k + 1]);
        break;
      case 'MergedWithPrevious': {
        let prevMatch = false;
        for (let k = 0; k < count; k++) {
          const isMatch = segs[3 * k + 2] === 1;
          if (isMatch && !prevMatch && pieces.length > 0) pieces[pieces.length - 1] = segs[3 * k + 1];
          else pieces.push(segs[3 * k], segs[3 * k + 1]);
          prevMatch = isMatch;
        }
        break;
      }
      case 'MergedWithNext': {
        let prevMatch = false;
        const rev: number[] = [];
        for (let k = count - 1; k >= 0; k--) {
          const isMatch = segs[3 * k + 2] === 1;
          if (isMatch && !prevMatch && rev.length > 0) rev[rev.length - 2] = segs[3 * k];
          else rev.push(segs[3 * k], segs[3 * k + 1]);
          prevMatch = isMatch;
        }
        for (let k = rev.length - 2; k >= 0; k -= 2) pieces.push(rev[k], rev[k + 1]);
        break;
      }
      case 'Contiguous': {
        let prevMatch = false;
        for (let k = 0; k < count; k++) {
          const isMatch = segs[3 * k + 2] === 1;
          if (isMatch === prevMatch && pieces.length > 0) pieces[pieces.length - 1] = segs[3 * k + 1];
          else pieces.push(segs[3 * k], segs[3 * k + 1]);
          prevMatch = isMatch;
        }
        break;
      }
      default:
        for (let k = 0; k < count; k++) pieces.push(segs[3 * k], segs[3 * k + 1]);
    }
    for (let k = 0; k < pieces.length; k++) out.push(start + pieces[k]);
  }

  /** Calls `fn` for each non-empty match, left to right (Oniguruma find_iter, empty matches skipped). */
  private forEachMatch(s: string, fn: (start: number, end: number) => void): void {
    const sticky = this.sticky;
    const len = s.length;
    let p = 0;
    while (p < len) {
      sticky.lastIndex = p;
      if (sticky.test(s) && sticky.lastIndex > p) {
        const e = sticky.lastIndex;
        fn(p, e);
        p = e;
        continue;
      }
      const m = this.nextMatch(s, p);
      if (m === null) return;
      fn(m[0], m[1]);
      p = m[1];
    }
  }

  /**
   * The first non-empty match starting at or after `p`, as [start, end], or null. An empty
   * match makes the search resume one character later, as Oniguruma's iterator does.
   */
  private nextMatch(s: string, p: number): [number, number] | null {
    const global = this.global;
    global.lastIndex = p;
    for (;;) {
      const m = global.exec(s);
      if (m === null) return null;
      if (m[0].length > 0) return [m.index, m.index + m[0].length];
      global.lastIndex = m.index + (isHighSurrogateAt(s, m.index) ? 2 : 1);
      if (global.lastIndex > s.length) return null;
    }
  }
}

function isHighSurrogateAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c < 0xdc00 && i + 1 < s.length;
}

/** A compiled pre-tokenizer pipeline. */
export class PreTokenizer {
  private constructor(private readonly stages: readonly RegexSplit[]) {}

  /**
   * Builds the pipeline from a tokenizer.json `pre_tokenizer` value. Requires a ByteLevel step
   * (this is a byte-level BPE tokenizer); throws PreTokenizerConfigError for anything else.
   */
  static fromConfig(config: unknown): PreTokenizer {
    const stages: RegexSplit[] = [];
    let byteLevel = false;
    const visit = (node: unknown, where: string): void => {
      if (node === null || typeof node !== 'object') throw new PreTokenizerConfigError(`${where} is not an object`);
      const o = node as Record<string, unknown>;
      switch (o.type) {
        case 'Sequence': {
          const list = o.pretokenizers;
          if (!Array.isArray(list)) throw new PreTokenizerConfigError(`${where}.pretokenizers is not a list`);
          list.forEach((p, k) => visit(p, `${where}.pretokenizers[${k}]`));
          return;
        }
        case 'ByteLevel': {
          byteLevel = true;
          if (o.add_prefix_space === true) {
            throw new PreTokenizerConfigError(`${where}: ByteLevel add_prefix_space=true is not supported (it changes the bytes being encoded); set it to false`);
          }
          if (o.use_regex !== false) stages.push(new RegexSplit(translate(GPT2_PATTERN), 'Isolated', false, GPT2_PATTERN));
          return;
        }
        case 'Split': {
          const pattern = o.pattern as Record<string, unknown> | undefined;
          let source: string;
          let original: string | undefined;
          if (pattern && typeof pattern.Regex === 'string') {
            source = translate(pattern.Regex, where);
            original = pattern.Regex;
          } else if (pattern && typeof pattern.String === 'string') {
            source = pattern.String.replace(/[\^$\\.*+?()[\]{}|/]/g, '\\$&');
            if (source === '') throw new PreTokenizerConfigError(`${where}: empty Split pattern`);
          } else {
            throw new PreTokenizerConfigError(`${where}: Split pattern must be {"Regex": …} or {"String": …}`);
          }
          const behavior = String(o.behavior ?? 'Isolated');
          if (!BEHAVIORS.has(behavior)) throw new PreTokenizerConfigError(`${where}: unknown Split behavior '${behavior}'`);
          stages.push(new RegexSplit(source, behavior as SplitBehavior, o.invert === true, original));
          return;
        }
        case 'Digits':
          // As the Rust crate: char::is_numeric, i.e. \p{N}, one character per match (the JS
          // reference uses ASCII \d; the two agree on ASCII digits).
          stages.push(new RegexSplit('\\p{N}', o.individual_digits === true ? 'Isolated' : 'Contiguous', false));
          return;
        default:
          throw new PreTokenizerConfigError(
            `${where}: pre-tokenizer type '${String(o.type)}' is not supported (Trellis supports byte-level BPE: Split, ByteLevel, Digits, Sequence)`,
          );
      }
    };
    if (config === null || config === undefined) {
      throw new PreTokenizerConfigError('pre_tokenizer is null; a byte-level BPE tokenizer needs a ByteLevel pre-tokenizer');
    }
    visit(config, 'pre_tokenizer');
    if (!byteLevel) {
      throw new PreTokenizerConfigError('pre_tokenizer has no ByteLevel step; only byte-level BPE tokenizers are supported');
    }
    return new PreTokenizer(stages);
  }

  /**
   * The chunks of `text` as strings. Same result as slicing `split(text)`, faster for the usual
   * single stage: its hand-written scanner, or else one native `match` call, valid when the
   * matches tile the text (checked by their total length; otherwise the general path runs).
   */
  pieces(text: string): string[] {
    if (text.length === 0) return [];
    if (this.stages.length === 1 && this.stages[0].scanner !== null) return this.stages[0].scanner.pieces(text);
    if (this.stages.length === 1 && this.stages[0].behavior === 'Isolated') {
      const re = this.stages[0].global;
      re.lastIndex = 0;
      const found = text.match(re);
      if (found !== null) {
        let total = 0;
        for (let k = 0; k < found.length; k++) total += found[k].length;
        if (total === text.length) return found; // tiling also rules out empty matches
      }
    }
    const spans = this.split(text);
    const out: string[] = new Array(spans.length >> 1);
    for (let k = 0; k < spans.length; k += 2) out[k >> 1] = text.slice(spans[k], spans[k + 1]);
    return out;
  }

  /** Chunks of text[start, end) as a flat list of start/end pairs (UTF-16 offsets). */
  split(text: string, start = 0, end = text.length): number[] {
    let spans = [start, end];
    if (start === end) return [];
    for (const stage of this.stages) {
      const next: number[] = [];
      for (let k = 0; k < spans.length; k += 2) stage.split(text, spans[k], spans[k + 1], next);
      spans = next;
    }
    return spans;
  }
}

function translate(pattern: string, where = 'pre_tokenizer'): string {
  try {
    return translateOnigurumaRegex(pattern);
  } catch (err) {
    if (err instanceof RegexTranslationError) {
      throw new PreTokenizerConfigError(`${where}: cannot use regex ${JSON.stringify(pattern)}: ${err.message}`);
    }
    throw err;
  }
}
