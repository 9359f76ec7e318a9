// The inline-completion cache: the last few completions, found again when the same position is
// asked twice or when the user types characters that the shown suggestion already contains
// (typing "ret" into ghost text "return x" reuses it as "urn x" without a new generation).
// Plain TypeScript with no `vscode` import, so it is unit-tested in node.

/** One finished completion, anchored where its text starts in the document. */
export interface CacheEntry {
  /** Document identity (uri) plus the options that shaped the completion. */
  key: string;
  /** UTF-16 offset in the document where `text` starts (cursor − respelledChars at request time). */
  baseOffset: number;
  /** The characters just before `baseOffset`, to check the anchor still holds. */
  baseTail: string;
  /** The first characters after the cursor at request time: a different suffix is a miss. */
  suffixHead: string;
  /** Text that starts at `baseOffset` (already shaped: single/multi-line, trimmed). */
  text: string;
}

/** What a cache hit means at the current cursor: insert `text` there. */
export interface CacheHit {
  text: string;
  entry: CacheEntry;
}

/** How many characters around the anchor are compared. */
export const TAIL_CHARS = 256;
export const SUFFIX_CHARS = 256;

/** A small LRU list; a linear scan is cheaper than hashing at these sizes (≤ 64 entries). */
export class CompletionCache {
  private entries: CacheEntry[] = [];

  constructor(readonly capacity = 32) {}

  get size(): number {
    return this.entries.length;
  }

  /**
   * Stores a completion made with `prefix` before and `suffix` after the cursor, where `text`
   * replaces the last `respelledChars` characters of `prefix` (healing) and continues from there.
   */
  put(key: string, prefix: string, suffix: string, respelledChars: number, text: string): CacheEntry {
    const baseOffset = prefix.length - respelledChars;
    const entry: CacheEntry = {
      key,
      baseOffset,
      baseTail: prefix.slice(Math.max(0, baseOffset - TAIL_CHARS), baseOffset),
      suffixHead: suffix.slice(0, SUFFIX_CHARS),
      text,
    };
    this.entries = [entry, ...this.entries.filter((e) => !sameAnchor(e, entry) || e.text !== text)];
    if (this.entries.length > this.capacity) this.entries.length = this.capacity;
    return entry;
  }

  /**
   * Finds a completion that still applies with `prefix` before and `suffix` after the cursor:
   * same key and anchor, same suffix, and everything typed since the anchor is the start of the
   * stored text. Returns the part still to insert (never empty), and marks the entry recent.
   */
  get(key: string, prefix: string, suffix: string): CacheHit | undefined {
    const head = suffix.slice(0, SUFFIX_CHARS);
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e.key !== key || e.suffixHead !== head || prefix.length < e.baseOffset) continue;
      if (prefix.slice(Math.max(0, e.baseOffset - TAIL_CHARS), e.baseOffset) !== e.baseTail) continue;
      const typed = prefix.slice(e.baseOffset);
      if (typed.length >= e.text.length || !e.text.startsWith(typed)) continue;
      this.entries.splice(i, 1);
      this.entries.unshift(e);
      return { text: e.text.slice(typed.length), entry: e };
    }
    return undefined;
  }

  clear(): void {
    this.entries = [];
  }
}

function sameAnchor(a: CacheEntry, b: CacheEntry): boolean {
  return a.key === b.key && a.baseOffset === b.baseOffset && a.baseTail === b.baseTail && a.suffixHead === b.suffixHead;
}
