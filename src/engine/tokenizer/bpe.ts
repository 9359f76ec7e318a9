// Byte-pair encoding of one pre-tokenizer chunk, on token ids: start from one token per byte,
// repeatedly merge the adjacent pair of lowest merge rank (leftmost first on ties) — the same
// order as the Rust `tokenizers` crate, hence the same ids.
// Cost: short chunks (the vast majority) use an O(n²) scan over a rank array that is faster than
// a heap at that size; long chunks use a binary heap over a linked list, O(n log n).

/**
 * (left id, right id) → (rank, merged id), open addressing in typed arrays: no allocation per
 * lookup and no 36-bit keys (which would leave V8's small-integer fast path).
 */
export class MergeTable {
  private readonly mask: number;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly ranks: Int32Array;
  private readonly merged: Int32Array;
  /** Number of distinct pairs. */
  size = 0;

  constructor(capacityHint: number) {
    let cap = 16;
    while (cap < capacityHint * 2) cap <<= 1;
    this.mask = cap - 1;
    this.left = new Int32Array(cap).fill(-1);
    this.right = new Int32Array(cap);
    this.ranks = new Int32Array(cap);
    this.merged = new Int32Array(cap);
  }

  private slot(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b ^ 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** Sets the pair's rank and result; a repeated pair takes the later rank, as the Rust crate does. */
  set(a: number, b: number, rank: number, merged: number): void {
    const mask = this.mask;
    for (let s = this.slot(a, b); ; s = (s + 1) & mask) {
      if (this.left[s] === -1) {
        this.left[s] = a;
        this.right[s] = b;
        this.ranks[s] = rank;
        this.merged[s] = merged;
        this.size++;
        return;
      }
      if (this.left[s] === a && this.right[s] === b) {
        this.ranks[s] = rank;
        this.merged[s] = merged;
        return;
      }
    }
  }

  /** Slot of the pair, or −1. Read rank/merged with `rankAt`/`mergedAt`. */
  find(a: number, b: number): number {
    const mask = this.mask;
    const left = this.left;
    for (let s = this.slot(a, b); ; s = (s + 1) & mask) {
      const l = left[s];
      if (l === -1) return -1;
      if (l === a && this.right[s] === b) return s;
    }
  }

  rankAt(slot: number): number {
    return this.ranks[slot];
  }

  mergedAt(slot: number): number {
    return this.merged[slot];
  }

  /** Rank of the pair, or NO_MERGE. */
  rank(a: number, b: number): number {
    const s = this.find(a, b);
    return s < 0 ? NO_MERGE : this.ranks[s];
  }
}

/** Rank of a pair that never merges. */
export const NO_MERGE = 0x7fffffff;

/** Chunks up to this many symbols use the quadratic scan. */
const SMALL = 48;

/**
 * Applies the merges to `symbols[0, n)` (token ids, one per byte initially) and appends the
 * result to `out`. `symbols` is used as scratch and must be an Int32Array of length ≥ n.
 */
export function applyMerges(table: MergeTable, symbols: Int32Array, n: number, out: number[]): void {
  if (n <= SMALL) {
    mergeSmall(table, symbols, n, out);
  } else {
    mergeLarge(table, symbols, n, out);
  }
}

const smallRanks = new Int32Array(SMALL);

function mergeSmall(table: MergeTable, sym: Int32Array, n: number, out: number[]): void {
  const ranks = smallRanks;
  for (let i = 0; i + 1 < n; i++) ranks[i] = table.rank(sym[i], sym[i + 1]);
  while (n > 1) {
    let best = NO_MERGE;
    let pos = -1;
    for (let i = 0; i + 1 < n; i++) {
      if (ranks[i] < best) {
        best = ranks[i];
        pos = i;
      }
    }
    if (pos < 0) break;
    sym[pos] = table.mergedAt(table.find(sym[pos], sym[pos + 1]));
    // Remove symbol pos+1 and rank pos+1 (the pair that started at the absorbed symbol).
    for (let i = pos + 1; i + 1 < n; i++) sym[i] = sym[i + 1];
    for (let i = pos + 1; i + 2 < n; i++) ranks[i] = ranks[i + 1];
    n--;
    if (pos > 0) ranks[pos - 1] = table.rank(sym[pos - 1], sym[pos]);
    if (pos + 1 < n) ranks[pos] = table.rank(sym[pos], sym[pos + 1]);
  }
  for (let i = 0; i < n; i++) out.push(sym[i]);
}

/** Heap keys pack (rank, position) into one double: rank · 2^32 + position, ordered as (rank, position). */
const POS_SPAN = 4294967296;

function mergeLarge(table: MergeTable, sym: Int32Array, n: number, out: number[]): void {
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const heap: number[] = [];
  const push = (key: number) => {
    let k = heap.length;
    heap.push(key);
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (heap[parent] <= key) break;
      heap[k] = heap[parent];
      k = parent;
    }
    heap[k] = key;
  };
  const pop = (): number => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      let k = 0;
      const size = heap.length;
      for (;;) {
        const l = 2 * k + 1;
        if (l >= size) break;
        const r = l + 1;
        const c = r < size && heap[r] < heap[l] ? r : l;
        if (heap[c] >= last) break;
        heap[k] = heap[c];
        k = c;
      }
      heap[k] = last;
    }
    return top;
  };
  for (let i = 0; i + 1 < n; i++) {
    const r = table.rank(sym[i], sym[i + 1]);
    if (r !== NO_MERGE) push(r * POS_SPAN + i);
  }
  while (heap.length > 0) {
    const key = pop();
    const rank = Math.floor(key / POS_SPAN);
    const pos = key - rank * POS_SPAN;
    if (!alive[pos]) continue;
    const nx = next[pos];
    if (nx < 0) continue;
    const slot = table.find(sym[pos], sym[nx]);
    // Stale entry: the pair here changed since it was queued (ranks are unique per pair).
    if (slot < 0 || table.rankAt(slot) !== rank) continue;
    sym[pos] = table.mergedAt(slot);
    alive[nx] = 0;
    const after = next[nx];
    next[pos] = after;
    if (after >= 0) prev[after] = pos;
    const before = prev[pos];
    if (before >= 0) {
      const r = table.rank(sym[before], sym[pos]);
      if (r !== NO_MERGE) push(r * POS_SPAN + before);
    }
    if (after >= 0) {
      const r = table.rank(sym[pos], sym[after]);
      if (r !== NO_MERGE) push(r * POS_SPAN + pos);
    }
  }
  for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
}
