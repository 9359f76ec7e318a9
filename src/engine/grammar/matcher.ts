// The per-request Matcher: a parser state (Earley row + lexer state) advanced byte by byte, and
// token masks computed by walking the vocabulary's flat trie depth-first, stepping the state along
// each edge and skipping a whole subtree as soon as its prefix dies.
import type { Matcher, MatcherSnapshot, TokenizerLike } from '../interfaces';
import type { CompiledGrammar } from './types';
import type { Row } from './earley';
import { GrammarRuntime, runtimeOf, type State, type RunSlot, type RunObj, type ByteList, type MaskEntry } from './runtime';
import { FlatTrie, flatTrieOf } from './vocab-trie';

/** Subtrees with at least this many tokens use the per-lexer-state cache. */
const HUB_TOKENS = 48;
/** Total cached token ids (all grammars' entries of one runtime) before the cache is dropped. */
const MASK_CACHE_LIMIT = 40_000_000;

/** Counters for benchmarks. */
export interface MatcherStats { masks: number; nodesVisited: number }

export class GrammarMatcher implements Matcher {
  private state: State;
  private readonly rt: GrammarRuntime;
  private readonly trie: FlatTrie;
  readonly stats: MatcherStats = { masks: 0, nodesVisited: 0 };
  // Walk stacks, reused between masks.

  constructor(readonly grammar: CompiledGrammar, private readonly tokenizer: TokenizerLike) {
    this.rt = runtimeOf(grammar);
    this.trie = flatTrieOf(tokenizer);
    this.state = this.rt.newInitialState();
  }

  private run(bytes: Uint8Array): State | null {
    return this.rt.feed(this.state, bytes);
  }

  /**
   * Full mask. Walks the trie depth-first from the current state; below a "hub" node (a subtree
   * with many tokens) reached in a state with no scanner run pending, it uses a cache keyed by
   * (lexer state, node): the tokens that stay inside the current lexeme (their fate depends on the
   * lexer state alone) and the nodes where the lexeme must end (only those depend on the parser).
   */
  computeMask(): Uint32Array {
    const mask = new Uint32Array((this.trie.vocabSize + 31) >>> 5);
    this.walk(0, this.state, mask);
    this.stats.masks++;
    return mask;
  }

  private setTokens(node: number, mask: Uint32Array): void {
    const { tokStart, tokens } = this.trie;
    for (let k = tokStart[node]; k < tokStart[node + 1]; k++) { const t = tokens[k]; mask[t >>> 5] |= 1 << (t & 31); }
  }

  /** Adds the tokens strictly below trie node `k`, given the parser state `S` at `k`. */
  private walk(k: number, S: State, mask: Uint32Array): void {
    const trie = this.trie;
    const { byte, next, tokStart } = trie;
    if (!S.fb && tokStart[next[k]] - tokStart[k] >= HUB_TOKENS) {
      const e = this.entry(S, k);
      const toks = e.tokens;
      for (let i = 0; i < toks.length; i++) { const t = toks[i]; mask[t >>> 5] |= 1 << (t & 31); }
      for (let i = 0; i < e.nodes.length; i++) {
        const j = e.nodes[i];
        const prev = this.restoreAt(S, k, trie.parent[j], e.lexes[i], e.runs[i]);
        const S2 = this.rt.step(prev, byte[j]);
        this.stats.nodesVisited++;
        if (!S2) continue;
        this.setTokens(j, mask);
        if (next[j] > j + 1) this.walk(j, S2, mask);
      }
      return;
    }
    for (let c = k + 1; c < next[k]; c = next[c]) {
      this.stats.nodesVisited++;
      const S2 = this.rt.step(S, byte[c]);
      if (!S2) continue;
      this.setTokens(c, mask);
      if (next[c] > c + 1) this.walk(c, S2, mask);
    }
  }

  /** The full state at node `p` (below k) from a cached row-independent state. */
  private restoreAt(S: State, k: number, p: number, lex: number, runs: (number | RunObj)[] | null): State {
    if (!runs) return { row: S.row, lex, ext: S.ext, runs: null };
    // runs consumed the bytes on the path k → p: rebuild their byte lists
    const path: number[] = [];
    for (let q = p; q !== k; q = this.trie.parent[q]) path.push(this.trie.byte[q]);
    const slots: RunSlot[] = [];
    for (let i = 0; i < runs.length; i += 2) {
      const orig = S.runs![runs[i] as number];
      let bytes: ByteList | null = orig.bytes;
      for (let q = path.length - 1; q >= 0; q--) bytes = { b: path[q], prev: bytes };
      slots.push({ run: runs[i + 1] as RunObj, row: orig.row, bytes });
    }
    return { row: S.row, lex, ext: S.ext, runs: slots };
  }

  /** Cached walk of node k's subtree from the row-independent part of state S. */
  private entry(S: State, k: number): MaskEntry {
    let key = `${S.lex}:${k}`;
    if (S.runs) for (const r of S.runs) key += `:${r.run.id}`;
    const cache = this.rt.maskCacheFor(this.trie);
    let e = cache.map.get(key);
    if (e) return e;
    const { byte, depth, next, tokStart, tokens } = this.trie;
    const lexer = this.rt.lexer;
    const toks: number[] = [];
    const nodes: number[] = [], lexes: number[] = [], runsAt: ((number | RunObj)[] | null)[] = [];
    const base = depth[k];
    const lexStack: number[] = [S.lex];
    // runs as [slot index, run] pairs per depth
    const runStack: ((number | RunObj)[] | null)[] = [S.runs ? S.runs.flatMap((r, i) => [i, r.run]) : null];
    let i = k + 1;
    const end = next[k];
    while (i < end) {
      const d = depth[i] - base;
      const l = lexStack[d - 1];
      const rs = runStack[d - 1];
      const b = byte[i];
      let boundary = false;
      let outRuns: (number | RunObj)[] | null = null;
      if (rs) {
        for (let q = 0; q < rs.length && !boundary; q += 2) {
          const x = this.rt.runStep(rs[q + 1] as RunObj, b);
          if (x === null) continue;
          if ('verdict' in x) { if (!outRuns || outRuns.length === 0) boundary = true; continue; }
          (outRuns ??= []).push(rs[q], x);
        }
      }
      let nl = -1;
      if (!boundary && l >= 0) {
        const t = lexer.step(l, b);
        if (t >= 0) {
          nl = t;
          // past a match into a non-match: backtracking may be needed (row-dependent)
          if (!lexer.isAccepting(t) && lexer.isAccepting(l) && !lexer.isStart(l)) boundary = true;
        } else if (t === -1 && !lexer.isStart(l)) boundary = true;
      }
      if (boundary) { nodes.push(i); lexes.push(l); runsAt.push(rs); i = next[i]; continue; }
      if (outRuns && outRuns.length === 0) outRuns = null;
      if (nl < 0 && !outRuns) { i = next[i]; continue; }
      lexStack[d] = nl;
      runStack[d] = outRuns;
      for (let q = tokStart[i]; q < tokStart[i + 1]; q++) toks.push(tokens[q]);
      i++;
    }
    e = { tokens: Int32Array.from(toks), nodes: Int32Array.from(nodes), lexes: Int32Array.from(lexes), runs: runsAt };
    cache.size += toks.length + nodes.length * 3;
    if (cache.size > MASK_CACHE_LIMIT) { cache.map.clear(); cache.size = 0; }
    cache.map.set(key, e);
    return e;
  }

  allows(token: number): boolean {
    if (token < 0 || token >= this.tokenizer.vocabSize || this.tokenizer.isSpecial(token)) return false;
    const bytes = this.tokenizer.tokenBytes(token);
    return bytes.length > 0 && this.run(bytes) !== null;
  }

  consume(token: number): boolean {
    if (token < 0 || token >= this.tokenizer.vocabSize || this.tokenizer.isSpecial(token)) return false;
    return this.consumeBytes(this.tokenizer.tokenBytes(token));
  }

  consumeBytes(bytes: Uint8Array): boolean {
    const s = this.run(bytes);
    if (!s) return false;
    this.state = s;
    return true;
  }

  /**
   * Longest viable prefix: consumes `bytes` up to the first byte that kills the prefix and returns
   * how many bytes were consumed (bytes.length when all were viable).
   */
  consumeViable(bytes: Uint8Array): number {
    let i = 0;
    for (; i < bytes.length; i++) {
      const s = this.run(bytes.subarray(i, i + 1));
      if (!s) return i;
      this.state = s;
    }
    return i;
  }

  snapshot(): MatcherSnapshot { return this.state; }
  restore(snapshot: MatcherSnapshot): void { this.state = snapshot as State; }

  isAccepting(): boolean { return this.rt.acceptsState(this.state); }

  acceptsSuffix(suffix: Uint8Array): boolean {
    const s = this.run(suffix);
    return s !== null && this.rt.acceptsState(s);
  }

  /** Number of lexemes consumed so far (Earley rows). */
  get lexemeCount(): number { return this.state.row.index; }
}

/**
 * Creates a matcher for one request. `trie` is accepted for the shared contract but the matcher
 * uses its own flat preorder trie built from `tokenizer` (cached per tokenizer), whose layout
 * lets the mask walk skip dead subtrees in O(1).
 */
export function createMatcher(grammar: CompiledGrammar, trie: unknown, tokenizer: TokenizerLike): GrammarMatcher {
  void trie;
  return new GrammarMatcher(grammar, tokenizer);
}
