// The vocabulary as one flat byte trie in preorder (llguidance's layout): node i's subtree is the
// index range [i, next[i]), so a walk that finds a dead prefix skips its whole subtree in O(1).
// Built once per tokenizer from `tokenBytes`; special tokens are left out (never masked in).
import type { TokenizerLike } from '../interfaces';

let nextTrieId = 1;

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
  }

  get nodeCount(): number { return this.byte.length; }
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
