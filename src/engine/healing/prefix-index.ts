// Which tokens' bytes start with a given byte string: the one question healing asks of the
// vocabulary. A sorted array of token byte strings answers it with two binary searches, so
// healing does not depend on the shape of the grammar's TokenTrie.
import type { TokenizerLike } from '../interfaces';

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** True when `bytes` starts with `prefix`. */
export function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** All non-special, non-empty tokens sorted by their bytes. Build: O(V log V); query: O(log V + k). */
export class PrefixIndex {
  private readonly ids: Int32Array;
  private readonly spelled: Uint8Array[];
  /** Bytes of every token id (special tokens included: their literal spelling). */
  readonly bytesOf: readonly Uint8Array[];

  constructor(tokenizer: TokenizerLike) {
    const bytesOf: Uint8Array[] = [];
    const keep: number[] = [];
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      const b = tokenizer.tokenBytes(id);
      bytesOf.push(b);
      if (!tokenizer.isSpecial(id) && b.length > 0) keep.push(id);
    }
    keep.sort((x, y) => compareBytes(bytesOf[x]!, bytesOf[y]!) || x - y);
    this.ids = Int32Array.from(keep);
    this.spelled = keep.map((id) => bytesOf[id]!);
    this.bytesOf = bytesOf;
  }

  /** Ids of the tokens whose bytes start with `prefix` (the whole vocabulary for an empty prefix), in byte order. */
  tokensWithPrefix(prefix: Uint8Array): Int32Array {
    // First index whose bytes are ≥ prefix; the matches follow contiguously.
    let lo = 0;
    let hi = this.spelled.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareBytes(this.spelled[mid]!, prefix) < 0) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    let hi2 = this.spelled.length;
    // Last match: binary search on "starts with prefix" (true on a contiguous run from lo).
    while (end < hi2) {
      const mid = (end + hi2) >> 1;
      if (startsWith(this.spelled[mid]!, prefix)) end = mid + 1;
      else hi2 = mid;
    }
    return this.ids.subarray(lo, end);
  }
}
