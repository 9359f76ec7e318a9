// TokenTrie: every non-special token's bytes in one flat byte trie, laid out in depth-first
// pre-order in typed arrays (the llguidance TokTrie layout). The grammar mask walks it
// depth-first and skips a whole subtree when its lexer rejects a byte; healing asks for all
// tokens extending a byte string.

import type { TokenizerLike } from '../interfaces';

/**
 * A flat byte trie over token byte strings.
 *
 * Layout (all arrays have `nodeCount` entries; node 0 is the root, the empty string):
 * - Nodes are numbered in depth-first pre-order, children visited in increasing byte order.
 * - `labels[n]`: the byte on the edge into node n (0 for the root).
 * - `depths[n]`: n's depth = length of the byte string it spells (root 0).
 * - `tokenIds[n]`: the token whose bytes are exactly that string, or −1.
 * - `subtreeEnds[n]`: one past the last node of n's subtree, so n's subtree is
 *   [n, subtreeEnds[n]). Consequences:
 *   - first child of n is n + 1 when n + 1 < subtreeEnds[n] (else n is a leaf);
 *   - next sibling of c (a child of p) is subtreeEnds[c] when that is < subtreeEnds[p];
 *   - rejecting node n skips to subtreeEnds[n]; the node found there is a sibling of n or
 *     of one of its ancestors, and `depths` says how many levels were popped.
 *
 * A depth-first walk with a lexer state stack therefore looks like:
 * ```ts
 * const stack = [rootState];               // stack[d] = state after d bytes
 * for (let n = 1; n < trie.nodeCount; ) {
 *   const d = trie.depths[n];
 *   stack.length = d;                      // pop to the parent's state
 *   const s = step(stack[d - 1], trie.labels[n]);
 *   if (s === DEAD) { n = trie.subtreeEnds[n]; continue; }
 *   stack.push(s);
 *   if (trie.tokenIds[n] >= 0) allow(trie.tokenIds[n]);
 *   n++;
 * }
 * ```
 * Special tokens and empty tokens are not in the trie. If two ids spell the same bytes (never
 * the case for byte-level BPE vocabularies) the lower id is stored and the others are listed in
 * `shadowedTokens`.
 */
export class TokenTrie {
  /** Number of nodes, root included. */
  readonly nodeCount: number;
  /** Edge byte into each node (root: 0). */
  readonly labels: Uint8Array;
  /** Length of the byte string each node spells. */
  readonly depths: Uint16Array;
  /** Token id ending at each node, or −1. */
  readonly tokenIds: Int32Array;
  /** One past the last node of each node's subtree. */
  readonly subtreeEnds: Int32Array;
  /** `nodeOfToken[id]`: the node spelling token id, or −1 (special, empty, shadowed, or no such id). */
  readonly nodeOfToken: Int32Array;
  /** Ids left out because a lower id spells the same bytes. */
  readonly shadowedTokens: readonly number[];
  /** Number of tokens in the trie. */
  readonly tokenCount: number;

  private constructor(
    nodeCount: number,
    labels: Uint8Array,
    depths: Uint16Array,
    tokenIds: Int32Array,
    subtreeEnds: Int32Array,
    nodeOfToken: Int32Array,
    shadowed: number[],
    tokenCount: number,
  ) {
    this.nodeCount = nodeCount;
    this.labels = labels;
    this.depths = depths;
    this.tokenIds = tokenIds;
    this.subtreeEnds = subtreeEnds;
    this.nodeOfToken = nodeOfToken;
    this.shadowedTokens = shadowed;
    this.tokenCount = tokenCount;
  }

  /** @internal Wraps prebuilt arrays (the layout documented above). */
  static fromArrays(
    nodeCount: number,
    labels: Uint8Array,
    depths: Uint16Array,
    tokenIds: Int32Array,
    subtreeEnds: Int32Array,
    nodeOfToken: Int32Array,
    shadowed: number[],
    tokenCount: number,
  ): TokenTrie {
    return new TokenTrie(nodeCount, labels, depths, tokenIds, subtreeEnds, nodeOfToken, shadowed, tokenCount);
  }

  /** The trie of all non-special, non-empty tokens of a tokenizer. */
  static fromTokenizer(tokenizer: TokenizerLike): TokenTrie {
    const entries: Array<[number, Uint8Array]> = [];
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      if (tokenizer.isSpecial(id)) continue;
      entries.push([id, tokenizer.tokenBytes(id)]);
    }
    return TokenTrie.fromTokens(entries, tokenizer.vocabSize);
  }

  /**
   * The trie of the given (id, bytes) pairs. Empty byte strings are skipped. `vocabSize` sizes
   * `nodeOfToken` (default: largest id + 1). Cost: one native numeric sort plus O(total bytes);
   * the bytes are first packed into one buffer, because chasing 128k separate Uint8Arrays in
   * sorted (random) order costs more in cache misses than everything else together.
   */
  static fromTokens(tokens: Iterable<readonly [number, Uint8Array]>, vocabSize?: number): TokenTrie {
    const list = Array.isArray(tokens) ? (tokens as ReadonlyArray<readonly [number, Uint8Array]>) : [...tokens];
    let total = 0;
    let n = 0;
    let maxId = -1;
    for (let k = 0; k < list.length; k++) {
      const [id, bytes] = list[k];
      if (id > maxId) maxId = id;
      if (bytes.length === 0) continue;
      total += bytes.length;
      n++;
    }
    const buf = new Uint8Array(total);
    const off = new Int32Array(n + 1);
    const ids = new Int32Array(n);
    let o = 0;
    let k2 = 0;
    for (let k = 0; k < list.length; k++) {
      const [id, bytes] = list[k];
      if (bytes.length === 0) continue;
      buf.set(bytes, o);
      off[k2] = o;
      ids[k2++] = id;
      o += bytes.length;
    }
    off[n] = o;
    const order = sortByteStrings(buf, off);
    return buildPreorder(ids, buf, off, order, Math.max(vocabSize ?? 0, maxId + 1));
  }

  /** The child of `node` along byte `b`, or −1. Cost: O(number of children). */
  child(node: number, b: number): number {
    const end = this.subtreeEnds[node];
    const labels = this.labels;
    for (let c = node + 1; c < end; c = this.subtreeEnds[c]) {
      const l = labels[c];
      if (l === b) return c;
      if (l > b) return -1;
    }
    return -1;
  }

  /** The node spelling `bytes[start, end)`, or −1 if no token starts with those bytes. */
  nodeFor(bytes: Uint8Array, start = 0, end = bytes.length): number {
    let node = 0;
    for (let i = start; i < end && node >= 0; i++) node = this.child(node, bytes[i]);
    return node;
  }

  /** Id of the token spelling exactly `bytes`, or −1. */
  tokenId(bytes: Uint8Array): number {
    const node = this.nodeFor(bytes);
    return node < 0 ? -1 : this.tokenIds[node];
  }

  /**
   * All tokens whose bytes start with `prefix` (the prefix itself included when it is a token),
   * in byte-lexicographic order. An empty prefix yields every token. Cost: O(|prefix| · 256 +
   * subtree size).
   */
  tokensWithPrefix(prefix: Uint8Array): number[] {
    const node = this.nodeFor(prefix);
    if (node < 0) return [];
    const out: number[] = [];
    const end = this.subtreeEnds[node];
    const ids = this.tokenIds;
    for (let n = node; n < end; n++) if (ids[n] >= 0) out.push(ids[n]);
    return out;
  }

  /**
   * Tokens that are prefixes of `bytes[offset…]`, shortest first, as [id, length] pairs
   * (the candidates for the next token of an encoding that must spell `bytes`).
   */
  tokensAt(bytes: Uint8Array, offset = 0): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let node = 0;
    for (let i = offset; i < bytes.length; i++) {
      node = this.child(node, bytes[i]);
      if (node < 0) break;
      if (this.tokenIds[node] >= 0) out.push([this.tokenIds[node], i + 1 - offset]);
    }
    return out;
  }

  /** The longest token that is a prefix of `bytes[offset…]`, or null. */
  longestTokenAt(bytes: Uint8Array, offset = 0): { id: number; length: number } | null {
    let best: { id: number; length: number } | null = null;
    let node = 0;
    for (let i = offset; i < bytes.length; i++) {
      node = this.child(node, bytes[i]);
      if (node < 0) break;
      const id = this.tokenIds[node];
      if (id >= 0) best = { id, length: i + 1 - offset };
    }
    return best;
  }
}

/** Builds the pre-order arrays from packed byte strings in sorted order (see TokenTrie.fromTokens). */
function buildPreorder(ids: Int32Array, buf: Uint8Array, off: Int32Array, order: Int32Array, idSpace: number): TokenTrie {
  // A string shares exactly its longest common prefix with the previous one's path; everything
  // deeper is new, and everything deeper on the previous path is finished.
  const cap = buf.length + 1;
  const labels = new Uint8Array(cap);
  const depths = new Uint16Array(cap);
  const tokenIds = new Int32Array(cap).fill(-1);
  const subtreeEnds = new Int32Array(cap);
  const nodeOfToken = new Int32Array(idSpace).fill(-1);
  const path = new Int32Array(65537); // path[d]: node at depth d on the current string's path
  const shadowed: number[] = [];
  let count = 1;
  let tokenCount = 0;
  let prevStart = 0;
  let prevLen = 0;
  for (let k = 0; k < order.length; k++) {
    const j = order[k];
    const start = off[j];
    const len = off[j + 1] - start;
    if (len > 0xffff) throw new RangeError('token longer than 65535 bytes');
    let lcp = 0;
    const lim = prevLen < len ? prevLen : len;
    while (lcp < lim && buf[prevStart + lcp] === buf[start + lcp]) lcp++;
    for (let d = prevLen; d > lcp; d--) subtreeEnds[path[d]] = count;
    for (let d = lcp + 1; d <= len; d++) {
      labels[count] = buf[start + d - 1];
      depths[count] = d;
      path[d] = count++;
    }
    const node = path[len];
    const id = ids[j];
    const old = tokenIds[node];
    if (old < 0) {
      tokenIds[node] = id;
      nodeOfToken[id] = node;
      tokenCount++;
    } else if (id < old) {
      tokenIds[node] = id;
      nodeOfToken[id] = node;
      nodeOfToken[old] = -1;
      shadowed.push(old);
    } else {
      shadowed.push(id);
    }
    prevStart = start;
    prevLen = len;
  }
  for (let d = prevLen; d >= 0; d--) subtreeEnds[path[d]] = count;
  return TokenTrie.fromArrays(
    count,
    labels.slice(0, count),
    depths.slice(0, count),
    tokenIds.slice(0, count),
    subtreeEnds.slice(0, count),
    nodeOfToken,
    shadowed.sort((a, b) => a - b),
    tokenCount,
  );
}

/** Byte-lexicographic comparison of packed strings i and j from byte `from` on (a proper prefix sorts first). */
function comparePacked(buf: Uint8Array, off: Int32Array, i: number, j: number, from: number): number {
  const a = off[i];
  const b = off[j];
  const la = off[i + 1] - a;
  const lb = off[j + 1] - b;
  const n = la < lb ? la : lb;
  for (let k = from; k < n; k++) {
    const d = buf[a + k] - buf[b + k];
    if (d !== 0) return d;
  }
  return la - lb;
}

/** The 4 bytes at `depth` of packed string i, zero-padded, as an unsigned 32-bit number. */
function key4(buf: Uint8Array, off: Int32Array, i: number, depth: number): number {
  const a = off[i] + depth;
  const len = off[i + 1] - a;
  return (((len > 0 ? buf[a] : 0) << 24) | ((len > 1 ? buf[a + 1] : 0) << 16) | ((len > 2 ? buf[a + 2] : 0) << 8) | (len > 3 ? buf[a + 3] : 0)) >>> 0;
}

/**
 * Indices of the packed strings in byte-lexicographic order: an MSD radix sort on 4-byte digits,
 * each pass a native Float64Array sort of (digit · 2^21 + index) keys; small groups finish with
 * insertion sort. Zero padding is sound: within a group of equal padded digits, a string that
 * ends early is a prefix of the others, and prefixes sort first (by length).
 */
function sortByteStrings(buf: Uint8Array, off: Int32Array): Int32Array {
  const n = off.length - 1;
  if (n >= 2097152) throw new RangeError('too many tokens for the trie (≥ 2^21)');
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const digit = new Uint32Array(n); // digit of order[k] at the current depth, by string index
  // Work list of groups [lo, hi) sharing their first `depth` bytes.
  const stack: number[] = [0, n, 0];
  while (stack.length > 0) {
    const depth = stack.pop()!;
    const hi = stack.pop()!;
    const lo = stack.pop()!;
    const size = hi - lo;
    if (size <= 32) {
      for (let a = lo + 1; a < hi; a++) {
        const x = order[a];
        let b = a - 1;
        while (b >= lo && comparePacked(buf, off, order[b], x, depth) > 0) {
          order[b + 1] = order[b];
          b--;
        }
        order[b + 1] = x;
      }
      continue;
    }
    let anyLonger = false;
    const keys = new Float64Array(size);
    for (let k = 0; k < size; k++) {
      const i = order[lo + k];
      const d = key4(buf, off, i, depth);
      digit[i] = d;
      if (off[i + 1] - off[i] > depth + 4) anyLonger = true;
      // Ties on the digit fall back to the string's length (prefixes first), then its index.
      keys[k] = d * 2097152 + i;
    }
    keys.sort();
    for (let k = 0; k < size; k++) order[lo + k] = keys[k] % 2097152;
    // Within equal digits, strings that end inside this digit come first, shortest first.
    for (let g = lo; g < hi; ) {
      const d = digit[order[g]];
      let h = g + 1;
      while (h < hi && digit[order[h]] === d) h++;
      if (h - g > 1) {
        if (anyLonger) stack.push(g, h, depth + 4);
        else {
          // Everything ends within this digit: order by length only.
          const run = Array.from(order.subarray(g, h)).sort((x, y) => off[x + 1] - off[x] - (off[y + 1] - off[y]) || x - y);
          order.set(run, g);
        }
      }
      g = h;
    }
  }
  return order;
}
