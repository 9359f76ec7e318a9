// The per-request Matcher: a parser state (Earley row + lexer state) advanced byte by byte, and
// token masks computed by walking the vocabulary's flat trie depth-first, stepping the state along
// each edge and skipping a whole subtree as soon as its prefix dies.
import type { Matcher, MatcherSnapshot, TokenizerLike } from '../interfaces';
import type { CompiledGrammar } from './types';
import type { Row } from './earley';
import { GrammarRuntime, runtimeOf, type State, type RunSlot, type RunObj, type ByteList, type MaskEntry, type MaskCache, type Fallback } from './runtime';
import { FlatTrie, flatTrieOf } from './vocab-trie';

/** Subtrees with at least this many tokens use the per-lexer-state cache. */
const HUB_TOKENS = 48;
/** `runSetStep` result: a scanner run decides here (a lexeme boundary). */
const RUNS_VERDICT = -3;
/** Entries with at least this many tokens also keep them as a bitset (ORed a word at a time). */
const BITS_MIN_TOKENS = 4096;
/** Total cached token ids (all grammars' entries of one runtime) before the cache is dropped. */
const MASK_CACHE_LIMIT = 16_000_000;

/** Counters for benchmarks. */
export interface MatcherStats { masks: number; maskHits: number; nodesVisited: number }

export class GrammarMatcher implements Matcher {
  private state: State;
  private readonly rt: GrammarRuntime;
  private readonly trie: FlatTrie;
  readonly stats: MatcherStats = { masks: 0, maskHits: 0, nodesVisited: 0 };
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
    this.stats.masks++;
    const memo = this.rt.maskMemo;
    const key = this.stateKey(this.state);
    const hit = memo.get('M' + key) as Uint32Array | undefined;
    if (hit) { this.stats.maskHits++; return hit.slice(); }
    const mask = new Uint32Array((this.trie.vocabSize + 31) >>> 5);
    this.walk(0, this.state, mask);
    this.rt.memoize('M' + key, mask.slice(), mask.length);
    return mask;
  }

  /**
   * Exact cache key of a parser state for this vocabulary. Rows are interned (hash-consed), so the row's id stands
   * for its whole parse history; scanner runs carry their bytes (zero-width tokens re-read them).
   */
  private stateKey(S: State): string {
    let key = `${this.trie.id}|${S.row.id}|${S.lex}|${S.ext ? S.ext.id : -1}`;
    if (S.runs) {
      for (const r of S.runs) {
        key += `|${r.run.id}@${r.row.id}`;
        for (let p = r.bytes; p; p = p.prev) key += `,${p.b}`;
      }
    }
    if (S.fb) {
      key += `|fb(${this.stateKey(S.fb.S)})`;
      for (let p: ByteList | null = S.fb.bytes; p; p = p.prev) key += `,${p.b}`;
    }
    return key;
  }

  private setTokens(node: number, mask: Uint32Array): void {
    const { tokStart, tokens } = this.trie;
    for (let k = tokStart[node]; k < tokStart[node + 1]; k++) { const t = tokens[k]; mask[t >>> 5] |= 1 << (t & 31); }
  }

  /** Adds the tokens strictly below trie node `k`, given the parser state `S` at `k`. */
  private walk(k: number, S: State, mask: Uint32Array): void {
    const trie = this.trie;
    const { byte, next, tokStart } = trie;
    if (tokStart[next[k]] - tokStart[k] >= HUB_TOKENS) {
      const e = this.entry(S, k);
      if (e.bits) {
        const bits = e.bits;
        for (let i = 0; i < bits.length; i++) mask[i] |= bits[i];
      } else {
        const toks = e.tokens;
        for (let i = 0; i < toks.length; i++) { const t = toks[i]; mask[t >>> 5] |= 1 << (t & 31); }
      }
      // Boundary nodes without scanner runs or a pending fallback: the state after them depends
      // only on (lexer state, byte), shared by every such node of this walk.
      let plain: Map<number, State | null> | null = null;
      for (let i = 0; i < e.nodes.length; i++) {
        const j = e.nodes[i];
        this.stats.nodesVisited++;
        let S2: State | null;
        if (e.runs[i] === null && (e.fbNodes[i] === -1 || (e.fbNodes[i] === -2 && !S.fb))) {
          const key = e.lexes[i] * 256 + byte[j];
          const known = (plain ??= new Map()).get(key);
          if (known !== undefined) S2 = known;
          else { S2 = this.rt.step({ row: S.row, lex: e.lexes[i], ext: S.ext, runs: null }, byte[j]); plain.set(key, S2); }
        } else {
          const prev = this.restoreAt(S, k, trie.parent[j], e.lexes[i], e.runs[i], e.fbNodes[i], e.fbLexes[i], e.fbRuns[i]);
          S2 = this.rt.step(prev, byte[j]);
        }
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
  private restoreAt(S: State, k: number, p: number, lex: number, runs: (number | RunObj)[] | null, fbNode = -1, fbLex = -1, fbRuns: (number | RunObj)[] | null = null): State {
    const fbInherited = fbNode === -2 && S.fb;
    if (!runs && fbNode === -1 && !fbInherited) return { row: S.row, lex, ext: S.ext, runs: null };
    let slots: RunSlot[] | null = null;
    if (runs) {
      // runs consumed the bytes on the path k → p: rebuild their byte lists
      slots = [];
      for (let i = 0; i < runs.length; i += 2) {
        const orig = S.runs![runs[i] as number];
        slots.push({ run: runs[i + 1] as RunObj, row: orig.row, bytes: this.extendPath(orig.bytes, k, p) });
      }
    }
    let fb: Fallback | null = null;
    if (fbInherited) fb = { S: S.fb!.S, bytes: this.extendPath(S.fb!.bytes, k, p)! };
    else if (fbNode >= 0) {
      // the lexeme last matched at node fbNode: the state there, and the bytes since
      const Sq = fbNode === k ? S : this.restoreAt(S, k, fbNode, fbLex, fbRuns);
      fb = { S: Sq, bytes: this.extendPath(null, fbNode, p)! };
    }
    return fb ? { row: S.row, lex, ext: S.ext, runs: slots, fb } : { row: S.row, lex, ext: S.ext, runs: slots };
  }

  /** Bytes on the trie path from (exclusive) `from` to (inclusive) `to`, prepended to `bytes`. */
  private extendPath(bytes: ByteList | null, from: number, to: number): ByteList | null {
    const trie = this.trie;
    const path: number[] = [];
    for (let q = to; q !== from; q = trie.parent[q]) path.push(trie.byte[q]);
    for (let q = path.length - 1; q >= 0; q--) bytes = { b: path[q], prev: bytes };
    return bytes;
  }

  /** Cached walk of node k's subtree from the row-independent part of state S. */
  private entry(S: State, k: number): MaskEntry {
    let key: number | string = S.lex * this.trie.nodeCount + k;
    if (S.runs) { key = `${key}`; for (const r of S.runs) key += `:${r.run.id}`; }
    const cache = this.rt.maskCacheFor(this.trie);
    let e = cache.map.get(key);
    if (e) return e;
    const { byte, depth, next, tokStart, tokens } = this.trie;
    const lexer = this.rt.lexer;
    const toks: number[] = [];
    const nodes: number[] = [], lexes: number[] = [], runsAt: ((number | RunObj)[] | null)[] = [];
    const base = depth[k];
    const lexStack: number[] = [S.lex];
    // scanner runs per depth, as interned run sets (-1: none)
    const runStack: number[] = [S.runs ? this.runSetOf(cache, S.runs.flatMap((r, i) => [i, r.run])) : -1];
    const sets = cache.sets;
    // pending longest-match fallback per depth: -1 none, -2 the one of S (if any), else the node
    // where the lexeme last matched
    const fbStack: number[] = [S.lex >= 0 && lexer.isAccepting(S.lex) ? -1 : -2];
    const fbNodes: number[] = [], fbLexes: number[] = [], fbRuns: ((number | RunObj)[] | null)[] = [];
    let i = k + 1;
    const end = next[k];
    while (i < end) {
      const d = depth[i] - base;
      const l = lexStack[d - 1];
      const rsId = runStack[d - 1];
      const b = byte[i];
      let boundary = false;
      let outId = -1;
      if (rsId >= 0) {
        outId = this.runSetStep(cache, rsId, b);
        if (outId === RUNS_VERDICT) { boundary = true; outId = -1; }
      }
      let nl = -1;
      let fb = fbStack[d - 1];
      if (!boundary && l >= 0) {
        const t = lexer.step(l, b);
        if (t >= 0) {
          nl = t;
          // past a match into a non-match: the lexeme may have to end at that match later (a
          // fallback, row-dependent); the tokens on the way stay viable, so only where the lexer
          // then dies is a boundary
          if (lexer.isAccepting(t)) fb = -1;
          else if (lexer.isAccepting(l) && !lexer.isStart(l)) fb = d === 1 ? k : this.trie.parent[i];
        } else if (t === -1 && !lexer.isStart(l)) boundary = true;
      }
      if (boundary) {
        nodes.push(i); lexes.push(l); runsAt.push(rsId >= 0 ? sets[rsId].pairs : null);
        const q = l >= 0 && lexer.isAccepting(l) ? -1 : fb;
        fbNodes.push(q);
        const dq = q >= 0 ? depth[q] - base : 0;
        fbLexes.push(q >= 0 ? lexStack[dq] : -1);
        fbRuns.push(q >= 0 && runStack[dq] >= 0 ? sets[runStack[dq]].pairs : null);
        i = next[i];
        continue;
      }
      if (nl < 0 && outId < 0) { i = next[i]; continue; }
      lexStack[d] = nl;
      runStack[d] = outId;
      fbStack[d] = nl >= 0 ? fb : -1;
      for (let q = tokStart[i]; q < tokStart[i + 1]; q++) toks.push(tokens[q]);
      i++;
    }
    e = { tokens: Int32Array.from(toks), nodes: Int32Array.from(nodes), lexes: Int32Array.from(lexes), runs: runsAt, fbNodes: Int32Array.from(fbNodes), fbLexes: Int32Array.from(fbLexes), fbRuns };
    if (toks.length >= BITS_MIN_TOKENS) {
      const bits = new Uint32Array((this.trie.vocabSize + 31) >>> 5);
      for (const t of toks) bits[t >>> 5] |= 1 << (t & 31);
      e.bits = bits;
      cache.size += bits.length;
    }
    cache.size += toks.length + nodes.length * 3;
    if (cache.size > MASK_CACHE_LIMIT) { cache.map.clear(); cache.sets.length = 0; cache.setIds.clear(); cache.size = 0; }
    cache.map.set(key, e);
    return e;
  }

  /** Interns a list of [slot index, run] pairs (the runs alive at a trie node) as a run set. */
  private runSetOf(cache: MaskCache, pairs: (number | RunObj)[]): number {
    let key = '';
    for (let q = 0; q < pairs.length; q += 2) key += `${pairs[q]}:${(pairs[q + 1] as RunObj).id},`;
    let id = cache.setIds.get(key);
    if (id === undefined) {
      id = cache.sets.length;
      cache.sets.push({ pairs, trans: new Int32Array(256).fill(-2) });
      cache.setIds.set(key, id);
      cache.size += 256;
    }
    return id;
  }

  /**
   * The run set after byte b: another set, -1 when every run declines, RUNS_VERDICT when the
   * oldest deciding run emits a token (a lexeme boundary). Memoized per set and byte; a verdict
   * of a younger run while an older one still runs is ignored (tree-sitter asks the older first).
   */
  private runSetStep(cache: MaskCache, id: number, b: number): number {
    const st = cache.sets[id];
    const known = st.trans[b];
    if (known !== -2) return known;
    const rs = st.pairs;
    const out: (number | RunObj)[] = [];
    let result = -1;
    for (let q = 0; q < rs.length; q += 2) {
      const x = this.rt.runStep(rs[q + 1] as RunObj, b);
      if (x === null) continue;
      if ('verdict' in x) { if (out.length === 0) { result = RUNS_VERDICT; break; } continue; }
      out.push(rs[q], x);
    }
    if (result !== RUNS_VERDICT && out.length > 0) result = this.runSetOf(cache, out);
    st.trans[b] = result;
    return result;
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

  nextLexemeExamples(): Uint8Array[] { return this.rt.nextExamples(this.state); }

  snapshot(): MatcherSnapshot { return this.state; }
  restore(snapshot: MatcherSnapshot): void { this.state = snapshot as State; }

  isAccepting(): boolean { return this.rt.acceptsState(this.state); }

  acceptsSuffix(suffix: Uint8Array): boolean {
    const s = this.run(suffix);
    return s !== null && this.rt.acceptsState(s);
  }
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
