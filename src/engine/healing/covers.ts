// Cover encodings of a prompt tail (algorithms.md §4, Phan et al. 2024): where the shared part
// of a prompt ends (a pre-tokenizer boundary no continuation can move), the canonical encodings
// of the tail's left parts, and whether a candidate cover can occur in a canonical encoding.
//
// "Canonical" for a cover needs care, because its last token runs past the cursor into text the
// tokenizer has not seen: the pre-tokenizer looks ahead (`\s+(?!\S)`, `\s*[\r\n]+`, `'ll`), so
// the encoding of `y` alone can differ from the encoding of `y` inside a longer text even though
// the latter is what the model was trained on. A cover `c` spelling `y` is therefore valid when
// `c` is a prefix of the canonical encoding of `y·z` for SOME continuation `z`; we try the empty
// continuation and a set of probe continuations, one per class of the pre-tokenizer regex.
// Keeping an invalid cover only leaks a little probability; dropping a valid one breaks
// exactness, so every test here errs on the side of keeping.
import type { TokenizerLike } from '../interfaces';
import type { PrefixIndex } from './prefix-index';

/**
 * Continuations tried when deciding whether a boundary is stable or a cover valid: one per
 * class of the usual code pre-tokenizer regexes (letters, digits, punctuation, each kind of
 * whitespace, contractions, non-ASCII).
 */
export const DEFAULT_PROBES: readonly string[] = [
  ' ', '\n', 'a', 'A', '_', '0', '.', '(', ')', ':', '"', "'", ' a', ' 0', ' (', '  ', '\t', "'s", "'ll", '\r\n',
  ' \n', '\n\n', '\u00e9', ' \u00e9', '\u4e00', 'l', 'e', 's',
];

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function key(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const isWordByte = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;

/**
 * Bytes after which no continuation can move a pre-tokenizer boundary inside them, for the
 * regex family of byte-level BPE tokenizers (GPT-2, cl100k, Llama-3, Qwen, StarCoder, Trellis):
 * their only look-ahead is in whitespace runs (`\s+(?!\S)`, `\s*[\r\n]+`), contractions (`'ll`)
 * and characters cut by a byte offset; a text ending in an ASCII word byte, with no apostrophe
 * just before, ends inside a greedy word/number chunk that a continuation can only extend.
 * Lets validity skip the probes in the common case (an identifier being typed).
 */
function wordFinal(bytes: Uint8Array): boolean {
  const n = bytes.length;
  if (n === 0 || !isWordByte(bytes[n - 1]!)) return false;
  for (let i = Math.max(0, n - 3); i < n; i++) if (bytes[i] === 0x27) return false;
  return true;
}

function startsWithIds(ids: readonly number[], prefix: readonly number[]): boolean {
  if (ids.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (ids[i] !== prefix[i]) return false;
  return true;
}

/** Options shared by the healers and the byte-level scorer. */
export interface CoverOptions {
  /** Probe continuations (strings; UTF-8 encoded). Default: DEFAULT_PROBES. */
  probes?: readonly string[];
  /** Longest tail healed, in bytes; a longer last chunk is cut at a token boundary. Default 48. */
  maxTailBytes?: number;
}

/** A candidate cover of a tail: `left` spells tail[0, start), `last`'s bytes start with tail[start, …). */
export interface CoverCandidate {
  left: readonly number[];
  /** Index of `left` in the list of distinct left parts (the scoring row), −1 for the empty left. */
  leftIndex: number;
  last: number;
  /** Byte offset in the tail where `last` starts. */
  start: number;
}

/**
 * Canonical-encoding oracle around a tokenizer: cached encodings, pre-tokenizer boundaries,
 * stable tail starts, left parts and the validity test for covers.
 */
export class Canonicalizer {
  readonly probes: readonly Uint8Array[];
  readonly maxTailBytes: number;
  private readonly cache = new Map<string, number[]>();
  private readonly boundaryCache = new Map<string, number[]>();

  constructor(
    readonly tokenizer: TokenizerLike,
    readonly index: PrefixIndex,
    options: CoverOptions = {},
  ) {
    const enc = new TextEncoder();
    this.probes = (options.probes ?? DEFAULT_PROBES).filter((p) => p.length > 0).map((p) => enc.encode(p));
    this.maxTailBytes = options.maxTailBytes ?? 48;
  }

  /** Canonical encoding (cached; callers must not mutate the result). */
  encode(bytes: Uint8Array): number[] {
    const k = key(bytes);
    let ids = this.cache.get(k);
    if (!ids) {
      if (this.cache.size > 100_000) this.cache.clear();
      ids = this.tokenizer.encodeBytes(bytes);
      this.cache.set(k, ids);
    }
    return ids;
  }

  /** Pre-tokenizer boundaries (cached; callers must not mutate the result). */
  boundaries(bytes: Uint8Array): number[] {
    const k = key(bytes);
    let b = this.boundaryCache.get(k);
    if (!b) {
      if (this.boundaryCache.size > 100_000) this.boundaryCache.clear();
      b = this.tokenizer.preTokenizeBoundaries(bytes);
      this.boundaryCache.set(k, b);
    }
    return b;
  }

  /**
   * Whether `ids` (which spell exactly `bytes`) can begin a canonical encoding: the encoding of
   * `bytes` alone, or of `bytes` followed by one of the probes, starts with `ids`.
   *
   * A probe is only encoded when it changes the pre-tokenizer boundaries inside `bytes`: with
   * the same boundaries, the chunks are the same except the last one, which only grows, and BPE
   * is prefix-stable (a token-boundary prefix of BPE(w) is BPE of that prefix), so the probe
   * cannot succeed where `bytes` alone failed.
   */
  isValidPrefix(bytes: Uint8Array, ids: readonly number[]): boolean {
    if (startsWithIds(this.encode(bytes), ids)) return true;
    if (wordFinal(bytes)) return false;
    const own = this.boundaries(bytes);
    const n = bytes.length;
    for (const p of this.probes) {
      const withProbe = concat(bytes, p);
      const theirs = this.boundaries(withProbe);
      let same = true;
      let k = 0;
      for (const b of theirs) {
        if (b >= n) break;
        if (own[k++] !== b) {
          same = false;
          break;
        }
      }
      if (same && own[k] !== n) same = false;
      if (same) continue;
      if (startsWithIds(this.encode(withProbe), ids)) return true;
    }
    return false;
  }

  /** True when `ids` is exactly the canonical encoding of `bytes` (the text may end right here). */
  isCanonical(bytes: Uint8Array, ids: readonly number[]): boolean {
    const e = this.encode(bytes);
    return e.length === ids.length && startsWithIds(e, ids);
  }

  /**
   * Where the healed tail of `text` starts: the last pre-tokenizer boundary before the end that
   * stays a boundary (with the same boundaries before it) whatever follows, so the encoding of
   * everything before it is shared by all covers. Never splits a UTF-8 character. A last chunk
   * longer than `maxTailBytes` is cut at a boundary of its canonical encoding instead (an
   * approximation: BPE could re-merge across it).
   */
  tailStart(text: Uint8Array): number {
    const n = text.length;
    if (n === 0) return 0;
    // Pre-tokenize a window only: chunks far before the end do not depend on the end.
    let w0 = Math.max(0, n - this.maxTailBytes - 80);
    while (w0 > 0 && w0 < n && (text[w0]! & 0xc0) === 0x80) w0--;
    const win = text.subarray(w0);
    const bounds = this.tokenizer.preTokenizeBoundaries(win);
    const probeBounds = this.probes.map((p) => this.tokenizer.preTokenizeBoundaries(concat(win, p)));
    const upTo = (bs: readonly number[], b: number): number[] => bs.filter((x) => x <= b);
    let tries = 0;
    for (let k = bounds.length - 1; k >= 0 && tries < 8; k--) {
      const b = bounds[k]!;
      if (b >= win.length) continue;
      if (w0 > 0 && b === 0) break;
      tries++;
      const mine = upTo(bounds, b);
      const stable = probeBounds.every((pb) => {
        const theirs = upTo(pb, b);
        return theirs.length === mine.length && theirs.every((x, i) => x === mine[i]);
      });
      if (!stable) continue;
      if (win.length - b <= this.maxTailBytes) return w0 + b;
      break;
    }
    // Fallback: the last chunk (or unstable run) is too long; cut its canonical encoding at the
    // last token boundary that leaves at most maxTailBytes, on a character boundary.
    const lastChunk = bounds.length >= 2 ? bounds[bounds.length - 2]! : 0;
    const chunk = win.subarray(lastChunk);
    let pos = 0;
    let cut = 0;
    for (const id of this.encode(chunk)) {
      if (chunk.length - pos <= this.maxTailBytes && (chunk[pos]! & 0xc0) !== 0x80) {
        cut = pos;
        break;
      }
      pos += this.index.bytesOf[id]!.length;
      cut = pos;
    }
    if (cut >= chunk.length) cut = chunk.length - 1;
    while (cut > 0 && (chunk[cut]! & 0xc0) === 0x80) cut--;
    return w0 + lastChunk + cut;
  }

  /**
   * Distinct left parts of a tail: for each split point 0 < i < tail.length, the canonical
   * encoding of tail[0, i) alone, and any other encoding of it that starts the canonical
   * encoding of `tail·probe` (the pre-tokenizer may chunk a prefix differently in context).
   * Returns lefts[i] = list of token sequences spelling tail[0, i).
   */
  leftParts(tail: Uint8Array): number[][][] {
    const m = tail.length;
    const lefts: number[][][] = Array.from({ length: m }, () => []);
    const seen: Set<string>[] = Array.from({ length: m }, () => new Set());
    const add = (i: number, ids: number[]): void => {
      const k = ids.join(',');
      if (seen[i]!.has(k)) return;
      seen[i]!.add(k);
      lefts[i]!.push(ids);
    };
    for (let i = 1; i < m; i++) {
      // A split inside a UTF-8 character: the tokenizer may not round-trip the partial bytes.
      const part = tail.subarray(0, i);
      const ids = this.encode(part);
      if (bytesEqual(this.tokenizer.decodeBytes(ids), part)) add(i, ids.slice());
    }
    for (const z of [new Uint8Array(0), ...this.probes]) {
      const e = this.encode(concat(tail, z));
      let pos = 0;
      for (let k = 0; k < e.length; k++) {
        pos += this.index.bytesOf[e[k]!]!.length;
        if (pos >= m) break;
        add(pos, e.slice(0, k + 1));
      }
    }
    return lefts;
  }

  /**
   * Every candidate cover of `tail` (validity not yet checked): for each split point i and each
   * left part of tail[0, i), every token whose bytes start with tail[i, …). Also returns the
   * distinct non-empty left parts (the rows to score), in the order `leftIndex` refers to.
   */
  candidates(tail: Uint8Array): { lefts: number[][]; covers: CoverCandidate[] } {
    const m = tail.length;
    const byI = this.leftParts(tail);
    const lefts: number[][] = [];
    const covers: CoverCandidate[] = [];
    for (let i = 0; i < m; i++) {
      const lastIds = this.index.tokensWithPrefix(tail.subarray(i));
      const partsHere: { ids: number[]; index: number }[] =
        i === 0 ? [{ ids: [], index: -1 }] : byI[i]!.map((ids) => ({ ids, index: lefts.push(ids) - 1 }));
      for (const { ids, index } of partsHere) {
        for (let k = 0; k < lastIds.length; k++) covers.push({ left: ids, leftIndex: index, last: lastIds[k]!, start: i });
      }
    }
    return { lefts, covers };
  }

  /** Bytes a cover spells: tail[0, start) followed by its last token. */
  coverBytes(tail: Uint8Array, c: CoverCandidate): Uint8Array {
    return concat(tail.subarray(0, c.start), this.index.bytesOf[c.last]!);
  }

  /** Cheap sufficient test: the cover's bytes alone encode to a sequence starting with the cover. */
  isCanonicalStart(tail: Uint8Array, c: CoverCandidate): boolean {
    return startsWithIds(this.encode(this.coverBytes(tail, c)), [...c.left, c.last]);
  }

  /** Whether a candidate cover can begin a canonical encoding of some text starting with the tail. */
  isValidCover(tail: Uint8Array, c: CoverCandidate): boolean {
    return this.isValidPrefix(this.coverBytes(tail, c), [...c.left, c.last]);
  }
}
