// The per-request Matcher: a parser state (Earley row + lexer state) advanced byte by byte, and
// token masks computed by walking the vocabulary's flat trie depth-first, stepping the state along
// each edge and skipping a whole subtree as soon as its prefix dies.
import type { Matcher, MatcherSnapshot, TokenizerLike } from '../interfaces';
import type { CompiledGrammar } from './types';
import type { Row } from './earley';
import { GrammarRuntime, runtimeOf, type Held, type HeldArray, type State, type RunSlot, type RunObj, type ByteList, type MaskEntry, type MaskCache, type Fallback, type Boundary, type Scanned, type ReadTracker, type VerdictObj } from './runtime';
import { FlatTrie, flatTrieOf } from './vocab-trie';
import { nextExamplesPastRuns } from './examples';

/** Subtrees with at least this many tokens use the per-lexer-state cache. */
const HUB_TOKENS = 48;
/** Subtrees inside a lexeme with at least this many tokens enter a cache entry by their own (see entry). */
const COMPOSE_TOKENS = 512;
/** `runSetStep` result: a scanner run decides here (a lexeme boundary). */
const RUNS_VERDICT = -3;
/** Entries with at least this many tokens also keep them as a bitset (ORed a word at a time). */
const BITS_MIN_TOKENS = 4096;
/** Total cached token ids (all grammars' entries of one runtime) before the cache is dropped. */
const MASK_CACHE_LIMIT = 16_000_000;
/**
 * Run and fallback bytes up to which a state has an exact key (see stateKey): a state inside a
 * docstring or after a comment block carries hundreds, and such states never recur (2 exact
 * hits in 3,442 masks over the Python bench files), while each key and stored mask copy costs.
 */
const EXACT_KEY_BYTES = 32;
/** Scanner-run bytes up to which a core key holds them (see coreKey). */
const RUN_KEY_BYTES = 64;
/** Subtrees past a lexeme boundary with at least this many tokens have core memos of their own. */
const SUB_CORE_TOKENS = 16;
/** Deepest core key (see replayDeep): origin links behind the row whose kernels it holds, plus one. */
const MAX_KEY_DEPTH = 3;
/**
 * Words a core memo entry takes beyond its arrays' data and its key: its record, the list of
 * arrays it holds and their typed-array objects, the memo's map entry (measured over a 45-file
 * JavaScript session: ~490 bytes an entry more than the data; the memo adds 16 words itself).
 */
const CORE_ENTRY_WORDS = 108;
/** Tainted nodes of a core memo from which a deeper one is looked for. */
const DEEP_MIN_TAINT = 32;

/**
 * What a parser state is in, for benchmarks (see GrammarMatcher.stateKind): a lexeme that may end
 * here into a parser row (`x = foo`); one that may end as whitespace or a comment (`extra`); one
 * that cannot end yet (`inside-lexeme`: `tr` of `true`); nothing in progress (`lexeme-start`); an
 * external scanner run pending (`scanner-run`: a line's indentation in Python, a template's text);
 * a longest-match fallback pending (`fallback`: `/` before `/*`).
 */
export type MaskStateKind = 'lexeme-end' | 'extra' | 'inside-lexeme' | 'lexeme-start' | 'scanner-run' | 'fallback';

/** Counters for benchmarks (`deepRecords`: core-memo replays that filled a deeper memo, see replayDeep). */
export interface MatcherStats { masks: number; maskHits: number; coreHits: number; deepHits: number; deepRecords: number; subCoreHits: number; groupHits: number; nodesVisited: number }

/**
 * Parser states after boundary nodes of one hub walk that depend on a few things only, with
 * whether computing them read foreign rows (see stepBoundary): plain nodes by (lexer state,
 * byte) as a number, leaves with scanner runs by (lexer state, byte, runs) as a string.
 */
interface PlainSteps { map: Map<number | string, State | null> | null; foreign: Set<number | string> | null }

/**
 * A mask by core (see GrammarMatcher.computeMask): the tokens outside tainted subtrees, the
 * tainted trie nodes (topmost), and the nodes on the way to them.
 */
export interface CoreMask extends Replayable {
  /** Held by content (see ArrayStore), as the record's arrays: another core's too, never changed in place. */
  bits: Uint32Array;
  /** `bits` still hold the tainted subtrees' tokens (cleared at the first hit: most are never hit). */
  dirty?: boolean;
  held: Held[];
}

/**
 * What a replay walks again: `plan`, the tainted nodes and the nodes on the way to them in
 * preorder, with `planTaint` flags; `taint`: the tainted ones alone, ascending. Typed arrays, not
 * the walk's sets: memo records live long, and hash sets of small numbers were the largest share
 * of what every scavenge copied.
 */
interface Replayable { taint: Int32Array; plan: Int32Array; planTaint: Uint8Array }

/** A walk's record while it runs (see GrammarMatcher.recording): sets, compacted when it ends. */
interface Recording { taint: Set<number>; via: Set<number> }

/** A deeper core memo (see GrammarMatcher.replayDeep): tokens it adds to the shallower one's bits (arrays held as a core's). */
interface DeepMask extends Replayable { extra: Int32Array; held: Held[] }

/**
 * Sibling nodes below trie node p whose deciding scanner run (the pair at index `q` of the
 * [slot, run] pairs alive at p, begun at `row`, having read `bytes`) decides alike (`gid`: see
 * VerdictObj.gid) at zero-width depth `depth` (see GrammarMatcher.stepGroups): `at`,
 * their indices; `foreign`: deciding asked what the walk's tracker counts as foreign.
 */
interface VerdictGroup { p: number; gid: number; q: number; row: Row; bytes: ByteList; v: VerdictObj; depth: number; at: number[]; foreign: boolean }

/** A core memo of one subtree (see GrammarMatcher.subCore): its untainted tokens as a list or bits. */
interface SubCoreMask extends Replayable { tokens: Int32Array | null; bits: Uint32Array | null; dirty?: boolean }

/** A core memo of sibling nodes (see GrammarMatcher.groupCore): its key holds them by a hash. */
interface GroupMask extends SubCoreMask { nodes: Int32Array }

export class GrammarMatcher implements Matcher {
  private state: State;
  private readonly rt: GrammarRuntime;
  private readonly trie: FlatTrie;
  readonly stats: MatcherStats = { masks: 0, maskHits: 0, coreHits: 0, deepHits: 0, deepRecords: 0, subCoreHits: 0, groupHits: 0, nodesVisited: 0 };

  constructor(readonly grammar: CompiledGrammar, private readonly tokenizer: TokenizerLike) {
    this.rt = runtimeOf(grammar);
    this.trie = flatTrieOf(tokenizer);
    this.rt.fitVocabulary(this.trie.vocabSize);
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
   *
   * Two memos answer repeated states. The exact memo keys the whole state. The core memo keys the
   * row's kernel positions, not the history behind them (see `coreKey`): the walk records which
   * rows the parser reads, and a boundary node whose step read a row from outside the walk (`)`
   * completing a call reads the row where the call began; ` +` does not) is *tainted*. Tokens
   * outside tainted subtrees are a function of the core and kept as bits; another row with the
   * same core re-steps only the boundary nodes on the way to tainted ones and walks those exactly —
   * XGrammar's split into context-independent and context-dependent tokens, found by the walk.
   * Where many nodes are tainted, memos keyed by the kernels of the rows behind too narrow them
   * down (see replayDeep); past a lexeme boundary, large subtrees have core memos of their own
   * (see subCore), and so do the siblings that take one scanner decision (a line's layout: see
   * hubGroups). Inside a lexeme, subtrees whose every byte keeps the state as it is are taken
   * whole (see loopsOn).
   */
  computeMask(): Uint32Array {
    this.stats.masks++;
    const S = this.state;
    const key = this.stateKey(S);
    const hit = key !== null ? this.rt.exactMemo.get(key) : undefined;
    if (hit) { this.stats.maskHits++; return hit.slice(); }
    const words = (this.trie.vocabSize + 31) >>> 5;
    const ck = this.coreKey(S);
    const core = ck !== null ? this.rt.coreMemo.get(ck.key) as CoreMask | undefined : undefined;
    let mask: Uint32Array;
    if (core) {
      this.stats.coreHits++;
      if (core.dirty) {
        // (the bits may be another core's too: cleared in a copy, held anew)
        const store = this.rt.coreArrays;
        const held = store.intern(this.cleared(core.bits.slice(), core.taint), false);
        const at = core.held.findIndex((h) => h.a === core.bits);
        store.release(core.held[at]!);
        core.held[at] = held;
        core.bits = held.a;
        core.dirty = false;
      }
      mask = core.bits.slice();
      this.replayDeep(S, mask, core);
    } else if (ck !== null) {
      mask = new Uint32Array(words);
      const rec = this.recording(S, ck, () => this.walk(0, S, mask));
      const held: Held[] = [];
      const record: CoreMask = { bits: this.hold(held, mask, true), dirty: true, ...this.holdRecord(held, rec), held };
      // (its arrays count in the memo's store: see ArrayStore)
      this.rt.coreMemo.set(ck.key, record, CORE_ENTRY_WORDS + (ck.key.length >> 1));
    } else {
      // no core key (runs begun at older rows): an untracked walk, which still uses the subtree
      // cores below it
      mask = new Uint32Array(words);
      this.walk(0, S, mask);
    }
    if (key !== null) this.rt.exactMemo.set(key, mask.slice(), words);
    return mask;
  }

  /**
   * Completes a core-memo mask (`mask` holds its bits) by the deepest memo known for S: a core
   * key of depth d also holds the kernels of the rows d - 1 origin links back, so a walk may read
   * those too and fewer nodes are tainted (`;` completing a declaration reads the row where it
   * began: tainted at depth 1, keyed at depth 2). A deeper memo holds only what it adds to the
   * one above it: the tokens of that one's tainted subtrees outside its own. Where the deepest
   * known still leaves DEEP_MIN_TAINT tainted nodes, the next depth's memo is filled by replaying
   * them under that depth's tracker (what the replay had to walk anyway).
   */
  private replayDeep(S: State, mask: Uint32Array, core: Replayable): void {
    const rt = this.rt;
    for (let depth = 2; depth <= MAX_KEY_DEPTH && core.taint.length >= DEEP_MIN_TAINT; depth++) {
      const dk = this.coreKey(S, depth)!;
      const deep = rt.coreMemo.get(dk.key) as DeepMask | undefined;
      if (deep) { this.stats.deepHits++; addTokens(mask, null, deep.extra); core = deep; continue; }
      const shallower = core;
      // (the bits before, where the shallower memo's tainted nodes hold many tokens: see below)
      const keep = this.tokensUnder(shallower.taint) > mask.length;
      const before = keep ? mask.slice() : null;
      this.stats.deepRecords++;
      const rec = this.recording(S, dk, () => this.replay(0, S, mask, shallower));
      // what the replay added (the tokens below the shallower memo's tainted nodes), outside the
      // nodes still tainted at this depth: collected from those nodes' ranges, or, where they
      // hold many tokens, as the bits that changed without the tokens below this depth's
      let extra: Int32Array;
      if (before === null) {
        // (counted first: collecting may replace the scratch list with a larger one)
        const n = this.collectTokens(mask, shallower.taint, false, rec.taint);
        extra = this.outScratch.slice(0, n);
      }
      else {
        for (let i = 0; i < before.length; i++) before[i] = mask[i] & ~before[i];
        extra = tokensOf(this.cleared(before, rec.taint));
      }
      const held: Held[] = [];
      rt.coreMemo.set(dk.key, { extra: this.hold(held, extra, false), ...this.holdRecord(held, rec), held } satisfies DeepMask, CORE_ENTRY_WORDS + (dk.key.length >> 1));
      return;
    }
    this.replay(0, S, mask, core);
  }

  /** `a` held by content in the core memo's store, noted in `held` (see ArrayStore). */
  private hold<T extends HeldArray>(held: Held[], a: T, copy: boolean): T {
    const h = this.rt.coreArrays.intern(a, copy);
    held.push(h);
    return h.a;
  }

  /** A walk's record with its arrays held (see hold). */
  private holdRecord(held: Held[], rec: Replayable): Replayable {
    return { taint: this.hold(held, rec.taint, false), plan: this.hold(held, rec.plan, false), planTaint: this.hold(held, rec.planTaint, false) };
  }

  /**
   * Runs `body` (a walk from S) under the tracker of core key `ck`, recording its tainted nodes
   * and the nodes on the way to them: what a core memo replays. An enclosing walk's tracker and
   * record are restored after.
   */
  private recording(S: State, ck: CoreKey, body: () => void): Replayable {
    const rec: Recording = { taint: new Set(), via: new Set() };
    const tr = this.rt.track, savedRec = this.rec, savedDepth = this.taintDepth;
    this.rt.track = trackerFor(S, ck);
    this.rec = rec; this.taintDepth = 0;
    try { body(); } finally { this.rt.track = tr; this.rec = savedRec; this.taintDepth = savedDepth; }
    return replayableOf(rec);
  }

  /** The full mask by a walk that neither reads nor fills the mask memos (tests, benchmarks). */
  exactMask(): Uint32Array {
    const mask = new Uint32Array((this.trie.vocabSize + 31) >>> 5);
    this.plainWalk = true;
    try { this.walk(0, this.state, mask); } finally { this.plainWalk = false; }
    return mask;
  }

  /** Set while `exactMask` walks: subtree core memos are neither read nor filled. */
  private plainWalk = false;

  /**
   * Exact cache key of a parser state for this vocabulary. Rows are interned (hash-consed), so the row's id stands
   * for its whole parse history; scanner runs carry their bytes (zero-width tokens re-read them).
   * Null past EXACT_KEY_BYTES of those (`budget`: what is left of them).
   */
  private stateKey(S: State, budget = { bytes: EXACT_KEY_BYTES }): string | null {
    let key = `${this.trie.id}|${S.row.id}|${S.lex}|${S.ext ? S.ext.id : -1}`;
    if (S.runs) {
      for (const r of S.runs) {
        key += `|${r.run.id}@${r.row.id}`;
        for (let p = r.bytes; p; p = p.prev) {
          if (--budget.bytes < 0) return null;
          key += `,${p.b}`;
        }
      }
    }
    if (S.fb) {
      const inner = this.stateKey(S.fb.S, budget);
      if (inner === null) return null;
      key += `|fb(${inner})`;
      for (let p: ByteList | null = S.fb.bytes; p; p = p.prev) {
        if (--budget.bytes < 0) return null;
        key += `,${p.b}`;
      }
    }
    return key;
  }

  /**
   * Key of a state up to the history behind its row: the row's kernel items by dotted position,
   * with their origins as an equality pattern only (at depth 1, those outside the key as one
   * class: see kernelKey); when a lexeme in progress may end here, the same of the row after it
   * (a completion there reads the history once, and every boundary node would else be tainted by
   * it: `text.translate` then ` `, `.`, `(`…), and likewise of the rows after the external
   * tokens the runs may emit next (twice, where two runs are pending); plus the lexer state,
   * scanner state and runs (their bytes only when short and about to be re-read). `rows`: the
   * rows whose items the key holds; `ended`, `scans`: the lexeme's end and those tokens' scans
   * (see ReadTracker.trusted); `runBytes`: the key holds the run bytes. A pending fallback (the
   * lexeme matched earlier, as `/` before `/*`) is in the key only as such (see
   * ReadTracker.fbStart). Null when that does not determine a walk (runs begun at older rows).
   * `depth` > 1 adds the kernels of the rows up to depth - 1 origin links behind the row (see
   * replayDeep). Where no run or fallback is pending, the row after the lexeme's end stands
   * for the row it began in (see endKey).
   */
  private coreKey(S: State, depth = 1, trustScans = true): CoreKey | null {
    const R = S.row;
    if (S.runs) for (const r of S.runs) if (r.row !== R) return null;
    const rt = this.rt;
    const lexer = rt.lexer;
    const bnd = S.lex >= 0 && !lexer.isStart(S.lex) && lexer.isAccepting(S.lex) ? rt.endLexeme(R, S.lex) : null;
    const ended = bnd && bnd.reads ? bnd : null;
    if (ended && !S.runs && !S.fb) return this.endKey(S, ended, depth);
    const rows = ended ? [R, ended.row] : [R];
    // The rows after the external tokens the runs may emit at the next byte (Python's NEWLINE
    // after a line's indentation): kept like the lexeme's end, or every boundary of the walk
    // would be tainted by the statement that token completes.
    let scans: Set<Scanned> | null = null;
    let vkey = '';
    let n = 0, rereads = false, asks = false;
    if (S.runs) {
      for (const r of S.runs) {
        const rv = rt.runVerdicts(r.run, S.ext);
        if (rv.rereads) rereads = true;
        if (rv.asks) asks = true;
        for (let p = r.bytes; p && n <= RUN_KEY_BYTES; p = p.prev) n++;
        for (const t of trustScans ? rv.terms : NO_TERMS) {
          const sc = rt.verdictScan(R, t);
          if (!sc.row || scans?.has(sc)) continue;
          (scans ??= new Set()).add(sc);
          rows.push(sc.row);
          vkey += `,${t}`;
          // and, where a younger run is pending too, the same token once more after it (a
          // zero-width token re-reads the run's bytes, where the younger run may decide again:
          // an automatic semicolon after a comment line that followed a `}`)
          if (S.runs.length < 2) continue;
          const sc2 = rt.verdictScan(sc.row, t);
          if (!sc2.row || scans.has(sc2)) continue;
          scans.add(sc2);
          rows.push(sc2.row);
          vkey += `+${t}`;
        }
      }
    }
    const ckey = `core>${ended ? ended.row.id : ''}${vkey}#${depth}`;
    let cached = R.cache.get(ckey) as { id: number; older: Row[] } | undefined;
    if (cached === undefined) {
      // The key's rows are classed first (each one's class says which keyed row it is, if it is
      // one twice), so an item whose origin is one of them shows it. At depth 1 the origins
      // outside the key are one class (see kernelKey).
      const cls = new Map<Row, number>([[R, 0]]);
      const open = depth === 1;
      let after = '';
      for (let i = 1; i < rows.length; i++) {
        const c = cls.get(rows[i]);
        after += `>${c ?? '+'}`;
        if (c === undefined) cls.set(rows[i], cls.size);
      }
      after += `|${kernelKey(R, cls, open)}`;
      for (let i = 1; i < rows.length; i++) after += `>${kernelKey(rows[i], cls, open)}`;
      // depth d > 1: the kernels of the rows d - 1 origin links back from R too
      const older: Row[] = [];
      const core = `${R.initial ? 'I' : ''}${after}${ended ? '' : '>'}${vkey}${olderKernels(R, rows, cls, depth, older)}`;
      // (memo keys hold the core by a number: short keys hash fast)
      cached = { id: this.rt.coreId(core), older };
      R.cache.set(ckey, cached);
    }
    for (const o of cached.older) rows.push(o);
    // The scanner state by its run key (a walk that reads the rest is tainted, see
    // ScannerHooks.resolve); whole where a run asks about it at the next byte (a line's
    // indentation before Python's layout decision: nearly every token would be tainted). A
    // pending fallback: the key says only that there is one; a walk that uses it is tainted.
    const extKeyed = asks && S.ext !== null;
    // Where the scanner keys a run in a line's indentation by less than the whole state (the
    // indent stack relative to the line's column: see ScannerHooks.lineKey), that key stands for
    // the state, the run and its bytes: every ask of the walk is on that line.
    const lk = extKeyed && S.runs!.length === 1 ? this.lineKeyOf(S) : null;
    if (lk !== null) {
      const key = `${this.trie.id}|${S.lex}|l${lk}|${cached.id}${S.fb ? '|fb' : ''}`;
      return { key, rows, ended, scans, runBytes: true, extKeyed };
    }
    let key = `${this.trie.id}|${S.lex}|${S.ext ? (extKeyed ? `x${S.ext.id}` : S.ext.rk) : -1}|${cached.id}${S.fb ? '|fb' : ''}`;
    // The bytes of a run about to re-read them (a line's indentation before Python's NEWLINE) are
    // part of the key when short; else they are left out (a string's content, read once), and a
    // walk that re-reads them taints the node (see ReadTracker.runBytes).
    const runBytes = rereads && n <= RUN_KEY_BYTES;
    if (S.runs) {
      for (const r of S.runs) {
        key += `|${r.run.id}`;
        if (runBytes) key += this.runBytesPart(r.bytes);
      }
    }
    return { key, rows, ended, scans, runBytes, extKeyed };
  }

  /** A run's bytes as a core key holds them: by the scanner's key for them (see ScannerHooks.runBytesKey), else each. */
  private runBytesPart(bytes: ByteList | null): string {
    const newest: number[] = [];
    for (let p = bytes; p; p = p.prev) newest.push(p.b);
    const k = newest.length ? this.rt.hooks?.runBytesKey?.([...newest].reverse()) ?? null : null;
    return k !== null ? `,~${k}` : newest.map((b) => `,${b}`).join('');
  }

  /**
   * coreKey of a state whose lexeme in progress may end (`ended`), with no scanner run and no
   * fallback pending: the row E that ending it makes, not the row R it is lexed in. A walk from
   * S reads R only where a token ends the lexeme otherwise (a longer match into a keyword, an
   * extra), or where it completes an item that began at R (`foo()` completing a call): those
   * nodes are tainted; every other token goes on from E or stays inside the lexeme, so the memo
   * is shared by every row the same identifier ends into E's positions from — which is most of
   * them: an expression's end recurs more often than the statement shape it ends in.
   */
  private endKey(S: State, ended: Boundary, depth: number): CoreKey {
    const E = ended.row;
    const ckey = `ecore#${depth}`;
    let cached = E.cache.get(ckey) as { id: number; older: Row[] } | undefined;
    if (cached === undefined) {
      const cls = new Map<Row, number>([[E, 0]]);
      const older: Row[] = [];
      const core = `E${E.initial ? 'I' : ''}|${kernelKey(E, cls, depth === 1)}${olderKernels(E, [E], cls, depth, older)}`;
      cached = { id: this.rt.coreId(core), older };
      E.cache.set(ckey, cached);
    }
    const rows = [E, ...cached.older];
    const key = `${this.trie.id}|${S.lex}|${S.ext ? S.ext.rk : -1}|${cached.id}`;
    return { key, rows, ended, scans: null, runBytes: false, extKeyed: false };
  }

  /**
   * The scanner's line key of S's one run (see ScannerHooks.lineKey), where the vocabulary has
   * no token that goes on past a line (ScannerHooks.sameLine, checked once per vocabulary);
   * else null.
   */
  private lineKeyOf(S: State): string | null {
    const hooks = this.rt.hooks;
    if (!hooks?.lineKey || !hooks.sameLine) return null;
    const cache = this.rt.maskCacheFor(this.trie);
    if (cache.sameLine === undefined) cache.sameLine = this.everyToken(hooks.sameLine);
    if (!cache.sameLine) return null;
    const slot = S.runs![0];
    const bytes: number[] = [];
    for (let p = slot.bytes; p; p = p.prev) bytes.push(p.b);
    return hooks.lineKey(S.ext!.data, slot.run.data, bytes.reverse());
  }

  /** Whether `test` holds for the bytes of every token of the vocabulary. */
  private everyToken(test: (bytes: Uint8Array) => boolean): boolean {
    const { byte, depth, tokStart } = this.trie;
    const path = new Uint8Array(this.trie.maxDepth + 1);
    for (let i = 1; i < this.trie.nodeCount; i++) {
      path[depth[i] - 1] = byte[i];
      if (tokStart[i + 1] > tokStart[i] && !test(path.subarray(0, depth[i]))) return false;
    }
    return true;
  }

  /**
   * `bits` without the tokens at or below the (topmost, so disjoint) tainted nodes: cleared in
   * place, or, where those are most of the vocabulary, the others collected into new bits.
   */
  private cleared(bits: Uint32Array, taint: Int32Array): Uint32Array {
    const { next, tokStart, tokens } = this.trie;
    if (2 * this.tokensUnder(taint) > this.trie.vocabSize) {
      return this.scratchBits(this.collectTokens(bits, [0], true, taint), bits.length);
    }
    for (let i = 0; i < taint.length; i++) {
      const j = taint[i];
      for (let q = tokStart[j]; q < tokStart[next[j]]; q++) { const t = tokens[q]; bits[t >>> 5] &= ~(1 << (t & 31)); }
    }
    return bits;
  }

  /** Adds the tokens ending at trie node `node`. */
  private setTokens(node: number, mask: Uint32Array): void {
    this.setRange(this.trie.tokStart[node], this.trie.tokStart[node + 1], mask);
  }

  /** Adds the tokens lo..hi of the trie's preorder token list (a node's, or a whole subtree's). */
  private setRange(lo: number, hi: number, mask: Uint32Array): void {
    const tokens = this.trie.tokens;
    for (let k = lo; k < hi; k++) { const t = tokens[k]; mask[t >>> 5] |= 1 << (t & 31); }
  }

  /** The core-memo record being built by a tracking walk (see computeMask), else null. */
  private rec: Recording | null = null;
  /** > 0 inside a tainted subtree (nodes there are not recorded: the whole subtree is walked again). */
  private taintDepth = 0;

  /** Adds the tokens strictly below trie node `k`, given the parser state `S` at `k`. */
  private walk(k: number, S: State, mask: Uint32Array): void {
    const trie = this.trie;
    const { next, tokStart } = trie;
    if (tokStart[next[k]] - tokStart[k] >= HUB_TOKENS) {
      const e = this.entry(S, k);
      addTokens(mask, e.bits, e.tokens);
      const plain: PlainSteps = { map: null, foreign: null };
      const grouped = S.runs !== null && !this.plainWalk ? this.hubGroups(e, k, S, mask, null) : null;
      for (let i = 0; i < e.nodes.length; i++) {
        if (grouped !== null && grouped[i]) continue;
        const j = e.nodes[i];
        const f0 = this.rt.track ? this.rt.track.foreign : 0;
        const S2 = this.stepBoundary(e, i, k, S, plain);
        this.descend(j, S2, f0, mask, S2 !== null && S2.row !== S.row);
      }
      return;
    }
    if (S.runs === null && !S.fb && S.lex >= 0) { this.flatWalk(k, S, mask); return; }
    this.stepWalk(k, S, mask);
  }

  /**
   * `walk` below a small subtree from a state with scanner runs or a pending fallback: node by
   * node, each a full step — or, where every byte below keeps the state as it is (a comment's
   * `####`, a string's text), the whole subtree at once.
   */
  private stepWalk(k: number, S: State, mask: Uint32Array): void {
    const trie = this.trie;
    const { byte, next, tokStart } = trie;
    const slot = trie.below[k];
    if (slot >= 0) {
      const cache = this.rt.maskCacheFor(trie);
      if (this.loopsOn(cache, S.lex, this.runSetIdOf(cache, S.runs), slot)) {
        this.setRange(tokStart[k + 1], tokStart[next[k]], mask);
        return;
      }
    }
    for (let c = k + 1; c < next[k]; c = next[c]) {
      const f0 = this.rt.track ? this.rt.track.foreign : 0;
      this.stats.nodesVisited++;
      this.descend(c, this.rt.step(S, byte[c]), f0, mask);
    }
  }

  /**
   * `walk` below a small subtree from a state with no scanner run and no fallback, in preorder
   * without recursion: a node inside the lexeme in progress changes only the lexer state, so it
   * costs one table lookup and no state object; a node where the lexeme ends (or a fallback
   * begins) goes through `step` and `descend`. In a tracking walk, the nodes on the way to one
   * that read a foreign row are recorded as such (`replay` steps them one by one).
   */
  private flatWalk(k: number, S: State, mask: Uint32Array): void {
    const { byte, depth, next, tokStart, tokens, parent } = this.trie;
    const lexer = this.rt.lexer;
    const base = depth[k];
    // lexer state per depth below k, in a stack shared by the nested calls (descend recurses)
    const at = this.flatTop;
    const span = this.trie.maxDepth - base + 1;
    if (at + span > this.lexStack.length) {
      const grown = new Int32Array(Math.max(2 * this.lexStack.length, at + span));
      grown.set(this.lexStack);
      this.lexStack = grown;
    }
    this.flatTop = at + span;
    let lexAt = this.lexStack;
    lexAt[at] = S.lex;
    const end = next[k];
    let i = k + 1;
    try {
      while (i < end) {
        const d = depth[i] - base;
        const l = lexAt[at + d - 1];
        const b = byte[i];
        this.stats.nodesVisited++;
        const t = lexer.step(l, b);
        if (t >= 0 && (lexer.isAccepting(t) || !lexer.isAccepting(l) || lexer.isStart(l))) {
          for (let q = tokStart[i]; q < tokStart[i + 1]; q++) { const x = tokens[q]; mask[x >>> 5] |= 1 << (x & 31); }
          lexAt[at + d] = t;
          i++;
          continue;
        }
        if (t < -1 || (t === -1 && lexer.isStart(l))) { i = next[i]; continue; } // dead
        const tr = this.rt.track;
        const f0 = tr ? tr.foreign : 0;
        this.descend(i, this.rt.step(d === 1 ? S : { row: S.row, lex: l, ext: S.ext, runs: null }, b), f0, mask);
        lexAt = this.lexStack; // (a nested call may have grown it)
        if (tr && tr.foreign !== f0 && this.taintDepth === 0 && this.rec) {
          const via = this.rec.via;
          for (let q = parent[i]; q !== k && !via.has(q); q = parent[q]) via.add(q);
        }
        i = next[i];
      }
    } finally { this.flatTop = at; }
  }

  /** subCoreOf's token list before it is copied at its size. */
  private outScratch = new Int32Array(0);

  /** flatWalk's lexer states per depth, for all its nested calls; `flatTop`: the first free slot. */
  private lexStack = new Int32Array(1024);
  private flatTop = 0;

  /**
   * After stepping into node `j` (state `S2`, null: dead): its tokens and its subtree; in a tracking
   * walk, records `j` as tainted when the step read a foreign row (foreign count above `f0`), or as
   * on the way to a tainted node when only its subtree did. `fresh`: the step began a new row (a
   * lexeme ended), so a large subtree below is answered by its own core memo (see subCore).
   */
  private descend(j: number, S2: State | null, f0: number, mask: Uint32Array, fresh = false): void {
    const tr = this.rt.track;
    const stepForeign = tr !== null && tr.foreign !== f0;
    if (stepForeign) this.taintDepth++;
    if (S2) {
      this.setTokens(j, mask);
      const { next, tokStart } = this.trie;
      if (next[j] > j + 1) {
        if (!fresh || this.plainWalk || tokStart[next[j]] - tokStart[j + 1] < SUB_CORE_TOKENS || !this.subCore(j, S2, mask)) this.walk(j, S2, mask);
      }
    }
    if (stepForeign) this.taintDepth--;
    this.record(j, stepForeign, f0);
  }

  /**
   * In a tracking walk outside tainted subtrees, records node `j` as tainted (its step read a
   * foreign row) or as on the way to a tainted node (foreign count above `f0` since).
   */
  private record(j: number, stepForeign: boolean, f0: number): void {
    const tr = this.rt.track;
    if (tr && this.taintDepth === 0 && this.rec) {
      if (stepForeign) this.rec.taint.add(j);
      else if (tr.foreign !== f0) this.rec.via.add(j);
    }
  }

  /**
   * The tokens strictly below node `j` from `S2`, a state just past a lexeme boundary, by a core
   * memo of their own: keyed by `j` and S2's core (the row the boundary began, not the rows before
   * it), so the subtree of ` ` or `(` is shared by every mask whose lexeme ends into an equal row,
   * whatever came before. Its untainted tokens are added as they are; its tainted nodes are walked
   * again, under the enclosing walk's tracker if there is one, which so records exactly what it
   * would have by walking the whole subtree: the untainted walks read only S2's row, the rows its
   * key holds and rows made from them, all local to the enclosing walk too (checked first: false
   * when not, or when S2 has no core key; the caller then walks the subtree itself).
   */
  private subCore(j: number, S2: State, mask: Uint32Array): boolean {
    const rt = this.rt;
    const tr = rt.track;
    rt.track = null; // (the key's own scans are not the walk's reads)
    let ck: CoreKey | null;
    try { ck = this.coreKey(S2); } finally { rt.track = tr; }
    if (ck === null) return false;
    if (tr && this.taintDepth === 0 && this.rec) {
      if (!tr.local.has(S2.row)) return false;
      // (a memo keyed by the whole scanner state may hold nodes that read what this key leaves out)
      if (ck.extKeyed && !tr.extKeyed) return false;
      if (ck.ended && !ck.ended.reads!.every((r) => tr.local.has(r))) return false;
      if (ck.scans) for (const sc of ck.scans) if (!sc.reads.every((r) => tr.local.has(r))) return false;
    }
    const key = `${j}@${ck.key}`;
    let core = rt.subCoreMemo.get(key) as SubCoreMask | undefined;
    if (!core) {
      // a large subtree's tokens are found faster as the bits the walk set than by its token list
      const { next, tokStart } = this.trie;
      const before = tokStart[next[j]] - tokStart[j + 1] > 4 * mask.length ? mask.slice() : null;
      // a walk of the subtree against S2 alone fills the memo
      const rec = this.recording(S2, ck, () => this.walk(j, S2, mask));
      core = this.subCoreOf(j, mask, rec, before);
      rt.subCoreMemo.set(key, core, subMemoWords(core, key));
      // every token is in the mask now; an enclosing walk still needs its record below j
      if (!tr || !this.rec || this.taintDepth > 0) return true;
    } else {
      this.stats.subCoreHits++;
      this.addUntainted(mask, core);
    }
    this.replay(j, S2, mask, core);
    return true;
  }

  /** Adds a subtree or group memo's untainted tokens to `mask` (its bits cleared of the tainted ones at the first hit). */
  private addUntainted(mask: Uint32Array, core: SubCoreMask): void {
    if (core.dirty) { core.bits = this.cleared(core.bits!, core.taint); core.dirty = false; }
    addTokens(mask, core.bits, core.tokens);
  }

  /**
   * A subtree core from the walk that filled `mask` below j: its tokens outside tainted subtrees.
   * `before`: the mask before that walk, if kept (the subtree's tokens were all clear in it).
   */
  private subCoreOf(j: number, mask: Uint32Array, rec: Replayable, before: Uint32Array | null): SubCoreMask {
    if (before) {
      const bits = new Uint32Array(mask.length);
      for (let i = 0; i < bits.length; i++) bits[i] = mask[i] & ~before[i];
      return { tokens: null, bits, ...rec, dirty: true };
    }
    // the subtree's tokens are one range of the preorder token list, clear in `mask` before the
    // walk; the tainted subtrees (topmost, so disjoint) are ranges inside it
    return { ...this.scratchSet(this.collectTokens(mask, [j], true, rec.taint), mask.length), ...rec };
  }

  /** The number of tokens at or below the (topmost, so disjoint) nodes `nodes`. */
  private tokensUnder(nodes: ArrayLike<number>): number {
    const { next, tokStart } = this.trie;
    let n = 0;
    for (let i = 0; i < nodes.length; i++) n += tokStart[next[nodes[i]]] - tokStart[nodes[i]];
    return n;
  }

  /** The first n tokens of the scratch buffer as a memo's token set: a list, or bits past `words` of them. */
  private scratchSet(n: number, words: number): { tokens: Int32Array | null; bits: Uint32Array | null } {
    return n <= words ? { tokens: this.outScratch.slice(0, n), bits: null } : { tokens: null, bits: this.scratchBits(n, words) };
  }

  /** The first n tokens of the scratch buffer as bits (`words` of them). */
  private scratchBits(n: number, words: number): Uint32Array {
    const out = this.outScratch, bits = new Uint32Array(words);
    for (let q = 0; q < n; q++) { const t = out[q]; bits[t >>> 5] |= 1 << (t & 31); }
    return bits;
  }

  /**
   * Collects into the scratch buffer (`outScratch`) the tokens set in `bits` among the preorder
   * token ranges of nodes `outer` (ascending, topmost; from below each when `below`), outside the
   * ranges of nodes `cut` (ascending, topmost; each inside one of `outer`, or above some: a deeper
   * replay may taint a node on the way to a shallower memo's tainted one), and returns how many:
   * a memo's untainted tokens, at the cost of the ranges kept rather than of those cut.
   */
  private collectTokens(bits: Uint32Array, outer: ArrayLike<number>, below: boolean, cut: Int32Array): number {
    const { next, tokStart, tokens } = this.trie;
    if (this.outScratch.length < this.trie.vocabSize) this.outScratch = new Int32Array(this.trie.vocabSize);
    const out = this.outScratch;
    let n = 0, c = 0;
    for (let o = 0; o < outer.length; o++) {
      const j = outer[o], end = next[j], hi = tokStart[end];
      while (c < cut.length && cut[c] < j) c++;
      // (cut nodes are disjoint: only the last one before j may hold it)
      if (c > 0 && next[cut[c - 1]] > j) continue;
      for (let q = tokStart[below ? j + 1 : j]; q < hi;) {
        if (c < cut.length && cut[c] < end && q >= tokStart[cut[c]]) { q = Math.max(q, tokStart[next[cut[c]]]); c++; continue; }
        const t = tokens[q++];
        if (bits[t >>> 5] & (1 << (t & 31))) out[n++] = t;
      }
    }
    return n;
  }

  /**
   * Completes a core-memo mask for state `S` at node `k`: re-steps the nodes on the way to
   * tainted ones (their own tokens are in the bits) and walks the tainted ones exactly.
   */
  private replay(k: number, S: State, mask: Uint32Array, core: Replayable): void {
    const { byte, next, tokStart, parent } = this.trie;
    const plan = core.plan;
    const flags = core.planTaint;
    // the recorded nodes below k: a range of the plan (preorder)
    let q = lowerBound(plan, k + 1);
    const end = next[k];
    if (q >= plan.length || plan[q] >= end) return;
    // under a tracker (see subCore), nodes are recorded as a walk records them
    const tr = this.rt.track;
    if (tokStart[next[k]] - tokStart[k] >= HUB_TOKENS) {
      const e = this.entry(S, k);
      const plain: PlainSteps = { map: null, foreign: null };
      const bn = e.nodes;
      // the tainted boundary nodes first, by groups where they take one verdict (see hubGroups)
      let grouped: Uint8Array | null = null;
      if (S.runs !== null) {
        let only: Uint8Array | null = null;
        for (let r = q, i = 0; r < plan.length && plan[r] < end; r++) {
          if (!flags[r]) continue;
          while (i < bn.length && bn[i] < plan[r]) i++;
          if (i < bn.length && bn[i] === plan[r]) (only ??= new Uint8Array(bn.length))[i] = 1;
        }
        if (only !== null) grouped = this.hubGroups(e, k, S, mask, only);
      }
      let i = 0;
      for (; q < plan.length && plan[q] < end; q++) {
        // the recorded nodes at this level are boundary nodes of the entry (ascending too)
        const j = plan[q];
        while (i < bn.length && bn[i] < j) i++;
        if (i === bn.length) break;
        if (bn[i] !== j) continue; // (deeper: replayed from its boundary node)
        if (grouped !== null && grouped[i]) continue;
        const f0 = tr ? tr.foreign : 0;
        const S2 = this.stepBoundary(e, i, k, S, plain);
        if (flags[q]) this.descend(j, S2, f0, mask, S2 !== null && S2.row !== S.row);
        else if (S2) this.replayVia(j, S2, mask, core, f0);
      }
      return;
    }
    for (; q < plan.length && plan[q] < end; q++) {
      const c = plan[q];
      if (parent[c] !== k) continue; // (deeper: replayed from its child of k)
      this.stats.nodesVisited++;
      const f0 = tr ? tr.foreign : 0;
      const S2 = this.rt.step(S, byte[c]);
      if (flags[q]) this.descend(c, S2, f0, mask);
      else if (S2) this.replayVia(c, S2, mask, core, f0);
    }
  }

  /** `replay` below a node on the way to tainted ones (recorded like `descend` does under a tracker). */
  private replayVia(j: number, S2: State, mask: Uint32Array, core: Replayable, f0: number): void {
    const tr = this.rt.track;
    const stepForeign = tr !== null && tr.foreign !== f0;
    if (stepForeign) this.taintDepth++;
    this.replay(j, S2, mask, core);
    if (stepForeign) this.taintDepth--;
    this.record(j, stepForeign, f0);
  }

  /**
   * Walks, as groups, the boundary nodes of hub k's entry (those flagged in `only`, if given)
   * where a scanner run decides by a group verdict (see GrammarRuntime.groupVerdict): the
   * siblings below one node p that take the same one (after a line's indentation, every byte
   * that begins a statement) all step from one state X, by their own byte, and a memo of X's
   * core answers them together (see groupCore). Returns the entry indices walked (null: none).
   */
  private hubGroups(e: MaskEntry, k: number, S: State, mask: Uint32Array, only: Uint8Array | null): Uint8Array | null {
    const { byte, parent } = this.trie;
    let groups: VerdictGroup[] | null = null;
    // the deciding run's slot in S, with its bytes on the way to the node's parent
    const slot = (q: number, i: number): RunSlot | null => {
      const orig = S.runs![e.runs[i]![q] as number];
      const p = parent[e.nodes[i]];
      return orig === undefined ? null : { run: orig.run, row: orig.row, bytes: p === k ? orig.bytes : this.extendPath(orig.bytes, k, p) };
    };
    for (let i = 0; i < e.nodes.length; i++) {
      if (only !== null && !only[i]) continue;
      const pairs = e.runs[i];
      if (pairs === null) continue;
      if (e.fbNodes[i] >= 0 || (e.fbNodes[i] === -2 && S.fb)) continue; // (a pending fallback: one by one)
      const j = e.nodes[i];
      groups = this.joinGroup(groups, parent[j], pairs, byte[j], S.ext, 0, i, slot);
    }
    return groups === null ? null : this.stepGroups(groups, e.nodes, S.ext, mask, e.nodes.length);
  }

  /**
   * Adds node `at` (a child of p with byte b, the runs `pairs` alive at p) to its verdict's
   * group, if the runs give one there (see GrammarRuntime.groupVerdict); `slot` gives the
   * deciding run's row and bytes, by its index in `pairs` and node `at` (a group is of one
   * deciding run).
   */
  private joinGroup(groups: VerdictGroup[] | null, p: number, pairs: readonly (number | RunObj)[], b: number, ext: State['ext'], depth: number, at: number,
    slot: (q: number, at: number) => RunSlot | null): VerdictGroup[] | null {
    const tr = this.rt.track;
    const f0 = tr ? tr.foreign : 0;
    const v = this.rt.groupVerdict(pairs, b, ext, depth);
    if (v === null) return groups;
    const q = this.rt.decider;
    const gid = v.gid;
    let g: VerdictGroup | undefined;
    if (groups === null) groups = [];
    else for (let x = groups.length - 1; x >= 0; x--) if (groups[x].p === p && groups[x].gid === gid && groups[x].q === q) { g = groups[x]; break; }
    if (!g) {
      const at0 = slot(q, at);
      if (at0 === null || at0.bytes === null) return groups;
      groups.push((g = { p, gid, q, row: at0.row, bytes: at0.bytes, v, depth, at: [], foreign: false }));
    }
    g.at.push(at);
    if (tr !== null && tr.foreign !== f0) g.foreign = true;
    return groups;
  }

  /**
   * Walks the groups of two or more nodes (`nodes[at]` for each index in a group) and returns
   * the indices walked, out of `count`. A group's X that read what the walk's tracker counts as
   * foreign (a Python DEDENT completes the enclosing block, whose start is history) taints its
   * nodes: a replay walks them again, as one group again.
   */
  private stepGroups(groups: VerdictGroup[], nodes: ArrayLike<number>, ext: State['ext'], mask: Uint32Array, count: number): Uint8Array | null {
    const rt = this.rt;
    const tr = rt.track;
    let done: Uint8Array | null = null;
    for (const g of groups) {
      if (g.at.length < 2) continue;
      const f0 = tr ? tr.foreign : 0;
      const X = rt.beforeGroupByte(g.row, g.bytes, g.v, ext, g.depth);
      const foreign = g.foreign || (tr !== null && tr.foreign !== f0);
      const members = g.at.map((i) => nodes[i]);
      if (X !== null) {
        if (foreign) this.taintDepth++;
        let ok: boolean;
        try { ok = this.groupCore(g.p, members, X, mask, g.depth + 1); } finally { if (foreign) this.taintDepth--; }
        if (!ok) continue;
      }
      if (foreign && tr && this.taintDepth === 0 && this.rec) for (const c of members) this.rec.taint.add(c);
      done ??= new Uint8Array(count);
      for (const i of g.at) done[i] = 1;
    }
    return done;
  }

  /**
   * The tokens at and below sibling nodes `nodes` (children of p, ascending), each stepped by its
   * byte from X at zero-width depth `depth` (see stepGroups), by a memo keyed by p, the siblings
   * and X's core: like subCore, its untainted tokens are added as they are and its tainted nodes
   * walked again, under the enclosing walk's tracker if there is one. False where X has no core
   * key or, under a tracker, where X's row is not local to it (the caller then walks the nodes).
   */
  private groupCore(p: number, nodes: number[], X: State, mask: Uint32Array, depth: number): boolean {
    const rt = this.rt;
    const tr = rt.track;
    rt.track = null; // (the key's own scans are not the walk's reads)
    let ck: CoreKey | null;
    // (without the scans of X's run: its verdicts are groups of their own, see walkSiblings)
    try { ck = this.coreKey(X, 1, false); } finally { rt.track = tr; }
    if (ck === null) return false;
    if (tr && this.taintDepth === 0 && this.rec) {
      if (!tr.local.has(X.row)) return false;
      if (ck.extKeyed && !tr.extKeyed) return false;
      if (ck.ended && !ck.ended.reads!.every((r) => tr.local.has(r))) return false;
    }
    // (the siblings by a hash in the key, and compared on a hit)
    let h = 0x811c9dc5;
    for (let i = 0; i < nodes.length; i++) h = Math.imul(h ^ nodes[i], 0x01000193);
    const key = `g${depth}:${p}:${nodes.length}:${h >>> 0}@${ck.key}`;
    let core = rt.subCoreMemo.get(key) as GroupMask | undefined;
    if (core && !sameNodes(core.nodes, nodes)) core = undefined;
    if (!core) {
      // walked into a mask of its own: its tokens are exactly the group's
      const own = new Uint32Array(mask.length);
      const rec = this.recording(X, ck, () => this.walkSiblings(p, nodes, X, own, depth));
      for (let i = 0; i < own.length; i++) mask[i] |= own[i];
      // Its untainted tokens: collected now where most are tainted (a line start that dedents),
      // else the bits kept, the tainted ones cleared at the first hit (most are never hit).
      const cut = this.tokensUnder(rec.taint);
      const set = 2 * cut > this.tokensUnder(nodes)
        ? this.scratchSet(this.collectTokens(own, nodes, false, rec.taint), own.length)
        : { tokens: null, bits: own };
      core = { nodes: Int32Array.from(nodes), ...set, ...rec, dirty: cut > 0 && set.bits === own };
      rt.subCoreMemo.set(key, core, subMemoWords(core, key));
      if (!tr || !this.rec || this.taintDepth > 0) return true;
    } else {
      this.stats.groupHits++;
      this.addUntainted(mask, core);
    }
    this.replaySiblings(p, X, mask, core, depth);
    return true;
  }

  /** Each of sibling nodes `nodes` stepped by its byte from X (see groupCore) and walked below. */
  private walkSiblings(p: number, nodes: number[], X: State, mask: Uint32Array, depth: number): void {
    const byte = this.trie.byte;
    const grouped = this.siblingGroups(p, nodes, X, mask, depth);
    for (let i = 0; i < nodes.length; i++) {
      if (grouped !== null && grouped[i]) continue;
      const c = nodes[i];
      const f0 = this.rt.track ? this.rt.track.foreign : 0;
      this.stats.nodesVisited++;
      const S2 = this.rt.step(X, byte[c], depth);
      this.descend(c, S2, f0, mask, S2 !== null);
    }
  }

  /** `replay` of a group memo (see groupCore): its recorded siblings stepped from X as walkSiblings does. */
  private replaySiblings(p: number, X: State, mask: Uint32Array, core: Replayable, depth: number): void {
    const { byte, parent } = this.trie;
    const plan = core.plan, flags = core.planTaint;
    const tr = this.rt.track;
    let tainted: number[] | null = null;
    for (let q = 0; q < plan.length; q++) if (flags[q] && parent[plan[q]] === p) (tainted ??= []).push(plan[q]);
    const grouped = tainted !== null ? this.siblingGroups(p, tainted, X, mask, depth) : null;
    let t = 0;
    for (let q = 0; q < plan.length; q++) {
      const c = plan[q];
      if (parent[c] !== p) continue; // (deeper: replayed from its sibling)
      if (flags[q] && grouped !== null && grouped[t++]) continue;
      this.stats.nodesVisited++;
      const f0 = tr ? tr.foreign : 0;
      const S2 = this.rt.step(X, byte[c], depth);
      if (flags[q]) this.descend(c, S2, f0, mask, S2 !== null);
      else if (S2) this.replayVia(c, S2, mask, core, f0);
    }
  }

  /** stepGroups for sibling nodes `nodes` (children of p) stepping from X, by X's runs. */
  private siblingGroups(p: number, nodes: number[], X: State, mask: Uint32Array, depth: number): Uint8Array | null {
    if (this.plainWalk || X.runs === null || X.fb || nodes.length < 2) return null;
    const runs = X.runs;
    const pairs = runPairs(runs);
    const byte = this.trie.byte;
    let groups: VerdictGroup[] | null = null;
    const slot = (q: number): RunSlot => runs[q >> 1];
    for (let i = 0; i < nodes.length; i++) groups = this.joinGroup(groups, p, pairs, byte[nodes[i]], X.ext, depth, i, slot);
    return groups === null ? null : this.stepGroups(groups, nodes, X.ext, mask, nodes.length);
  }

  /** The state after boundary node `i` of hub `k`'s entry (null: the prefix dies there). */
  private stepBoundary(e: MaskEntry, i: number, k: number, S: State, plain: PlainSteps): State | null {
    const j = e.nodes[i];
    const byte = this.trie.byte;
    this.stats.nodesVisited++;
    if (e.runs[i] === null && (e.fbNodes[i] === -1 || (e.fbNodes[i] === -2 && !S.fb))) {
      // No scanner runs or pending fallback: the state after the node depends only on (lexer
      // state, byte), shared by every such node of this walk (with whether it read foreign rows).
      const key = e.lexes[i] * 256 + byte[j];
      const known = this.knownStep(plain, key);
      if (known !== undefined) return known;
      const f0 = this.rt.track ? this.rt.track.foreign : 0;
      const S2 = this.rt.step({ row: S.row, lex: e.lexes[i], ext: S.ext, runs: null }, byte[j]);
      this.keepStep(plain, key, S2, f0);
      return S2;
    }
    // right below k the state is S itself (its lexer state, runs and fallback, nothing read since)
    const p = this.trie.parent[j];
    const runs = e.runs[i];
    let leafKey: string | null = null;
    if (runs !== null && this.trie.next[j] === j + 1 && (e.fbNodes[i] === -1 || (e.fbNodes[i] === -2 && !S.fb))) {
      // A leaf (in Python, a token that ends a comment line: 1,600 of them after `#`) where no
      // run decides: only a verdict re-reads the runs' bytes, so the step depends on (lexer
      // state, runs, byte) alone, and a leaf needs no more of the state after it than that.
      leafKey = `${e.lexes[i]}:${byte[j]}`;
      for (let q = 0; q < runs.length && leafKey !== null; q += 2) {
        const run = runs[q + 1] as RunObj;
        if (this.rt.decidesAt(run, byte[j], S.ext)) leafKey = null;
        else leafKey += `:${runs[q] as number}.${run.id}`;
      }
      if (leafKey !== null) {
        const known = this.knownStep(plain, leafKey);
        if (known !== undefined) return known;
      }
    }
    const f0 = this.rt.track ? this.rt.track.foreign : 0;
    const prev = p === k ? S : this.restoreAt(S, k, p, e.lexes[i], runs, e.fbNodes[i], e.fbLexes[i], e.fbRuns[i]);
    const S2 = this.rt.step(prev, byte[j]);
    if (leafKey !== null) this.keepStep(plain, leafKey, S2, f0);
    return S2;
  }

  /** A step of this hub walk kept in `plain` by `key` (its foreign reads counted again), or undefined. */
  private knownStep(plain: PlainSteps, key: number | string): State | null | undefined {
    const known = plain.map?.get(key);
    if (known !== undefined && plain.foreign?.has(key)) this.rt.track!.foreign++;
    return known;
  }

  /** Keeps step result S2, computed since the walk's foreign count was `f0`, in `plain` by `key`. */
  private keepStep(plain: PlainSteps, key: number | string, S2: State | null, f0: number): void {
    (plain.map ??= new Map()).set(key, S2);
    const tr = this.rt.track;
    if (tr && tr.foreign !== f0) (plain.foreign ??= new Set()).add(key);
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
    const cache = this.rt.maskCacheFor(this.trie);
    const key = S.lex * this.trie.nodeCount + k;
    // with scanner runs, by their ids too (one run: its id, no string to build)
    let byRuns: Map<number | string, MaskEntry> | undefined;
    let rkey: number | string = -1;
    let e: MaskEntry | undefined;
    if (S.runs) {
      if (S.runs.length === 1) rkey = S.runs[0].run.id;
      else { rkey = ''; for (const r of S.runs) rkey += `${r.run.id}:`; }
      byRuns = cache.withRuns.get(key);
      e = byRuns?.get(rkey);
    } else e = cache.map.get(key);
    if (e) return e;
    const level = this.entryLevel++;
    try { e = this.buildEntry(S, k, cache, level); } finally { this.entryLevel = level; }
    cache.size += (e.bits ? e.bits.length : e.count) + e.nodes.length * 3;
    if (cache.size > MASK_CACHE_LIMIT) { cache.map.clear(); cache.withRuns.clear(); cache.sets.length = 0; cache.setIds.clear(); cache.loops.clear(); cache.solo.clear(); cache.size = 0; byRuns = undefined; }
    if (!S.runs) cache.map.set(key, e);
    else {
      if (!byRuns) cache.withRuns.set(key, (byRuns = new Map()));
      byRuns.set(rkey, e);
    }
    return e;
  }

  /** entry's token lists while it builds, per nesting level (see buildEntry). */
  private readonly entryScratch: Int32Array[] = [];
  private entryLevel = 0;

  /** The walk that fills a new entry (see entry), `level` entries deep in building ones. */
  private buildEntry(S: State, k: number, cache: MaskCache, level: number): MaskEntry {
    const { byte, depth, next, tokStart, tokens, below } = this.trie;
    const lexer = this.rt.lexer;
    // (at most every token of the subtree, in a scratch list of this nesting level: a composed
    // subtree's entry is built inside this one's)
    let toks = this.entryScratch[level];
    const most = tokStart[next[k]] - tokStart[k];
    if (toks === undefined || toks.length < most) toks = this.entryScratch[level] = new Int32Array(Math.max(most, 2 * (toks?.length ?? 0)));
    let nt = 0;
    // composed entries kept as bits (see below), and how many tokens they hold
    let parts: MaskEntry[] | null = null;
    let partTokens = 0;
    const nodes: number[] = [], lexes: number[] = [], runsAt: ((number | RunObj)[] | null)[] = [];
    const base = depth[k];
    const lexStack: number[] = [S.lex];
    // scanner runs per depth, as interned run sets (-1: none)
    const runStack: number[] = [this.runSetIdOf(cache, S.runs)];
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
      let outId = -1, verdict = false;
      if (rsId >= 0) {
        outId = this.runSetStep(cache, rsId, b);
        if (outId === RUNS_VERDICT) { boundary = true; outId = -1; verdict = true; }
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
        // (runs that all decline byte b leave no trace in the state after it: the node steps as
        // a plain one, shared with the other nodes of its lexer state and byte; see stepBoundary)
        nodes.push(i); lexes.push(l); runsAt.push(rsId >= 0 && (verdict || outId >= 0) ? sets[rsId].pairs : null);
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
      for (let q = tokStart[i]; q < tokStart[i + 1]; q++) toks[nt++] = tokens[q];
      const slot = below[i];
      if (slot >= 0 && this.loopsOn(cache, nl, outId, slot)) {
        // every byte below keeps the state as it is (an identifier's letters, a string's or a
        // comment's text): the whole subtree is inside, without a boundary
        toks.set(tokens.subarray(tokStart[i + 1], tokStart[next[i]]), nt);
        nt += tokStart[next[i]] - tokStart[i + 1];
        i = next[i];
        continue;
      }
      if (outId < 0 && nl >= 0 && tokStart[next[i]] - tokStart[i + 1] >= COMPOSE_TOKENS) {
        // A large subtree inside the lexeme with no run: by the entry of its own lexer state,
        // shared by every lexer state that leads there (`ret`, `whi`, `sel`: each a state of its
        // own, for the keywords they may begin, all the generic identifier's one letter later).
        const ce = this.entry({ row: S.row, lex: nl, ext: S.ext, runs: null }, i);
        if (ce.bits) { (parts ??= []).push(ce); partTokens += ce.count; }
        else { toks.set(ce.tokens!, nt); nt += ce.count; }
        // (its fallback "the state's own" is the one in effect here)
        const fq = fbStack[d], fl = fq >= 0 ? lexStack[depth[fq] - base] : -1;
        const fr = fq >= 0 && runStack[depth[fq] - base] >= 0 ? sets[runStack[depth[fq] - base]].pairs : null;
        for (let x = 0; x < ce.nodes.length; x++) {
          nodes.push(ce.nodes[x]); lexes.push(ce.lexes[x]); runsAt.push(null);
          const inherit = ce.fbNodes[x] === -2;
          fbNodes.push(inherit ? fq : ce.fbNodes[x]);
          fbLexes.push(inherit ? fl : ce.fbLexes[x]);
          fbRuns.push(inherit ? fr : ce.fbRuns[x]);
        }
        i = next[i];
        continue;
      }
      i++;
    }
    // Large entries keep their tokens as bits only (a composed one's ORed in a word at a time),
    // small ones as a list.
    const count = nt + partTokens;
    let bits: Uint32Array | undefined;
    if (count >= BITS_MIN_TOKENS) {
      bits = new Uint32Array((this.trie.vocabSize + 31) >>> 5);
      if (parts !== null) for (const part of parts) { const pb = part.bits!; for (let w = 0; w < pb.length; w++) bits[w] |= pb[w]; }
      for (let q = 0; q < nt; q++) { const t = toks[q]; bits[t >>> 5] |= 1 << (t & 31); }
    }
    return { tokens: bits ? null : toks.slice(0, nt), count, bits, nodes: Int32Array.from(nodes), lexes: Int32Array.from(lexes), runs: runsAt, fbNodes: Int32Array.from(fbNodes), fbLexes: Int32Array.from(fbLexes), fbRuns };
  }

  /**
   * Whether lexer state `lex` and run set `rs` (-1: none) both step to themselves, without a
   * boundary, on every byte of summary `slot` (see FlatTrie.below), or, where its paths are
   * well-formed UTF-8, the lexer state on every character of them (and the runs on every byte).
   * Each byte is tried once per pair, when a summary first holds it.
   */
  private loopsOn(cache: MaskCache, lex: number, rs: number, slot: number): boolean {
    if (lex < 0 && rs < 0) return false; // (a dead state loops on nothing)
    const { belowBits, belowUtf8 } = this.trie;
    const o = slot * 8;
    if (this.loopsOnBytes(cache, lex, rs, o, 0, 8)) return true;
    // Else, where every path below is well-formed UTF-8: the lexer state loops on whole
    // characters (a comment's text steps through states of its own inside each multibyte one,
    // back to the state s at their ends), the runs on every byte from 80 up that is below, and
    // both on the ASCII bytes below (met in state s).
    const u = belowUtf8[slot];
    if (u < 0 || lex < 0) return false;
    const lexer = this.rt.lexer;
    if (u === 0) lexer.charLoopBits(lex); // (records the states inside its characters)
    const s = u === 0 ? lex : lexer.charOwner(lex, u);
    if (s < 0) return false;
    const chars = lexer.charLoopBits(s);
    for (let w = 4; w < 8; w++) if ((belowBits[o + w] & ~chars[w]) !== 0) return false;
    return this.loopsOnBytes(cache, s, rs, o, 0, 4) && this.loopsOnBytes(cache, -1, rs, o, 4, 8);
  }

  /**
   * Whether lexer state `lex` (-1: none) and run set `rs` (-1: none) both step to themselves on
   * every byte of the summary at `o` in words from..to (32 bytes each). Per pair, the bytes tried
   * so far and those they loop on are kept (words 0–7 and 8–15 of a 16-word record).
   */
  private loopsOnBytes(cache: MaskCache, lex: number, rs: number, o: number, from: number, to: number): boolean {
    const key = (rs + 1) * 1_000_000 + (lex + 1);
    let rec = cache.loops.get(key);
    if (rec === undefined) { rec = new Uint32Array(16); cache.loops.set(key, rec); cache.size += 16; }
    const below = this.trie.belowBits;
    const lexer = this.rt.lexer;
    for (let w = from; w < to; w++) {
      const want = below[o + w];
      let unknown = want & ~rec[w];
      while (unknown !== 0) {
        const bit = unknown & -unknown;
        unknown ^= bit;
        const b = (w << 5) | (31 - Math.clz32(bit));
        rec[w] |= bit;
        if ((lex < 0 || lexer.step(lex, b) === lex) && (rs < 0 || this.runSetStep(cache, rs, b) === rs)) rec[8 + w] |= bit;
      }
      if ((want & ~rec[8 + w]) !== 0) return false;
    }
    return true;
  }

  /** The run set (see runSetOf) of a state's runs, -1 for none (a single run's by a lookup on it). */
  private runSetIdOf(cache: MaskCache, runs: State['runs']): number {
    if (runs === null) return -1;
    if (runs.length > 1) return this.runSetOf(cache, runPairs(runs));
    let id = cache.solo.get(runs[0].run);
    if (id === undefined) { id = this.runSetOf(cache, [0, runs[0].run]); cache.solo.set(runs[0].run, id); }
    return id;
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
      // (an ask is answered by the scanner state, which entries leave out: a full step there)
      if ('ask' in x) { result = RUNS_VERDICT; break; }
      if ('verdict' in x) { if (out.length === 0) { result = RUNS_VERDICT; break; } continue; }
      // (a younger run in the state of an older one never matters: see runtime addRun)
      let dup = false;
      for (let o = 1; o < out.length; o += 2) if (out[o] === x) { dup = true; break; }
      if (!dup) out.push(rs[q], x);
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

  /** What the current state is in (see MaskStateKind). */
  stateKind(): MaskStateKind {
    const S = this.state;
    const lexer = this.rt.lexer;
    if (S.fb) return 'fallback';
    if (S.runs || S.lex < 0) return 'scanner-run';
    if (lexer.isStart(S.lex)) return 'lexeme-start';
    if (!lexer.isAccepting(S.lex)) return 'inside-lexeme';
    const end = this.rt.endLexeme(S.row, S.lex);
    return end === null ? 'inside-lexeme' : end.reads ? 'lexeme-end' : 'extra';
  }

  /** Examples of the lexemes allowed next, seen through a pending scanner run (examples.ts). */
  nextLexemeExamples(): Uint8Array[] { return nextExamplesPastRuns(this.rt, this.state); }

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

/** A core key as coreKey returns it (see there). */
interface CoreKey { key: string; rows: Row[]; ended: Boundary | null; scans: Set<Scanned> | null; runBytes: boolean; extKeyed: boolean }

/** The read tracker of a walk that fills the core memo of key `ck` from state S. */
function trackerFor(S: State, ck: CoreKey): ReadTracker {
  // run bytes the key leaves out: a zero-width token that re-reads them taints the node
  const runBytes = new Set<ByteList>();
  if (!ck.runBytes) for (const r of S.runs ?? []) if (r.bytes) runBytes.add(r.bytes);
  return { local: new Set(ck.rows), startId: S.row.id, foreign: 0, runBytes, trusted: ck.ended, trustedScans: ck.scans, fbStart: S.fb ? S.fb.S : null, extKeyed: ck.extKeyed };
}

/** A state's runs as [slot index, run] pairs, oldest first (the form of a run set: see runSetOf). */
function runPairs(runs: readonly RunSlot[]): (number | RunObj)[] {
  return runs.flatMap((r, i) => [i, r.run]);
}

/** ORs a token set into `mask`: as bits when it has them, else token by token. */
function addTokens(mask: Uint32Array, bits: Uint32Array | null | undefined, tokens: Int32Array | null): void {
  if (bits) { for (let i = 0; i < bits.length; i++) mask[i] |= bits[i]; return; }
  const toks = tokens!;
  for (let i = 0; i < toks.length; i++) { const t = toks[i]; mask[t >>> 5] |= 1 << (t & 31); }
}

/** A subtree or group memo's size in 32-bit words (its tokens, its record, its key), for the memo bound. */
function subMemoWords(core: SubCoreMask, key: string): number {
  return (core.bits ? core.bits.length : core.tokens!.length) + recordWords(core) + (key.length >> 1);
}

/** A memo record's size in 32-bit words (plan, tainted nodes, flags), for the memo bounds. */
function recordWords(rec: Replayable): number {
  return rec.plan.length + rec.taint.length + (rec.planTaint.length >> 2);
}

const NO_INTS = new Int32Array(0);
const NO_TERMS: readonly number[] = [];
const NO_FLAGS = new Uint8Array(0);

/** A finished walk's record compacted: its replay plan and sorted tainted nodes (see Replayable). */
function replayableOf(rec: Recording): Replayable {
  const nt = rec.taint.size, n = nt + rec.via.size;
  if (n === 0) return { taint: NO_INTS, plan: NO_INTS, planTaint: NO_FLAGS };
  const plan = new Int32Array(n);
  let i = 0;
  for (const j of rec.taint) plan[i++] = j;
  const taint = plan.slice(0, nt).sort();
  for (const j of rec.via) plan[i++] = j;
  plan.sort();
  // (a node is in one set only; dropped if twice all the same)
  let m = 0;
  for (let q = 0; q < n; q++) if (m === 0 || plan[q] !== plan[m - 1]) plan[m++] = plan[q];
  const flags = new Uint8Array(m);
  for (let q = 0, t = 0; q < m; q++) {
    while (t < nt && taint[t] < plan[q]) t++;
    if (t < nt && taint[t] === plan[q]) flags[q] = 1;
  }
  return { taint, plan: m === n ? plan : plan.slice(0, m), planTaint: flags };
}

/** The tokens set in `bits`, ascending. */
function tokensOf(bits: Uint32Array): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < bits.length; i++) {
    for (let w = bits[i]; w !== 0; w &= w - 1) out.push((i << 5) | (31 - Math.clz32(w & -w)));
  }
  return Int32Array.from(out);
}

/** Whether two node lists are equal. */
function sameNodes(a: Int32Array, b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The first index of ascending `a` whose value is at least x. */
function lowerBound(a: Int32Array, x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * The part of a core key of depth > 1 (see GrammarMatcher.replayDeep): the kernels of the rows up
 * to depth - 1 origin links back from X (those not among `keyed`), each by its class in `cls`;
 * those rows are appended to `older`. Empty at depth 1.
 */
function olderKernels(X: Row, keyed: readonly Row[], cls: Map<Row, number>, depth: number, older: Row[]): string {
  if (depth <= 1) return '';
  let out = '';
  const seen = new Set<Row>(keyed);
  let frontier: Row[] = [X];
  for (let d = 1; d < depth; d++) {
    const next: Row[] = [];
    for (const F of frontier) for (const o of F.orig) if (!seen.has(o)) { seen.add(o); next.push(o); }
    next.sort((a, b) => cls.get(a)! - cls.get(b)!);
    for (const o of next) out += `/${cls.get(o)}:${o.initial ? 'I' : ''}${kernelKey(o, cls)}`;
    older.push(...next);
    frontier = next;
  }
  return `${out}#${depth}`;
}

/**
 * A row's kernel items by dotted position, each origin as its class in `cls` (rows met first get
 * the next number; the map is shared by the rows of one key, so equal origins show). Keys only
 * their equality, not what they hold: a walk that reads an origin's items is tainted (see
 * GrammarMatcher.computeMask). Two equal keys describe the same items up to renaming the origins
 * (class c ↔ class c), whatever order ties at one position come in; a different tie order only
 * costs a hit. Keys of the origins' kernels too repeat less: they are a second level only (see
 * replayDeep).
 *
 * `open`: the origins not in `cls` are one class `f`, and an item repeated with another such
 * origin is one item. `cls` holds the key's rows (GrammarMatcher.coreKey), so no such origin is
 * one of them or a row the walk makes: a walk that reads one is tainted, one that does not sees
 * only the positions of those items, whatever their origins and however many. (Ambiguous
 * operator chains, `a && b && c`, keep an item per way to bracket them: the row after each
 * operand is new, its positions are not.)
 */
function kernelKey(X: Row, cls: Map<Row, number>, open = false): string {
  const n = X.pos.length;
  let key = '';
  let prev = -1;
  for (let i = 0; i < n; i++) {
    // (a row's kernel is in position order)
    const o = X.orig[i];
    let c = cls.get(o);
    if (c === undefined) {
      if (open) {
        // (one `f` item per position)
        if (X.pos[i] !== prev) { prev = X.pos[i]; key += `${X.pos[i]}.f,`; }
        continue;
      }
      c = cls.size; cls.set(o, c);
    }
    key += `${X.pos[i]}.${c},`;
  }
  return key;
}
