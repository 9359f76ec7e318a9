// Hand-written equivalents of the split regexes that byte-level BPE tokenizers actually ship
// (GPT-2, Llama-3, Qwen2/3, Trellis's own), for speed: one pass of charCodeAt and table
// lookups instead of a backtracking regex. Each is recognised by its exact pattern text; any
// other pattern keeps using the translated RegExp. Tests check scanner == RegExp on real text.
//
// The alternatives are tried in pattern order at each position, with the regex's greedy
// backtracking worked out by hand (see matchAt).

import { GPT2_PATTERN } from './patterns';

/** Character class bits. */
const WS = 1; // \p{White_Space}
const LETTER = 2; // the pattern's letter class
const DIGIT = 4; // the pattern's digit class
const KNOWN = 128;

interface ScannerSpec {
  /** 's 't 're 've 'm 'll 'd, ASCII case-insensitive (Llama-3, Qwen) or not (GPT-2, Trellis). */
  contractionsIgnoreCase: boolean;
  /** Letter runs may start with one char that is not \r, \n, letter or digit (else: an optional space). */
  letterPrefixAnyOther: boolean;
  /** Digit runs may start with an optional space. */
  digitSpacePrefix: boolean;
  /** Longest digit run in one chunk. */
  maxDigits: number;
  /** Punctuation runs swallow following \r / \n. */
  otherTrailingNewlines: boolean;
  /** Has the `\s*[\r\n]+` alternative. */
  newlineRule: boolean;
  /** Classes: Unicode \p{L}/\p{N} or Trellis's [A-Za-z_\u00C0-\uFFFF] / [0-9]. */
  classes: 'unicode' | 'trellis';
}

const SPECS = new Map<string, ScannerSpec>([
  [
    GPT2_PATTERN,
    { contractionsIgnoreCase: false, letterPrefixAnyOther: false, digitSpacePrefix: true, maxDigits: Infinity, otherTrailingNewlines: false, newlineRule: false, classes: 'unicode' },
  ],
  [
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    { contractionsIgnoreCase: true, letterPrefixAnyOther: true, digitSpacePrefix: false, maxDigits: 3, otherTrailingNewlines: true, newlineRule: true, classes: 'unicode' },
  ],
  [
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    { contractionsIgnoreCase: true, letterPrefixAnyOther: true, digitSpacePrefix: false, maxDigits: 1, otherTrailingNewlines: true, newlineRule: true, classes: 'unicode' },
  ],
  [
    "'(?:[sdmt]|ll|ve|re)| ?[A-Za-z_\\u00C0-\\uFFFF]+| ?[0-9]{1,3}| ?[^\\sA-Za-z0-9_\\u00C0-\\uFFFF]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    { contractionsIgnoreCase: false, letterPrefixAnyOther: false, digitSpacePrefix: true, maxDigits: 3, otherTrailingNewlines: true, newlineRule: true, classes: 'trellis' },
  ],
]);

function isWhiteSpace(cp: number): boolean {
  // Unicode White_Space (what Oniguruma's \s means); stable since Unicode 6.3.
  return (
    (cp >= 0x09 && cp <= 0x0d) || cp === 0x20 || cp === 0x85 || cp === 0xa0 || cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) || cp === 0x2028 || cp === 0x2029 || cp === 0x202f || cp === 0x205f || cp === 0x3000
  );
}

const UNICODE_L = /^\p{L}$/u;
const UNICODE_N = /^\p{N}$/u;

/** A split scanner for one known pattern; null when the pattern is not one we know. */
export function scannerFor(pattern: string): PatternScanner | null {
  const spec = SPECS.get(pattern);
  return spec ? new PatternScanner(spec) : null;
}

export class PatternScanner {
  /** Class bits per BMP code unit, filled on first use (KNOWN marks a computed entry). */
  private readonly bmp = new Uint8Array(65536);
  private readonly astral = new Map<number, number>();

  constructor(private readonly spec: ScannerSpec) {}

  private classOf(cp: number): number {
    if (cp < 0x10000) {
      const c = this.bmp[cp];
      if (c !== 0) return c & ~KNOWN;
      const v = this.compute(cp);
      this.bmp[cp] = v | KNOWN;
      return v;
    }
    let v = this.astral.get(cp);
    if (v === undefined) {
      v = this.compute(cp);
      this.astral.set(cp, v);
    }
    return v;
  }

  private compute(cp: number): number {
    let v = isWhiteSpace(cp) ? WS : 0;
    if (this.spec.classes === 'unicode') {
      const s = String.fromCodePoint(cp);
      if (UNICODE_L.test(s)) v |= LETTER;
      if (UNICODE_N.test(s)) v |= DIGIT;
    } else {
      if ((cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f || (cp >= 0xc0 && cp <= 0xffff)) v |= LETTER;
      if (cp >= 0x30 && cp <= 0x39) v |= DIGIT;
    }
    return v;
  }

  /**
   * Appends chunk boundaries of text[start, end) to `out` as start/end pairs (the chunks tile
   * the range: every character belongs to some alternative of these patterns).
   */
  split(text: string, start: number, end: number, out: number[]): void {
    let p = start;
    while (p < end) {
      const e = this.matchAt(text, p, end);
      out.push(p, e);
      p = e;
    }
  }

  /** The chunks of `text` as strings. */
  pieces(text: string): string[] {
    const out: string[] = [];
    const end = text.length;
    let p = 0;
    while (p < end) {
      const e = this.matchAt(text, p, end);
      out.push(text.slice(p, e));
      p = e;
    }
    return out;
  }

  /** Code point at i (a lone surrogate is its own code point, as in a `u` regex). */
  private cpAt(s: string, i: number, end: number): number {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < end) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) return 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
    }
    return c;
  }

  /** End of the run of characters whose class has `bit`, starting at i, at most `max` characters. */
  private runEnd(s: string, i: number, end: number, bit: number, max = Infinity): number {
    let n = 0;
    while (i < end && n < max) {
      const c = s.charCodeAt(i);
      let cls: number;
      let w = 1;
      if (c < 0x80) {
        cls = this.bmp[c];
        if (cls === 0) cls = this.classOf(c);
        else cls &= ~KNOWN;
      } else {
        const cp = this.cpAt(s, i, end);
        cls = this.classOf(cp);
        w = cp > 0xffff ? 2 : 1;
      }
      if ((cls & bit) === 0) break;
      i += w;
      n++;
    }
    return i;
  }

  /** End of the run of "other" characters (not white space, letter or digit) from i. */
  private otherRunEnd(s: string, i: number, end: number): number {
    while (i < end) {
      const cp = this.cpAt(s, i, end);
      if (this.classOf(cp) !== 0) break;
      i += cp > 0xffff ? 2 : 1;
    }
    return i;
  }

  /** End of the match that starts at p (p < end). */
  private matchAt(s: string, p: number, end: number): number {
    const spec = this.spec;
    const c = s.charCodeAt(p);
    const cp = this.cpAt(s, p, end);
    const w = cp > 0xffff ? 2 : 1;
    const cls = this.classOf(cp);
    const hasNext = p + w < end;
    const nextCp = hasNext ? this.cpAt(s, p + w, end) : -1;
    const nextCls = hasNext ? this.classOf(nextCp) : -1;

    // 1. Contractions: 's 't 're 've 'm 'll 'd.
    if (c === 0x27 && hasNext) {
      let a = nextCp;
      if (spec.contractionsIgnoreCase && a >= 0x41 && a <= 0x5a) a += 32;
      if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return p + 2; // s t m d
      if (p + 2 < end && (a === 0x72 || a === 0x76 || a === 0x6c)) {
        let b = s.charCodeAt(p + 2);
        if (spec.contractionsIgnoreCase && b >= 0x41 && b <= 0x5a) b += 32;
        if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return p + 3; // re ve ll
      }
    }
    // 2. Letters, with an optional one-character prefix.
    if (spec.letterPrefixAnyOther) {
      // [^\r\n\p{L}\p{N}]?\p{L}+ — the optional prefix is tried first (greedy).
      if ((cls & (LETTER | DIGIT)) === 0 && c !== 0x0d && c !== 0x0a && nextCls >= 0 && (nextCls & LETTER) !== 0) {
        return this.runEnd(s, p + w, end, LETTER);
      }
    } else if (c === 0x20 && nextCls >= 0 && (nextCls & LETTER) !== 0) {
      return this.runEnd(s, p + 1, end, LETTER);
    }
    if ((cls & LETTER) !== 0) return this.runEnd(s, p, end, LETTER);
    // 3. Digits.
    if (spec.digitSpacePrefix && c === 0x20 && nextCls >= 0 && (nextCls & DIGIT) !== 0) {
      return this.runEnd(s, p + 1, end, DIGIT, spec.maxDigits);
    }
    if ((cls & DIGIT) !== 0) return this.runEnd(s, p, end, DIGIT, spec.maxDigits);
    // 4. Other characters, with an optional leading space, then (maybe) trailing newlines.
    let otherEnd = -1;
    if (c === 0x20 && nextCls === 0) otherEnd = this.otherRunEnd(s, p + 1, end);
    else if (cls === 0) otherEnd = this.otherRunEnd(s, p, end);
    if (otherEnd >= 0) {
      if (spec.otherTrailingNewlines) {
        while (otherEnd < end) {
          const d = s.charCodeAt(otherEnd);
          if (d !== 0x0d && d !== 0x0a) break;
          otherEnd++;
        }
      }
      return otherEnd;
    }
    // Only white space is left (every character is white space, letter, digit or other).
    const q = this.runEnd(s, p, end, WS);
    // 5. \s*[\r\n]+ : the white space up to and including its last \r or \n.
    if (spec.newlineRule) {
      for (let j = q - 1; j >= p; j--) {
        const d = s.charCodeAt(j);
        if (d === 0x0d || d === 0x0a) return j + 1;
      }
    }
    // 6. \s+(?!\S) : all of it at the end of the text, else all but the last character.
    if (q === end) return q;
    if (q - p >= 2) return q - 1; // white space characters are all in the BMP
    // 7. \s+
    return q;
  }
}
