// Per-grammar runtime: the Earley tables, the combined lexer and the lexeme-boundary logic
// (keywords, reserved words, extras, immediacy, precedence) shared by every matcher of a grammar.
// A parser state is the pair (Earley row, lexer state); `step` advances it by one byte.
import type { ByteDfa, CompiledGrammar } from './types';
import { CombinedLexer, SHADOW } from './lexer';
import { EarleyTables, Row, initialRow, scan } from './earley';
import { keepExt, type ScannerHooks, type ScannerVerdict } from './scanner';
import { LANGUAGES } from '../../../grammars';

/** An interned persistent scanner state; `rk`: the number of its run key (see ScannerHooks.runKey). */
export interface ExtObj { readonly data: unknown; readonly key: string; readonly id: number; readonly rk: number }
/**
 * Interned scanner run with its memoized byte transitions: in a map while few (most runs see one
 * or two bytes), then in a 256-entry table (the runs begun at every boundary see every byte).
 */
export interface RunObj {
  readonly data: unknown; readonly id: number; readonly memo: Map<number, RunStepped>; table: (RunStepped | undefined)[] | null;
  /** What the run may decide at its next byte (see runVerdicts), when no step there asks. */
  verdicts?: RunVerdicts;
  /** Likewise by scanner state id, when one does. */
  verdictsByExt?: Map<number, RunVerdicts>;
}
/**
 * Terminals of the verdicts a run may give at its next byte, ascending; whether one is zero-width;
 * whether a step there asks (see ScannerHooks.resolve).
 */
export interface RunVerdicts { readonly terms: number[]; readonly rereads: boolean; readonly asks: boolean }
/**
 * A step's question about the scanner state the run began in (see ScannerHooks.resolve), with
 * its answers by that state's id.
 */
export interface AskObj {
  readonly ask: true; readonly data: unknown; readonly answers: Map<number, RunObj | VerdictObj | null>;
  /** The last answer looked up, by its state's id (-2: none): most asks are answered for one state. */
  lastId: number; lastOut: RunObj | VerdictObj | null;
}
type RunStepped = RunObj | VerdictObj | AskObj | null;
/** Memoized bytes of a run from which on they go in a table. */
const RUN_TABLE_AT = 8;
/** A scanner verdict with the token mapped to its terminal id. */
/**
 * An interned scanner verdict. `ext`: the scanner state after it, or null when it is an edit of the
 * state the run began in (`edit`, results by that state's id in `edited`; see ScannerVerdict).
 */
export interface VerdictObj {
  readonly verdict: true; readonly terminal: number; readonly ext: ExtObj | null;
  readonly edit: ((ext: never) => unknown) | null; readonly edited: Map<number, ExtObj> | null;
  readonly refeed: Uint8Array; readonly refeedRun: boolean;
  /**
   * What the verdict does apart from the bytes it re-reads (its token, and its edit of the scanner
   * state or the state it sets) by number: verdicts of one group (see groupVerdict) share it.
   */
  readonly gid: number;
}

/** Bytes a scanner run has consumed, newest first (persistent list). */
export interface ByteList { readonly b: number; readonly prev: ByteList | null }

/** A scanner run in progress: begun at boundary row `row`, having consumed `bytes`. */
export interface RunSlot {
  readonly run: RunObj;
  readonly row: Row;
  /** Bytes consumed by the run (zero-width tokens re-read them). */
  readonly bytes: ByteList | null;
}

/**
 * A full parser state. `row`/`lex`: the regex lexer's hypothesis (lex -1: dead); `runs`: external
 * scanner runs begun at earlier boundaries, oldest first (tree-sitter tries the scanner at every
 * boundary; a younger run matters only if the older ones fail); `ext`: persistent scanner state
 * (null for languages without an emulation).
 */
export interface State {
  readonly row: Row;
  readonly lex: number;
  readonly ext: ExtObj | null;
  readonly runs: readonly RunSlot[] | null;
  /**
   * Longest-match backtracking (tree-sitter's lexer): when the current lexeme went on past a point
   * where it matched (`static` in `static get`), the state at that point and the bytes since; if
   * the lexeme dies before matching again, it ends there and those bytes are read again.
   */
  readonly fb?: Fallback | null;
}

export interface Fallback { readonly S: State; readonly bytes: ByteList }

const NO_RUNS: readonly RunSlot[] = [];

/**
 * A cached walk below one trie node from one row-independent state (lexer state + scanner runs):
 * the tokens whose fate that state alone decides, and the nodes where the parser must be asked
 * (a lexeme ends, or a scanner run emits a token), with the state just before them.
 */
export interface MaskEntry {
  /** The tokens as a list, where there are too few for `bits` (else null). */
  tokens: Int32Array | null;
  /** How many tokens. */
  count: number;
  /** Boundary nodes. */
  nodes: Int32Array;
  /** Lexer state before each boundary node. */
  lexes: Int32Array;
  /** Surviving runs before each boundary node as [slot index, run] pairs (null: none). */
  runs: ((number | RunObj)[] | null)[];
  /**
   * Per boundary node, the pending longest-match fallback at its parent: -1 none, -2 the walk's
   * starting state's own, else the node where the lexeme last matched (with the lexer state and
   * runs there).
   */
  fbNodes: Int32Array;
  fbLexes: Int32Array;
  fbRuns: ((number | RunObj)[] | null)[];
  /** The tokens as a bitset, for large entries (then `tokens` is null). */
  bits?: Uint32Array;
}

/** Scanner runs alive at a trie node ([slot index, run] pairs) with memoized byte transitions. */
export interface RunSet { pairs: (number | RunObj)[]; trans: Int32Array }

/**
 * Per-vocabulary mask cache: entries by lexer state × node (`withRuns`: then by the runs' ids),
 * interned run sets, and their total size in 32-bit words.
 */
export interface MaskCache {
  map: Map<number, MaskEntry>; withRuns: Map<number, Map<number | string, MaskEntry>>; sets: RunSet[]; setIds: Map<string, number>;
  /** Per (lexer state, run set) pair, the bytes tried and those it steps to itself on (see GrammarMatcher.loopsOnBytes). */
  loops: Map<number, Uint32Array>;
  /** The run set of each single run (see GrammarMatcher.runSetIdOf). */
  solo: Map<RunObj, number>;
  size: number;
  /** Whether no token of the vocabulary reaches a later line (see ScannerHooks.sameLine); unset until asked. */
  sameLine?: boolean;
}
const RUN_INTERN_LIMIT = 100_000;
/** Words (4 bytes) of exact masks per grammar runtime: 8 MB (500 masks at 128k tokens). */
const EXACT_MEMO_LIMIT = 2_000_000;
/**
 * Core masks a grammar runtime keeps at least room for (see GrammarRuntime.fitVocabulary): at
 * 128k tokens the core memo then holds up to 96 MB. With room for a quarter of that (24 MB), a
 * long session evicted cores it met again: in `bench-mask --mode session --files 120`, the
 * masks over 1 ms from file 41 on were 2.0% of JavaScript's and 1.8% of TypeScript's, and are
 * 1.3% and 0.6% with this room (p99 1.55 → 1.16 ms and 1.33 → 0.83 ms). Held by content (see
 * ArrayStore), that session's entries take 40–55% less, well under the room.
 */
const CORE_MEMO_MASKS = 6000;
/** Words of core masks per grammar runtime at small vocabularies (24 MB), and at most (128 MB). */
const CORE_MEMO_MIN_WORDS = 6_000_000, CORE_MEMO_MAX_WORDS = 32_000_000;
/** Words of subtree core masks per grammar runtime (tokens and node ids: 32 MB). */
const SUB_CORE_MEMO_LIMIT = 8_000_000;

/**
 * Values by key with their sizes in 32-bit words, least recently used first, bounded by `limit`
 * words: evicting the oldest, not clearing all, as half the cold walks in minified code were of
 * cores seen before and dropped by a clear. (Nearly LRU: an entry used while in the younger half
 * stays where it is.)
 */
export class LruMemo<V> {
  private readonly map = new Map<string, { value: V; words: number; at: number }>();
  private words = 0;
  /** Where eviction goes on from: the oldest entry next (see set). */
  private evictor: IterableIterator<[string, { value: V; words: number; at: number }]> | null = null;
  /** Entries stored so far: an entry's `at` says how many came after it. */
  private clock = 0;
  /**
   * `shared`: where values hold arrays by content (their `held`: see ArrayStore), that store:
   * its words count against the limit too, and a value leaving the memo releases its arrays.
   */
  constructor(private limit: number, private readonly shared: ArrayStore | null = null) {}

  /** Words held now (with the shared arrays). */
  get size(): number { return this.words + (this.shared ? this.shared.words : 0); }
  /** Entries held now. */
  get entries(): number { return this.map.size; }
  /** The word limit. */
  get capacity(): number { return this.limit; }

  /** Raises the word limit to `limit` (a lower one leaves it as it is). */
  raise(limit: number): void { if (limit > this.limit) this.limit = limit; }

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    // moved to the young end only once it is in the older half: a hit costs one lookup, not
    // three (subtree memos are looked up by the hundred per mask), and what is used stays
    if (this.clock - e.at > this.map.size >> 1) {
      this.map.delete(key);
      this.map.set(key, e);
      e.at = this.clock;
    }
    return e.value;
  }

  set(key: string, value: V, words: number): void {
    const old = this.map.get(key);
    if (old) { this.map.delete(key); this.words -= old.words; this.release(old.value); }
    this.map.set(key, { value, words: words + 16, at: ++this.clock });
    this.words += words + 16;
    // Evicts from where the last eviction stopped: every entry before that point was evicted
    // (or moved to the young end), so it is the oldest. A fresh iterator would skip all the
    // holes those deletions left at the front of the map's table, at every store once the memo
    // is full: 400,000 stores took 8.6 s that way, 0.14 s this way.
    while (this.size > this.limit) {
      let r = this.evictor?.next();
      if (!r || r.done) { this.evictor = this.map.entries(); r = this.evictor.next(); if (r.done) break; }
      const [k, e] = r.value;
      this.map.delete(k);
      this.words -= e.words;
      this.release(e.value);
    }
  }

  private release(value: V): void {
    const held = (value as { held?: Held[] }).held;
    if (this.shared && held) for (const s of held) this.shared.release(s);
  }
}

/** The typed arrays a memo entry holds by content (see ArrayStore). */
export type HeldArray = Int32Array | Uint32Array | Uint8Array;
/** An array held by content in an ArrayStore, and how many memo entries hold it. */
export interface Held<T extends HeldArray = HeldArray> { readonly a: T; readonly hash: number; refs: number }

/**
 * Typed arrays by content, each kept once however many memo entries hold it. Core memo entries
 * repeat each other's arrays: in a 45-file JavaScript session at 128k tokens the core masks'
 * bitsets were 2.3× and the deeper memos' token lists 3.7× (their replay plans 10×) what the
 * distinct ones take, so one copy of each makes room for several times the entries.
 */
export class ArrayStore {
  private readonly byHash = new Map<number, Held | Held[]>();
  /** Words (4 bytes) of the distinct arrays held. */
  words = 0;

  /** The held array equal to `a` (one holder more), else `a` itself (or a copy) now held. */
  intern<T extends HeldArray>(a: T, copy: boolean): Held<T> {
    let h = a.length ^ (a instanceof Uint8Array ? 0x55555555 : a instanceof Int32Array ? 0x33333333 : 0);
    for (let i = 0; i < a.length; i++) h = (Math.imul(h ^ a[i], 0x9e3779b1) + i) | 0;
    const at = this.byHash.get(h);
    if (at !== undefined) {
      for (const s of Array.isArray(at) ? at : [at]) {
        if (sameArray(s.a, a)) { s.refs++; return s as Held<T>; }
      }
    }
    const s: Held<T> = { a: copy ? a.slice() as T : a, hash: h, refs: 1 };
    if (at === undefined) this.byHash.set(h, s);
    else if (Array.isArray(at)) at.push(s);
    else this.byHash.set(h, [at, s]);
    this.words += (a.byteLength + 3) >> 2;
    return s;
  }

  /** One holder fewer; the last one's leaving drops the array. */
  release(s: Held): void {
    if (--s.refs > 0) return;
    const at = this.byHash.get(s.hash);
    if (at === s) this.byHash.delete(s.hash);
    else if (Array.isArray(at)) {
      const i = at.indexOf(s);
      if (i >= 0) at.splice(i, 1);
      if (at.length === 1) this.byHash.set(s.hash, at[0]!);
    }
    this.words -= (s.a.byteLength + 3) >> 2;
  }
}

function sameArray(a: HeldArray, b: HeldArray): boolean {
  if (a.length !== b.length || a.constructor !== b.constructor) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Forward-result key of a scan by one lexeme t: CAND_KEY - t (lexer states are >= 0, verdicts -1 - t). */
const CAND_KEY = -(1 << 24);
/** Forward results (see `fwd`) kept per grammar runtime. */
const FORWARD_LIMIT = 120_000;
const MAX_ZERO_WIDTH = 64;
/** Core keys numbered (see GrammarRuntime.coreId) before the numbering map starts afresh. */
const CORE_ID_LIMIT = 200_000;
/** Run bytes from which on feedList memoizes. */
const REFEED_MEMO_MIN = 32;
const REFEED_ANCHOR = 16;

/** A memoized feedList: the state, whether it read foreign rows, under which tracker. */
interface Fed { S: State | null; foreign: boolean; tr: ReadTracker | null }

/** A memoized afterRereading: its inputs besides the byte list, and a Fed. */
interface Reread extends Fed { row: Row; terminal: number; ext: ExtObj | null; depth: number }

/**
 * Result of ending the current lexeme: the parser row after it and the next lexer start state;
 * `sep`: the lexeme was a whitespace separator extra (tree-sitter's lexer skips those inside one
 * lex call, so the external scanner is not called again after them); `reads`: the rows the scan
 * read (absent when the lexeme was an extra and the row stays).
 */
export interface Boundary { row: Row; start: number; sep?: boolean; reads?: readonly Row[] }

/** How a lexeme ending in one lexer state ends (see GrammarRuntime.lexemeEnd). */
interface LexemeEnd { cands: number[]; ckey: string | number; extra: boolean; sepOnly: boolean }

/** A cached scan by one external token: the row after it (null: not expected) and the rows read. */
export interface Scanned { row: Row | null; reads: readonly Row[] }

/**
 * A mask walk's record of which rows the parser read (see GrammarMatcher.computeMask): `local`
 * holds the walk's starting row and every younger row scanned from local rows; a scan that read
 * any other row (an origin in the history behind the start) bumps `foreign`.
 */
export interface ReadTracker {
  readonly local: Set<Row>;
  /** Id of the starting row: rows produced in the walk with a smaller id are not local. */
  readonly startId: number;
  foreign: number;
  /**
   * The byte lists of the starting state's scanner runs: a zero-width token that re-reads them
   * makes the result depend on those bytes (the core key leaves them out), so it counts as foreign.
   */
  readonly runBytes: Set<ByteList>;
  /**
   * The end of the lexeme in progress at the start, whose row the key holds (coreKey): its scan
   * read the history, but its result is keyed, so it taints nothing.
   */
  readonly trusted: Boundary | null;
  /**
   * The lexeme match the starting state may fall back to (its pending fallback's state), if any:
   * the key leaves out what was read since, so a walk that falls back to it is tainted.
   */
  readonly fbStart: State | null;
  /** Likewise the scans by the external tokens the starting state's runs may emit next. */
  readonly trustedScans: ReadonlySet<Scanned> | null;
  /**
   * The key holds the whole scanner state, not only its run key: an ask is then no foreign read.
   */
  readonly extKeyed: boolean;
}

export class GrammarRuntime {
  readonly tables: EarleyTables;
  readonly lexer: CombinedLexer;
  readonly initial: Row;
  readonly initialLex: number;
  private readonly isExtra: Uint8Array;
  /** Extras that are bare patterns (whitespace): tree-sitter's lexer skips them as separators. */
  private readonly isSeparator: Uint8Array;
  private readonly isWord: Uint8Array;
  private readonly isKeyword: Uint8Array;
  private readonly immediate: Uint8Array;
  private readonly hasDfa: Uint8Array;
  private readonly reservedKeywords: number[];
  private readonly reservedSets: Map<number, Set<string>>;
  private readonly prec: Int32Array;
  private readonly globalWord: number;
  /** The language's scanner emulation, if any. */
  readonly hooks: ScannerHooks | undefined;
  private readonly exts = new Map<string, ExtObj>();
  private readonly startByExpected = new Map<string, number>();
  /** Mask walk caches (see GrammarMatcher.walk) per vocabulary trie, keyed by lexer state × node. */
  private readonly maskCaches = new WeakMap<object, MaskCache>();

  maskCacheFor(trie: object): MaskCache {
    let c = this.maskCaches.get(trie);
    if (!c) { c = { map: new Map(), withRuns: new Map(), sets: [], setIds: new Map(), loops: new Map(), solo: new Map(), size: 0 }; this.maskCaches.set(trie, c); }
    return c;
  }
  /**
   * Masks by exact state key (interned row id + lexer state + scanner state; see
   * GrammarMatcher.stateKey), and core masks by core key (see GrammarMatcher.coreKey), each
   * bounded apart so that exact masks, which seldom recur far apart, do not push out cores.
   */
  readonly exactMemo = new LruMemo<Uint32Array>(EXACT_MEMO_LIMIT);
  /** The core memo's arrays (see ArrayStore). */
  readonly coreArrays = new ArrayStore();
  readonly coreMemo = new LruMemo<object>(CORE_MEMO_MIN_WORDS, this.coreArrays);

  /**
   * Gives the core memo room for CORE_MEMO_MASKS masks of a vocabulary of `vocabSize` tokens (up
   * to CORE_MEMO_MAX_WORDS; never less than it has): called by every matcher, the largest
   * vocabulary sets it.
   */
  fitVocabulary(vocabSize: number): void {
    const words = (vocabSize + 31) >>> 5;
    this.coreMemo.raise(Math.min(CORE_MEMO_MAX_WORDS, CORE_MEMO_MASKS * words));
  }
  /** Core masks of subtrees past a lexeme boundary (GrammarMatcher.subCore), by node and core key. */
  readonly subCoreMemo = new LruMemo<object>(SUB_CORE_MEMO_LIMIT);
  /**
   * Results that point forward from a row (the row after scanning a lexeme there). They live
   * here, not on the row, so that rows only point back to their origins and the rows of old
   * parses can be collected; bounded, and dropped whenever the row table starts a generation.
   */
  private fwd = new Map<number, Map<string | number, unknown>>();
  private fwdSize = 0;
  private fwdGeneration = 0;

  /** The last row looked up and its results (a walk asks about one row many times in a row). */
  private fwdRow: Row | null = null;
  private fwdRowMap: Map<string | number, unknown> | undefined = undefined;

  private fwdOf(row: Row): Map<string | number, unknown> | undefined {
    if (this.fwdGeneration !== this.tables.rows.generation) this.fwdReset(this.tables.rows.generation);
    if (row !== this.fwdRow) { this.fwdRow = row; this.fwdRowMap = this.fwd.get(row.id); }
    return this.fwdRowMap;
  }

  private fwdReset(generation: number): void {
    this.fwd = new Map(); this.fwdSize = 0; this.fwdGeneration = generation; this.fwdRow = null; this.fwdRowMap = undefined;
  }

  private fwdGet(row: Row, key: string | number): unknown {
    return this.fwdOf(row)?.get(key);
  }

  private fwdSet(row: Row, key: string | number, value: unknown): void {
    if (this.fwdSize >= FORWARD_LIMIT) this.fwdReset(this.fwdGeneration);
    let m = this.fwdOf(row);
    if (!m) { m = new Map(); this.fwd.set(row.id, m); this.fwdRowMap = m; }
    m.set(key, value);
    this.fwdSize++;
  }
  /** Core keys (see GrammarMatcher.coreKey) by number; numbers are never reused, the map is bounded. */
  private coreIds = new Map<string, number>();
  private coreIdNext = 0;

  /** The number of core key `core`. */
  coreId(core: string): number {
    let id = this.coreIds.get(core);
    if (id === undefined) {
      if (this.coreIds.size >= CORE_ID_LIMIT) this.coreIds.clear(); // (a core seen again gets a new number: a memo miss)
      id = this.coreIdNext++;
      this.coreIds.set(core, id);
    }
    return id;
  }

  /** Set by a mask walk that records the rows it reads; null otherwise. */
  track: ReadTracker | null = null;
  /** feedList results by the list node they end at, then by start state and depth. */
  private readonly fedMemo = new WeakMap<ByteList, Map<string, Fed>>();
  /**
   * Whether a memoized state may be taken by the walk now reading (see ReadTracker): a walk that
   * records its reads takes only what it computed itself, and counts the foreign reads it skips.
   */
  private takeFed(hit: Fed): boolean {
    const tr = this.track;
    if (tr === null) return true;
    if (hit.tr !== tr) return false;
    if (hit.foreign) tr.foreign++;
    return true;
  }

  /** A state to memoize, computed since the walk's foreign count was `f0` (see takeFed). */
  private fed(S: State | null, f0: number): Fed {
    const tr = this.track;
    return { S, foreign: tr !== null && tr.foreign !== f0, tr };
  }

  /** afterRereading results by the run bytes they read. */
  private readonly rereadMemo = new WeakMap<ByteList, Reread[]>();

  /** A walk's record of a lexeme end it used (cached or new); the key's own end is trusted. */
  private noteBoundary(b: Boundary | null): void {
    const tr = this.track;
    if (tr === null || b === null || b === tr.trusted) return;
    if (b.reads) this.noteReads(b.reads, b.row);
    // an extra ended: the row stays, and its start state is read (a row outside the key: foreign)
    else if (!tr.local.has(b.row)) tr.foreign++;
  }

  private noteReads(reads: readonly Row[], produced: Row | null): void {
    const tr = this.track!;
    for (const r of reads) {
      // a row made from foreign rows is not local either: what follows it is tainted too
      if (!tr.local.has(r)) { tr.foreign++; return; }
    }
    // A row older than the walk's start may be one of its ancestors: reached again by scanning
    // (`x;` yields the statement row the start's kernel points back to), it would read the same
    // as through an origin pointer in one parse and differ in another. Only younger rows count.
    if (produced && produced.id > tr.startId) tr.local.add(produced);
  }

  private runs = new Map<string, RunObj>();
  /** Run keys (see ScannerHooks.runKey) by number. */
  private readonly runKeys = new Map<string, number>();
  /** Runs begun, by scanner state run key and valid-external set (see beginRun). */
  private readonly begun = new Map<number, Map<number | string, RunObj | null>>();
  private begunSize = 0;
  private runIds = 0;
  private readonly initialExt: ExtObj | null;

  constructor(readonly grammar: CompiledGrammar) {
    const T = grammar.terminals.length;
    this.tables = new EarleyTables(grammar);
    this.lexer = new CombinedLexer(grammar);
    this.isExtra = new Uint8Array(T);
    this.isSeparator = new Uint8Array(T);
    for (const e of grammar.extras) {
      this.isExtra[e] = 1;
      if (grammar.terminals[e].name.startsWith('/')) this.isSeparator[e] = 1;
    }
    this.isWord = new Uint8Array(T);
    this.isKeyword = new Uint8Array(T);
    this.immediate = new Uint8Array(T);
    this.hasDfa = new Uint8Array(T);
    this.prec = new Int32Array(T);
    this.reservedSets = new Map();
    const reservedAll = new Set<string>();
    for (const list of Object.values(grammar.reserved)) for (const w of list) reservedAll.add(w);
    this.reservedKeywords = [];
    grammar.terminals.forEach((t, i) => {
      this.prec[i] = t.prec;
      if (t.dfa) this.hasDfa[i] = 1;
      if (t.immediate) this.immediate[i] = 1;
      if (t.reservedContext !== undefined) {
        this.isWord[i] = 1;
        this.reservedSets.set(i, new Set(grammar.reserved[t.reservedContext] ?? []));
      }
      if (t.keyword) {
        this.isKeyword[i] = 1;
        if (reservedAll.has(t.text!)) this.reservedKeywords.push(i);
      }
    });
    if (grammar.word >= 0) this.isWord[grammar.word] = 1;
    this.globalWord = grammar.word;
    this.initial = initialRow(this.tables);
    this.initialLex = this.startState(this.initial, false);
    this.hooks = LANGUAGES[grammar.language]?.scanner?.hooks;
    const ext = this.hooks ? this.internExt(this.hooks.initial) : null;
    this.initialExt = ext;
  }

  /**
   * The state at the start of a file. Rows are interned, so every matcher of this grammar shares
   * the first row and everything cached after it, until the row table starts a new generation.
   */
  newInitialState(): State {
    const row = initialRow(this.tables);
    return this.boundary(row, this.startState(row, false), this.initialExt);
  }

  internExt(data: unknown): ExtObj {
    const key = JSON.stringify(data);
    let e = this.exts.get(key);
    if (!e) {
      const rkey = this.hooks?.runKey ? this.hooks.runKey(data) : key;
      let rk = this.runKeys.get(rkey);
      if (rk === undefined) { rk = this.runKeys.size; this.runKeys.set(rkey, rk); }
      e = { data, key, id: this.exts.size, rk };
      this.exts.set(key, e);
    }
    return e;
  }

  private internRun(data: unknown): RunObj {
    const key = JSON.stringify(data);
    let r = this.runs.get(key);
    if (!r) {
      if (this.runs.size > RUN_INTERN_LIMIT) this.runs = new Map(); // old runs stay valid, just unshared
      r = { data, id: this.runIds++, memo: new Map(), table: null };
      this.runs.set(key, r);
    }
    return r;
  }

  /** Whether `row` expects external number `i` (grammar.json `externals` order). */
  private validFn(row: Row): (i: number) => boolean {
    const ex = this.grammar.externals;
    return (i: number) => ex[i] !== undefined && ex[i] >= 0 && row.expects(ex[i]);
  }

  /**
   * The scanner run begun at a boundary after `row` with scanner state `ext`. `begin` sees the row
   * only through which externals are valid and the state only through its run key, so runs are
   * shared by (run key, valid set).
   */
  private beginRun(row: Row, ext: ExtObj | null): RunObj | null {
    if (!this.hooks || !ext) return null;
    if (row.runExt === ext.rk) return row.run as RunObj | null;
    // the valid set as bits (a string past 30 externals)
    const ex = this.grammar.externals;
    let valid: number | string = ex.length <= 30 ? 0 : '';
    for (let i = 0; i < ex.length; i++) {
      const v = ex[i] >= 0 && row.expects(ex[i]);
      if (typeof valid === 'number') { if (v) valid |= 1 << i; } else valid += v ? '1' : '0';
    }
    let begun = this.begun.get(ext.rk);
    if (!begun) this.begun.set(ext.rk, (begun = new Map()));
    let run = begun.get(valid);
    if (run === undefined) {
      const data = this.hooks.begin(ext.data, this.validFn(row));
      run = data === null ? null : this.internRun(data);
      if (++this.begunSize >= RUN_INTERN_LIMIT) { this.begun.clear(); this.begunSize = 1; this.begun.set(ext.rk, (begun = new Map())); }
      begun.set(valid, run);
    }
    row.runExt = ext.rk;
    row.run = run;
    return run;
  }


  runStep(run: RunObj, b: number): RunStepped {
    const table = run.table;
    const m = table !== null ? table[b] : run.memo.get(b);
    if (m !== undefined) return m;
    const r = this.hooks!.step(run.data, b);
    let out: RunStepped = null;
    if (r && 'run' in r) out = this.internRun(r.run);
    else if (r && 'verdict' in r) out = this.verdictObj(r.verdict);
    else if (r && 'ask' in r) out = { ask: true, data: r.ask, answers: new Map(), lastId: -2, lastOut: null };
    if (table !== null) table[b] = out;
    else if (run.memo.size < RUN_TABLE_AT) run.memo.set(b, out);
    else {
      const t = (run.table = new Array<RunStepped | undefined>(256).fill(undefined));
      for (const [x, y] of run.memo) t[x] = y;
      t[b] = out;
      run.memo.clear();
    }
    return out;
  }

  /**
   * The step of `run` on byte b for a run begun in scanner state `ext`: an ask answered (in a
   * walk that records its reads, a read of what the key leaves out of the state: foreign).
   */
  runStepIn(run: RunObj, b: number, ext: ExtObj | null): RunObj | VerdictObj | null {
    const r = this.runStep(run, b);
    if (r === null || !(r as AskObj).ask) return r as RunObj | VerdictObj | null;
    if (this.track && !this.track.extKeyed) this.track.foreign++;
    return this.answer(r as AskObj, ext);
  }

  /**
   * Whether `run`, begun in scanner state `ext`, gives a verdict on byte b (an ask answered). No
   * side effects on a walk's tracker: the step that follows counts the ask where it is one.
   */
  decidesAt(run: RunObj, b: number, ext: ExtObj | null): boolean {
    let r = this.runStep(run, b);
    if (r !== null && (r as AskObj).ask) r = this.answer(r as AskObj, ext);
    return r !== null && (r as VerdictObj).verdict === true;
  }

  /**
   * The verdict that `step` takes on byte b at zero-width depth `depth` from the runs in `pairs`
   * ([slot, run] pairs, oldest first, begun in scanner state `ext`), when a mask walk may take it
   * for a whole group of sibling nodes (see GrammarMatcher.stepGroups): the first run to decide,
   * no older one still running, by a zero-width token that re-reads the run's bytes and then b
   * alone (Python's layout decisions after a line's indentation, the same for every byte that
   * begins a statement). Null otherwise; `decider`: the index in `pairs` of the deciding pair.
   * An ask counts as a foreign read where `step` would.
   */
  groupVerdict(pairs: readonly (number | RunObj)[], b: number, ext: ExtObj | null, depth: number): VerdictObj | null {
    if (depth >= MAX_ZERO_WIDTH) return null;
    for (let q = 0; q < pairs.length; q += 2) {
      const r = this.runStepIn(pairs[q + 1] as RunObj, b, ext);
      if (r === null) continue;
      if (!(r as VerdictObj).verdict) return null; // (an older run goes on: no younger one decides)
      const v = r as VerdictObj;
      if (!v.refeedRun || v.refeed.length !== 1 || v.refeed[0] !== b) return null;
      this.decider = q;
      return v;
    }
    return null;
  }

  /** The index in its pairs of the run groupVerdict last found deciding. */
  decider = 0;

  /**
   * The state a group verdict (see groupVerdict) of the run begun at `runRow`, having read
   * `bytes`, leaves before its byte: its token taken and the run's bytes read again, as `decide`
   * takes it (the byte then steps from it at depth + 1).
   */
  beforeGroupByte(runRow: Row, bytes: ByteList, v: VerdictObj, base: ExtObj | null, depth: number): State | null {
    return this.afterRereading(runRow, bytes, v, this.verdictExt(v, base), depth + 1);
  }

  /** The number of a scanner edit function (never reused). */
  private editId(edit: (ext: never) => unknown): number {
    let id = this.editIds.get(edit);
    if (id === undefined) { id = this.editIdNext++; this.editIds.set(edit, id); }
    return id;
  }

  /** The answer to an ask for a run begun in scanner state `ext` (memoized per state). */
  private answer(a: AskObj, ext: ExtObj | null): RunObj | VerdictObj | null {
    const id = ext ? ext.id : -1;
    if (a.lastId === id) return a.lastOut;
    let out = a.answers.get(id);
    if (out === undefined) {
      const resolve = this.hooks!.resolve;
      if (!resolve) throw new Error(`grammars/${this.grammar.language}/scanner.ts: a step asked about the scanner state, but the hooks have no resolve() to answer it`);
      const r = resolve(ext?.data as never, a.data as never);
      out = r && 'run' in r ? this.internRun(r.run) : r && 'verdict' in r ? this.verdictObj(r.verdict) : null;
      a.answers.set(id, out);
    }
    a.lastId = id; a.lastOut = out;
    return out;
  }

  /**
   * The interned verdict `v`. A run's table holds a verdict per byte (the byte is re-read:
   * `refeed`), and the runs begun at every boundary decide alike: interned, they are a few hundred
   * objects, not one per run and byte (the largest share of the walk caches' heap, with Python).
   */
  private verdictObj(v: ScannerVerdict<unknown>): VerdictObj | null {
    const terminal = this.grammar.externals[v.token];
    if (terminal === undefined || terminal < 0) return null;
    const edit = typeof v.ext === 'function' ? v.ext as (ext: never) => unknown : null;
    const ext = edit ? null : this.internExt(v.ext);
    const effect = `${terminal}|${edit ? `e${this.editId(edit)}` : `x${ext!.id}`}`;
    const key = `${effect}|${v.refeedRun === true ? 1 : 0}|${v.refeed.join(',')}`;
    let out = this.verdicts.get(key);
    if (!out) {
      if (this.verdicts.size >= RUN_INTERN_LIMIT) this.verdicts.clear(); // (old verdicts stay valid, just unshared)
      let gid = this.groupIds.get(effect);
      if (gid === undefined) { gid = this.groupIds.size; this.groupIds.set(effect, gid); }
      out = {
        verdict: true, terminal, ext, edit, edited: edit && edit !== keepExt ? new Map() : null,
        refeed: Uint8Array.from(v.refeed), refeedRun: v.refeedRun === true, gid,
      };
      this.verdicts.set(key, out);
    }
    return out;
  }

  /** Interned verdicts (see verdictObj); their group numbers (see VerdictObj.gid); scanner edit functions by number (never reused). */
  private verdicts = new Map<string, VerdictObj>();
  private readonly groupIds = new Map<string, number>();
  private readonly editIds = new WeakMap<(ext: never) => unknown, number>();
  private editIdNext = 0;

  /** The scanner state after verdict `v` of a run begun in scanner state `base`. */
  private verdictExt(v: VerdictObj, base: ExtObj | null): ExtObj | null {
    if (v.edit === null) return v.ext;
    if (v.edit === keepExt || base === null) return base;
    let e = v.edited!.get(base.id);
    if (e === undefined) { e = this.internExt(v.edit(base.data as never)); v.edited!.set(base.id, e); }
    return e;
  }

  /** The scan of external token `terminal` after `row` (cached; reads not noted). */
  verdictScan(row: Row, terminal: number): Scanned {
    const key = -1 - terminal; // (lexer-state keys are >= 0)
    let done = this.fwdGet(row, key) as Scanned | undefined;
    if (done === undefined) { done = { row: scan(row, [terminal], this.tables), reads: this.tables.lastReads }; this.fwdSet(row, key, done); }
    return done;
  }

  /**
   * What `run`, begun in scanner state `ext`, may decide at its next byte (cached on the run; per
   * state when a step there asks). Reads are not noted.
   */
  runVerdicts(run: RunObj, ext: ExtObj | null): RunVerdicts {
    if (run.verdicts) return run.verdicts;
    const known = run.verdictsByExt?.get(ext ? ext.id : -1);
    if (known) return known;
    const out = new Set<number>();
    let rereads = false, asks = false;
    for (let b = 0; b < 256; b++) {
      let x = this.runStep(run, b);
      if (x !== null && (x as AskObj).ask) { asks = true; x = this.answer(x as AskObj, ext); }
      if (x !== null && (x as VerdictObj).verdict) { out.add((x as VerdictObj).terminal); if ((x as VerdictObj).refeedRun) rereads = true; }
    }
    const v: RunVerdicts = { terms: [...out].sort((a, b) => a - b), rereads, asks };
    if (!asks) run.verdicts = v;
    else (run.verdictsByExt ??= new Map()).set(ext ? ext.id : -1, v);
    return v;
  }

  /** A fresh boundary state: lexer at `start`, a scanner run begun. */
  boundary(row: Row, start: number, ext: ExtObj | null): State {
    const run = this.beginRun(row, ext);
    return { row, lex: start, ext, runs: run ? [{ run, row, bytes: null }] : null };
  }

  /** Applies a verdict at the run's boundary row: the state after the external token, or null. */
  private afterVerdict(runRow: Row, v: VerdictObj, ext: ExtObj | null): State | null {
    const done = this.verdictScan(runRow, v.terminal);
    if (this.track && !this.track.trustedScans?.has(done)) this.noteReads(done.reads, done.row);
    const next = done.row;
    if (!next) return null;
    return this.boundary(next, this.startState(next, false), ext);
  }

  /**
   * A verdict of the run begun at `runRow` (having read `bytes`) in scanner state `base` on byte
   * b, every older run having failed: the state after its token, or null if the parser cannot take
   * the token.
   */
  private decide(runRow: Row, bytes: ByteList | null, r: VerdictObj, b: number, depth: number, base: ExtObj | null, S?: State): State | null {
    const ext = this.verdictExt(r, base);
    // The regex lexer ends a lexeme at the very same place (TypeScript's `?` of an optional
    // parameter vs the scanner's ternary `?`): tree-sitter's GLR stacks would each lex their
    // own way, so both readings go into one Earley row.
    const lexer = this.lexer;
    if (S && !r.refeedRun && r.refeed.length === 1 && r.refeed[0] === b && S.lex >= 0 && S.row === runRow &&
        !lexer.isStart(S.lex) && lexer.isAccepting(S.lex) && lexer.step(S.lex, b) === -1) {
      const merged = this.endLexeme(S.row, S.lex, r.terminal);
      if (merged) return this.step(this.boundary(merged.row, merged.start, ext), b, depth + 1);
    }
    // The scanner has returned a token: tree-sitter takes it even where the parser has no action
    // for it (an unexpected `_dedent` is an error), it does not fall back to the lexer.
    if (r.refeedRun && bytes) return this.feed(this.afterRereading(runRow, bytes, r, ext, depth + 1), r.refeed, depth + 1);
    const nb = this.afterVerdict(runRow, r, ext);
    if (!nb) return null;
    return this.refeed(nb, r, bytes, depth + 1);
  }

  /**
   * The state after a zero-width verdict and the run's bytes read again, before the verdict's own
   * refeed. A mask walk at a layout position asks it once per first byte of a token (every
   * sibling reads the same run bytes, only the byte after differs): memoized per byte list.
   */
  private afterRereading(runRow: Row, bytes: ByteList, r: VerdictObj, ext: ExtObj | null, depth: number): State | null {
    const tr = this.track;
    let memo = this.rereadMemo.get(bytes);
    // (an entry for the same inputs that another walk's tracker computed is replaced: every mask
    // walks under a tracker of its own, and stale entries would else fill the list for good)
    let slot = -1;
    if (memo) {
      for (let i = 0; i < memo.length; i++) {
        const m = memo[i];
        if (m.row === runRow && m.terminal === r.terminal && m.ext === ext && m.depth === depth) {
          if (this.takeFed(m)) return m.S;
          slot = i;
        }
      }
    } else this.rereadMemo.set(bytes, (memo = []));
    const f0 = tr ? tr.foreign : 0;
    const nb = this.afterVerdict(runRow, r, ext);
    let S: State | null = null;
    if (nb) {
      if (tr) for (let p: ByteList | null = bytes; p; p = p.prev) if (tr.runBytes.has(p)) { tr.foreign++; break; }
      S = this.feedList(nb, bytes, depth);
    }
    const entry: Reread = { row: runRow, terminal: r.terminal, ext, depth, ...this.fed(S, f0) };
    if (slot >= 0) memo[slot] = entry;
    else if (memo.length < 8) memo.push(entry);
    return S;
  }

  /** Feeds what a verdict re-reads: the run's bytes for a zero-width token, then `refeed`. */
  private refeed(S: State, v: VerdictObj, run: ByteList | null, depth: number): State | null {
    return this.feed(v.refeedRun && run ? this.feedList(S, run, depth) : S, v.refeed, depth);
  }

  /**
   * The state after the bytes of `run`, oldest first, from S (a fresh boundary state: its row and
   * scanner state determine it). A layout run may have read a whole block of comment lines, and
   * every zero-width verdict of a mask walk reads it again from one of a few such states: long
   * lists keep the state reached every REFEED_ANCHOR bytes (their shared prefix is the state's).
   */
  private feedList(S: State, run: ByteList, depth: number): State | null {
    const nodes = oldestFirst(run);
    const n = nodes.length;
    let X: State | null = S;
    if (n < REFEED_MEMO_MIN) {
      for (let i = 0; i < n && X; i++) X = this.step(X, nodes[i].b, depth);
      return X;
    }
    const key = `${S.row.id}:${S.ext ? S.ext.id : -1}:${depth}`;
    const f0 = this.track ? this.track.foreign : 0;
    let i = 0;
    for (let m = n - (n % REFEED_ANCHOR); m > 0; m -= REFEED_ANCHOR) {
      const hit = this.fedMemo.get(nodes[m - 1])?.get(key);
      if (hit && this.takeFed(hit)) { X = hit.S; i = m; break; }
    }
    for (; i < n && X; i++) {
      X = this.step(X, nodes[i].b, depth);
      if ((i + 1) % REFEED_ANCHOR === 0) {
        let memo = this.fedMemo.get(nodes[i]);
        if (!memo) this.fedMemo.set(nodes[i], (memo = new Map()));
        memo.set(key, this.fed(X, f0));
      }
    }
    return X;
  }

  /** Advances a full state by one byte; null when the prefix is no longer viable. */
  step(S: State, b: number, depth = 0): State | null {
    // surviving runs, allocated at their exact size (states are many: most steps allocate nothing else)
    let runs: RunSlot[] | null = null;
    const old = S.runs;
    if (old) {
      for (let i = 0; i < old.length; i++) {
        const slot = old[i];
        const r = this.runStepIn(slot.run, b, S.ext);
        if (r === null) continue;
        if ((r as VerdictObj).verdict) {
          // an older run still deciding goes first (tree-sitter asks it first)
          if (runs === null && depth < MAX_ZERO_WIDTH) return this.decide(slot.row, slot.bytes, r as VerdictObj, b, depth, S.ext, S);
          continue;
        }
        runs = addRun(runs, { run: r as RunObj, row: slot.row, bytes: { b, prev: slot.bytes } });
      }
    }
    let row = S.row;
    let lex = -1;
    let fb: Fallback | null = null;
    if (S.lex >= 0) {
      const lexer = this.lexer;
      const t = lexer.step(S.lex, b);
      if (t >= 0) {
        lex = t;
        if (!lexer.isAccepting(t)) {
          if (lexer.isAccepting(S.lex) && !lexer.isStart(S.lex)) fb = { S, bytes: { b, prev: null } };
          else if (S.fb) fb = { S: S.fb.S, bytes: { b, prev: S.fb.bytes } };
        }
      } else if (t === -1 && S.fb && !lexer.isAccepting(S.lex)) {
        if (depth < MAX_ZERO_WIDTH) return this.fallback(S.fb, b, depth + 1);
      } else if (t === -1 && !lexer.isStart(S.lex)) {
        const bnd = this.endLexeme(S.row, S.lex);
        if (bnd) {
          row = bnd.row;
          // tree-sitter calls the scanner again at this boundary: a new run starts with byte b
          const run0 = this.hooks && !bnd.sep ? this.beginRun(bnd.row, S.ext) : null;
          const r = run0 ? this.runStepIn(run0, b, S.ext) : null;
          if (r !== null) {
            if ((r as VerdictObj).verdict) {
              if (runs === null && depth < MAX_ZERO_WIDTH) return this.decide(bnd.row, null, r as VerdictObj, b, depth, S.ext);
            } else {
              runs = addRun(runs, { run: r as RunObj, row: bnd.row, bytes: { b, prev: null } });
            }
          }
          lex = bnd.start >= 0 ? lexer.step(bnd.start, b) : -1;
        }
      }
    }
    if (lex < 0 && !runs) return null;
    return fb ? { row, lex, ext: S.ext, runs, fb } : { row, lex, ext: S.ext, runs };
  }

  /** Ends the lexeme where it last matched (`fb.S`) and reads the bytes after it again, then b. */
  private fallback(fb: Fallback, b: number | null, depth: number): State | null {
    const Sp = fb.S;
    const tr = this.track;
    if (tr && Sp === tr.fbStart) tr.foreign++;
    // Every byte that kills the lexeme falls back the same way up to that byte (in a comment, each
    // token that is not UTF-8 text there): the state before it is kept for the next such byte.
    let S: State | null;
    const hit = this.fellBack;
    if (hit !== null && hit.fb === fb && hit.depth === depth && this.takeFed(hit)) S = hit.S;
    else {
      const f0 = tr ? tr.foreign : 0;
      S = this.fallBack(fb, depth);
      this.fellBack = { fb, depth, ...this.fed(S, f0) };
    }
    if (S && b !== null) S = this.step(S, b, depth);
    return S;
  }

  /** fallback's last state before the byte that killed the lexeme (siblings in a walk ask in a row). */
  private fellBack: (Fed & { fb: Fallback; depth: number }) | null = null;

  /** The lexeme ended where it last matched (`fb.S`) and the bytes after it read again. */
  private fallBack(fb: Fallback, depth: number): State | null {
    const Sp = fb.S;
    const bnd = this.endLexeme(Sp.row, Sp.lex);
    if (!bnd) return null;
    const run0 = this.hooks && !bnd.sep ? this.beginRun(bnd.row, Sp.ext) : null;
    let runs = Sp.runs && Sp.runs.length ? Sp.runs : null;
    if (run0) runs = addRun(runs ? [...runs] : null, { run: run0, row: bnd.row, bytes: null });
    let S: State | null = { row: bnd.row, lex: bnd.start, ext: Sp.ext, runs };
    const nodes = oldestFirst(fb.bytes);
    for (let i = 0; i < nodes.length && S; i++) S = this.step(S, nodes[i].b, depth);
    return S;
  }

  feed(S: State | null, bytes: Uint8Array, depth = 0): State | null {
    for (let i = 0; i < bytes.length && S; i++) S = this.step(S, bytes[i], depth);
    return S;
  }

  /** Whether the input ending in state S is a complete program. */
  acceptsState(S: State, depth = 0): boolean {
    if (depth > MAX_ZERO_WIDTH) return false;
    for (const slot of S.runs ?? NO_RUNS) {
      const data = this.hooks!.eof(slot.run.data, S.ext?.data);
      const v = data ? this.verdictObj(data) : null;
      const nb = v ? this.afterVerdict(slot.row, v, this.verdictExt(v, S.ext)) : null;
      if (v) {
        if (!nb) return false; // a token the parser cannot take (see decide)
        const s2 = this.refeed(nb, v, slot.bytes, depth + 1);
        return s2 !== null && this.acceptsState(s2, depth + 1);
      }
    }
    if (S.lex < 0) return false;
    if (this.lexer.isStart(S.lex)) return S.row.accepting;
    if (S.fb && !this.lexer.isAccepting(S.lex)) {
      const s2 = this.fallback(S.fb, null, depth + 1);
      return s2 !== null && this.acceptsState(s2, depth + 1);
    }
    const bnd = this.endLexeme(S.row, S.lex);
    if (!bnd) return false;
    if (!this.hooks) return bnd.row.accepting;
    return this.acceptsState(this.boundary(bnd.row, bnd.start, S.ext), depth + 1);
  }

  /**
   * Lexer start state after `row`: the lexemes it expects plus extras; after an extra, immediate
   * lexemes are left out. Shadows: the word lexeme when only keywords are expected (so `ifx` is
   * one word), and reserved keywords when the word is expected (so `if` is never an identifier).
   */
  startState(row: Row, afterExtra: boolean): number {
    const cached = afterExtra ? row.startLexExtra : row.startLex;
    if (cached !== -2) return cached;
    // rows with the same prediction closure and kernel terminals expect the same (cheap key);
    // else the terminals themselves decide
    const fkey = (afterExtra ? '1:' : '0:') + row.expectKey;
    const fast = this.startByExpected.get(fkey);
    if (fast !== undefined) return this.setStart(row, afterExtra, fast);
    const ekey = (afterExtra ? '1:' : '0:') + row.expected.join(',');
    const shared = this.startByExpected.get(ekey);
    if (shared !== undefined) { this.startByExpected.set(fkey, shared); return this.setStart(row, afterExtra, shared); }
    const flags = new Map<number, number>();
    let anyKeyword = false, anyWord = false;
    for (const t of row.expected) {
      if (!this.hasDfa[t] || (afterExtra && this.immediate[t])) continue;
      flags.set(t, 0);
      if (this.isKeyword[t]) anyKeyword = true;
      if (this.isWord[t]) anyWord = true;
    }
    for (const e of this.grammar.extras) if (this.hasDfa[e]) flags.set(e, 0);
    if (anyKeyword && !anyWord && this.globalWord >= 0) flags.set(this.globalWord, SHADOW);
    if (anyWord || anyKeyword) for (const k of this.reservedKeywords) if (!flags.has(k)) flags.set(k, SHADOW);
    const terms = [...flags.keys()].sort((a, b) => a - b);
    const s = this.lexer.startState(terms, terms.map((t) => flags.get(t)!));
    this.startByExpected.set(ekey, s);
    this.startByExpected.set(fkey, s);
    return this.setStart(row, afterExtra, s);
  }

  private setStart(row: Row, afterExtra: boolean, s: number): number {
    if (afterExtra) row.startLexExtra = s; else row.startLex = s;
    return s;
  }

  /** Ends the lexeme in lexer state `lex` after `row`; null when no allowed lexeme ends there. */
  endLexeme(row: Row, lex: number, alsoTerminal = -1): Boundary | null {
    const lkey = alsoTerminal < 0 ? lex : `X${lex}:${alsoTerminal}`;
    const cached = this.fwdGet(row, lkey) as Boundary | null | undefined;
    if (cached !== undefined) {
      this.noteBoundary(cached);
      return cached;
    }
    const { cands, ckey, extra, sepOnly } = this.lexemeEnd(lex, alsoTerminal, lkey);
    let result: Boundary | null = null;
    if (cands.length) {
      let shared = this.fwdGet(row, ckey) as Boundary | null | undefined;
      if (shared === undefined) {
        const next = scan(row, cands, this.tables);
        shared = next ? { row: next, start: this.startState(next, false), reads: this.tables.lastReads } : null;
        this.fwdSet(row, ckey, shared);
      }
      result = shared;
    }
    if (!result && extra) result = sepOnly ? { row, start: this.startState(row, true), sep: true } : { row, start: this.startState(row, true) };
    this.fwdSet(row, lkey, result);
    this.noteBoundary(result);
    return result;
  }

  /** lexemeEnd results by endLexeme's key. */
  private readonly lexemeEnds = new Map<string | number, LexemeEnd>();

  /**
   * What ending the lexeme in lexer state `lex` offers the parser, whatever the row: the terminals
   * to scan (the longest match's, highest precedence, a keyword over a word where the parser takes
   * it, never a reserved word as a word; plus `alsoTerminal`), their scan key (many lexer states
   * end the same lexemes: keyword shadows differ), and whether an extra ends there.
   */
  private lexemeEnd(lex: number, alsoTerminal: number, key: string | number): LexemeEnd {
    let end = this.lexemeEnds.get(key);
    if (end) return end;
    const acc = this.lexer.accepts(lex);
    let kwExpected = false;
    let kwText: string | undefined;
    for (let i = 0; i < acc.length; i += 2) {
      const t = acc[i];
      if (this.isKeyword[t]) {
        kwText = this.grammar.terminals[t].text;
        if (!(acc[i + 1] & SHADOW)) kwExpected = true;
      }
    }
    let cands: number[] = [];
    let extra = false, sepOnly = true;
    let best = -Infinity;
    for (let i = 0; i < acc.length; i += 2) {
      const t = acc[i];
      if (acc[i + 1] & SHADOW) continue;
      if (this.isWord[t] && kwText !== undefined) {
        if (kwExpected) continue; // the keyword wins where the parser expects it
        if (this.reservedSets.get(t)?.has(kwText)) continue; // a reserved word is never a word
      }
      if (this.isExtra[t]) { extra = true; if (!this.isSeparator[t]) sepOnly = false; continue; }
      if (this.prec[t] > best) { best = this.prec[t]; cands = [t]; } else if (this.prec[t] === best) cands.push(t);
    }
    if (alsoTerminal >= 0 && !cands.includes(alsoTerminal)) cands.push(alsoTerminal);
    if (cands.length > 1) cands.sort((a, b) => a - b);
    // (one lexeme: a number below the verdict keys, -1 - terminal)
    const ckey = cands.length === 1 ? CAND_KEY - cands[0] : 'C' + cands.join(',');
    end = { cands, ckey, extra, sepOnly };
    this.lexemeEnds.set(key, end);
    return end;
  }

  /** Shortest example of each terminal (literal text, or a shortest match of its DFA over printable ASCII). */
  private examples?: (Uint8Array | null)[];

  /**
   * Example texts of the lexemes expected after state S: those the row expects now and, when a
   * lexeme is in progress, those expected once it ends (see Matcher.nextLexemeExamples).
   */
  nextExamples(S: State): Uint8Array[] {
    const extEx = LANGUAGES[this.grammar.language]?.scanner?.externalExamples ?? {};
    const ex = (this.examples ??= this.grammar.terminals.map((t) => {
      if (t.text !== undefined) return new TextEncoder().encode(t.text);
      if (t.dfa) return shortestMatch(t.dfa);
      return extEx[t.name] !== undefined ? new TextEncoder().encode(extEx[t.name]) : null;
    }));
    const terms = new Set<number>(S.row.expected);
    if (S.lex >= 0 && !this.lexer.isStart(S.lex)) {
      const bnd = this.endLexeme(S.row, S.lex);
      if (bnd) for (const t of bnd.row.expected) terms.add(t);
    }
    // external tokens (a newline) first: they change the structure the most
    const out: Uint8Array[] = [];
    for (const pass of [0, 1]) {
      for (const t of terms) {
        const e = ex[t];
        if (e && e.length > 0 && !this.isExtra[t] && this.hasDfa[t] === pass) out.push(e);
      }
    }
    return out;
  }

  /** Whether ending the input in state (row, lex) completes a program. */
  accepts(row: Row, lex: number): boolean {
    if (this.lexer.isStart(lex)) return row.accepting;
    const b = this.endLexeme(row, lex);
    return b !== null && b.row.accepting;
  }
}

/** A shortest string of printable ASCII bytes the DFA accepts (breadth-first), or null. */
function shortestMatch(dfa: ByteDfa): Uint8Array | null {
  const acc = new Set(dfa.accepting);
  if (acc.has(0)) return null; // matches the empty string: no useful example
  const out: number[][] = Array.from({ length: dfa.states }, () => []);
  for (let i = 0; i < dfa.edges.length; i += 4) out[dfa.edges[i]!]!.push(i);
  const prev = new Int32Array(dfa.states).fill(-1);
  const via = new Int32Array(dfa.states);
  const seen = new Uint8Array(dfa.states);
  seen[0] = 1;
  const queue = [0];
  for (let q = 0; q < queue.length; q++) {
    const s = queue[q]!;
    for (const e of out[s]!) {
      const lo = Math.max(dfa.edges[e + 1]!, 0x21), hi = Math.min(dfa.edges[e + 2]!, 0x7e), to = dfa.edges[e + 3]!;
      if (lo > hi || seen[to]) continue;
      // prefer a letter, then a digit, then the range's first byte
      let b = lo;
      for (const c of [0x78, 0x30, 0x22]) if (c >= lo && c <= hi) { b = c; break; }
      seen[to] = 1; prev[to] = s; via[to] = b; queue.push(to);
      if (acc.has(to)) {
        const bytes: number[] = [];
        for (let x = to; x !== 0; x = prev[x]!) bytes.push(via[x]!);
        return Uint8Array.from(bytes.reverse());
      }
    }
  }
  return null;
}

/**
 * Appends a younger run to the surviving runs (null: none yet), unless an older one is in the
 * very same scanner state: the two would step alike forever, and the older decides first, so
 * the younger can never matter (comment lines stack such runs in Python).
 */
function addRun(runs: RunSlot[] | null, ns: RunSlot): RunSlot[] {
  if (runs === null) return [ns];
  for (let i = 0; i < runs.length; i++) if (runs[i].run === ns.run) return runs;
  runs.push(ns);
  return runs;
}

/** The nodes of a byte list, oldest (first read) first. */
function oldestFirst(list: ByteList): ByteList[] {
  let n = 0;
  for (let p: ByteList | null = list; p; p = p.prev) n++;
  const nodes = new Array<ByteList>(n);
  for (let p: ByteList | null = list; p; p = p.prev) nodes[--n] = p;
  return nodes;
}

const runtimes = new WeakMap<CompiledGrammar, GrammarRuntime>();

/** The runtime of a compiled grammar (built once per grammar object). */
export function runtimeOf(g: CompiledGrammar): GrammarRuntime {
  let r = runtimes.get(g);
  if (!r) { r = new GrammarRuntime(g); runtimes.set(g, r); }
  return r;
}
