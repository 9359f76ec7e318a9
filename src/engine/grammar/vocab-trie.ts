// The vocabulary as one flat byte trie in preorder (llguidance's layout): node i's subtree is the
// index range [i, next[i]), so a walk that finds a dead prefix skips its whole subtree in O(1).
// Built once per tokenizer from `tokenBytes`; special tokens are left out (never masked in).
import type { TokenizerLike } from '../interfaces';

let nextTrieId = 1;

/** Subtrees with at least this many tokens have their byte set summarized (see FlatTrie.below). */
const SUMMARY_TOKENS = 32;

export class FlatTrie {
  /** Identity for cache keys. */
  readonly id = nextTrieId++;
  /** Edge byte into node i (node 0 is the root). */
  readonly byte: Uint8Array;
  /** Depth of node i (root 0). */
  readonly depth: Uint16Array;
  /** Parent of node i (-1 for the root). */
  readonly parent: Int32Array;
  /** First node after node i's subtree. */
  readonly next: Int32Array;
  /** Tokens ending at node i: tokens[tokStart[i] .. tokStart[i+1]). */
  readonly tokStart: Int32Array;
  readonly tokens: Int32Array;
  readonly maxDepth: number;
  readonly vocabSize: number;
  /**
   * The bytes on the edges strictly below node i, as 256 bits at `belowBits[8 * below[i]]`, for
   * the nodes with at least SUMMARY_TOKENS tokens below them (else -1): a walk whose state loops
   * on every one of them keeps the whole subtree without visiting it.
   */
  readonly below: Int32Array;
  readonly belowBits: Uint32Array;
  /**
   * Per summary (see `below`): where every path below node i is well-formed UTF-8 (cut
   * anywhere) from the token's start, the decoder state at i (see utf8Next: 0 at a character's
   * end); else -1.
   */
  readonly belowUtf8: Int8Array;

  constructor(entries: { id: number; bytes: Uint8Array }[], vocabSize: number) {
    this.vocabSize = vocabSize;
    const sorted = entries.filter((e) => e.bytes.length > 0).sort((a, b) => cmp(a.bytes, b.bytes));
    const byte: number[] = [0];
    const depth: number[] = [0];
    const next: number[] = [0];
    const tokOf: number[][] = [[]];
    const path: number[] = [0]; // node index at each depth of the current path
    let prev: Uint8Array = new Uint8Array(0);
    let maxDepth = 0;
    for (const e of sorted) {
      let common = 0;
      while (common < prev.length && common < e.bytes.length && prev[common] === e.bytes[common]) common++;
      // close nodes deeper than the common prefix
      for (let d = path.length - 1; d > common; d--) next[path[d]] = byte.length;
      path.length = common + 1;
      for (let d = common; d < e.bytes.length; d++) {
        const id = byte.length;
        byte.push(e.bytes[d]); depth.push(d + 1); next.push(0); tokOf.push([]);
        path.push(id);
      }
      tokOf[path[e.bytes.length]].push(e.id);
      maxDepth = Math.max(maxDepth, e.bytes.length);
      prev = e.bytes;
    }
    for (let d = path.length - 1; d >= 0; d--) next[path[d]] = byte.length;
    this.byte = Uint8Array.from(byte);
    this.depth = Uint16Array.from(depth);
    this.next = Int32Array.from(next);
    this.parent = new Int32Array(byte.length).fill(-1);
    {
      const stack: number[] = [];
      for (let i = 0; i < byte.length; i++) {
        while (stack.length && this.next[stack[stack.length - 1]] <= i) stack.pop();
        if (stack.length) this.parent[i] = stack[stack.length - 1];
        stack.push(i);
      }
    }
    this.tokStart = new Int32Array(byte.length + 1);
    const toks: number[] = [];
    for (let i = 0; i < byte.length; i++) { this.tokStart[i] = toks.length; toks.push(...tokOf[i]); }
    this.tokStart[byte.length] = toks.length;
    this.tokens = Int32Array.from(toks);
    this.maxDepth = maxDepth;
    // byte sets below each node, children first (reverse preorder); kept for large subtrees
    const n = byte.length;
    const all = new Uint32Array(n * 8);
    for (let i = n - 1; i > 0; i--) {
      const p = this.parent[i], b = this.byte[i];
      all[p * 8 + (b >>> 5)] |= 1 << (b & 31);
      for (let w = 0; w < 8; w++) all[p * 8 + w] |= all[i * 8 + w];
    }
    this.below = new Int32Array(n).fill(-1);
    let slots = 0;
    for (let i = 0; i < n; i++) if (this.tokStart[this.next[i]] - this.tokStart[i + 1] >= SUMMARY_TOKENS) this.below[i] = slots++;
    this.belowBits = new Uint32Array(slots * 8);
    for (let i = 0; i < n; i++) if (this.below[i] >= 0) this.belowBits.set(all.subarray(i * 8, i * 8 + 8), this.below[i] * 8);
    // UTF-8 decoder state after each node's path (preorder: parents first), then whether the
    // paths below stay well-formed (children first)
    const u8 = new Int8Array(n);
    for (let i = 1; i < n; i++) { const p = this.parent[i]; u8[i] = u8[p] < 0 ? -1 : utf8Next(u8[p], this.byte[i]); }
    const ok = new Uint8Array(n).fill(1);
    for (let i = n - 1; i > 0; i--) if (u8[i] < 0 || !ok[i]) ok[this.parent[i]] = 0;
    this.belowUtf8 = new Int8Array(slots);
    for (let i = 0; i < n; i++) if (this.below[i] >= 0) this.belowUtf8[this.below[i]] = u8[i] >= 0 && ok[i] ? u8[i] : -1;
  }

  get nodeCount(): number { return this.byte.length; }
}

/**
 * A UTF-8 decoder's state after byte b (RFC 3629's well-formed sequences): 0 at a character's
 * end; 1, 2, 3: that many continuation bytes (80–BF) to come; 4 (after E0): A0–BF then one;
 * 5 (ED): 80–9F then one; 6 (F0): 90–BF then two; 7 (F4): 80–8F then two; -1: ill-formed.
 */
export function utf8Next(state: number, b: number): number {
  switch (state) {
    case 0:
      if (b < 0x80) return 0;
      if (b >= 0xc2 && b <= 0xdf) return 1;
      if (b === 0xe0) return 4;
      if (b === 0xed) return 5;
      if (b >= 0xe1 && b <= 0xef) return 2;
      if (b === 0xf0) return 6;
      if (b >= 0xf1 && b <= 0xf3) return 3;
      if (b === 0xf4) return 7;
      return -1;
    case 1: case 2: case 3: return b >= 0x80 && b <= 0xbf ? state - 1 : -1;
    case 4: return b >= 0xa0 && b <= 0xbf ? 1 : -1;
    case 5: return b >= 0x80 && b <= 0x9f ? 1 : -1;
    case 6: return b >= 0x90 && b <= 0xbf ? 2 : -1;
    case 7: return b >= 0x80 && b <= 0x8f ? 2 : -1;
    default: return -1;
  }
}

function cmp(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const cache = new WeakMap<TokenizerLike, FlatTrie>();

/** The flat trie of a tokenizer's non-special tokens (built once per tokenizer object). */
export function flatTrieOf(tokenizer: TokenizerLike): FlatTrie {
  let t = cache.get(tokenizer);
  if (!t) {
    const entries: { id: number; bytes: Uint8Array }[] = [];
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      if (tokenizer.isSpecial(id)) continue;
      entries.push({ id, bytes: tokenizer.tokenBytes(id) });
    }
    t = new FlatTrie(entries, tokenizer.vocabSize);
    cache.set(tokenizer, t);
  }
  return t;
}
