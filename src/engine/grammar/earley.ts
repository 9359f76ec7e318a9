// Earley parser over lexemes, with persistent rows: a row is an immutable Earley set whose items
// point at their origin rows directly, so a parser state is one Row reference — snapshot and
// restore are O(1) and branches share history. Rows are hash-consed (see Row). Nullable
// nonterminals use the Aycock–Horspool prediction rule.
//
// A row stores only its *kernel* (items scanned or completed into it, whose origin is an earlier
// row). The items it predicts — every rule of every nonterminal reachable leftmost from the
// kernel's next symbols, all with the row itself as origin — depend on those nonterminals alone,
// so they are one shared, precomputed PredSet (the LR(0) closure, as LR tables precompute it).
// In Python 94% of a row's items are predicted; a scan now costs what its kernel costs.
import type { CompiledGrammar } from './types';

/** Grammar tables shared by every row of one compiled grammar. */
export class EarleyTables {
  readonly T: number;
  /** Symbol after the dot at each dotted position, -1 at a rule's end. */
  readonly dotSym: Int32Array;
  /** Rule of each dotted position. */
  readonly posRule: Int32Array;
  readonly ruleLhs: Int32Array;
  /** Start positions of each nonterminal's rules (index: symbol - T). */
  readonly predict: Int32Array[];
  readonly nullable: Uint8Array;
  /** Dotted position of `$start → S .`. */
  readonly acceptPos: number;
  /** Interned rows (hash-consing; see Row). */
  readonly rows = new RowInterner();
  /** Prediction closures by their sorted seed nonterminals (bounded by the grammar's shape). */
  readonly predSets = new Map<string, PredSet>();
  /** Row shapes by the hash of their kernel positions (see Shape), several on a collision. */
  readonly shapes = new Map<number, Shape | Shape[]>();
  shapeCount = 0;
  /**
   * The rows whose items the last `scan` read: the scanned row and the origin of every item it
   * completed. A result that read only rows derived from a row R in one mask walk is a function
   * of R's kernel positions, not of the history behind them (see GrammarMatcher's core memo).
   */
  lastReads: Row[] = [];

  constructor(readonly grammar: CompiledGrammar) {
    const T = (this.T = grammar.terminals.length);
    const N = grammar.nonterminals.length;
    let total = 0;
    for (const r of grammar.rules) total += r.rhs.length + 1;
    this.dotSym = new Int32Array(total);
    this.posRule = new Int32Array(total);
    this.ruleLhs = Int32Array.from(grammar.rules.map((r) => r.lhs));
    const starts: number[][] = Array.from({ length: N }, () => []);
    let p = 0;
    let acceptPos = -1;
    grammar.rules.forEach((r, ri) => {
      starts[r.lhs - T].push(p);
      for (let i = 0; i <= r.rhs.length; i++) {
        this.dotSym[p + i] = i < r.rhs.length ? r.rhs[i] : -1;
        this.posRule[p + i] = ri;
      }
      if (r.lhs === grammar.start) acceptPos = p + r.rhs.length;
      p += r.rhs.length + 1;
    });
    this.acceptPos = acceptPos;
    this.predict = starts.map((s) => Int32Array.from(s));
    const nullable = (this.nullable = new Uint8Array(T + N));
    for (let changed = true; changed;) {
      changed = false;
      for (const r of grammar.rules) {
        if (!nullable[r.lhs] && r.rhs.every((s) => nullable[s])) { nullable[r.lhs] = 1; changed = true; }
      }
    }
  }
}

/** Rows interned per generation before the table starts afresh (bounds the memory rows keep). */
const ROW_INTERN_LIMIT = 25_000;
let nextRowId = 1;
let nextPredId = 1;

/**
 * Items by the symbol after their dot: distinct symbols ascending, item slots per symbol. Plain
 * arrays: rows are built by the hundred per mask, and a typed array costs several allocations.
 */
interface NextIndex { syms: number[]; start: number[]; items: number[] }

/** Indexes item positions by the symbol after their dot (items whose dot is at the end are left out). */
function indexBySymbol(pos: ArrayLike<number>, dot: Int32Array): NextIndex {
  const order: number[] = [];
  for (let i = 0; i < pos.length; i++) if (dot[pos[i]] >= 0) order.push(i);
  // by symbol, then slot (no comparator calls: rows are built by the hundred per mask)
  if (order.length <= 16) {
    for (let i = 1; i < order.length; i++) {
      const x = order[i], sx = dot[pos[x]];
      let j = i - 1;
      while (j >= 0 && dot[pos[order[j]]] > sx) { order[j + 1] = order[j]; j--; }
      order[j + 1] = x;
    }
  } else if (order.length <= 0xffff && symbolBound(dot) <= 0x8000) {
    // (symbol, slot) packed in one int, sorted natively
    const packed = new Int32Array(order.length);
    for (let i = 0; i < order.length; i++) packed[i] = (dot[pos[order[i]]] << 16) | order[i];
    packed.sort();
    for (let i = 0; i < order.length; i++) order[i] = packed[i] & 0xffff;
  } else order.sort((a, b) => dot[pos[a]] - dot[pos[b]] || a - b);
  const syms: number[] = [], starts: number[] = [];
  for (let k = 0; k < order.length; k++) {
    const sym = dot[pos[order[k]]];
    if (k === 0 || sym !== syms[syms.length - 1]) { syms.push(sym); starts.push(k); }
  }
  starts.push(order.length);
  return { syms, start: starts, items: order };
}

const symbolBounds = new WeakMap<Int32Array, number>();

/** One more than the largest symbol in `dot` (computed once per table). */
function symbolBound(dot: Int32Array): number {
  let b = symbolBounds.get(dot);
  if (b === undefined) { b = 0; for (let i = 0; i < dot.length; i++) b = Math.max(b, dot[i] + 1); symbolBounds.set(dot, b); }
  return b;
}

/** Binary search of `sym` in ascending `a`; -1 when absent. */
function findSym(a: readonly number[], sym: number): number {
  let lo = 0, hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid];
    if (v === sym) return mid;
    if (v < sym) lo = mid + 1; else hi = mid - 1;
  }
  return -1;
}

/** Number of terminals among the ascending symbols of an index (terminals sort first). */
function terminalCount(syms: readonly number[], T: number): number {
  let n = 0;
  while (n < syms.length && syms[n] < T) n++;
  return n;
}

/**
 * The items a row predicts from a set of nonterminals: their rules at the start, closed under
 * prediction and the nullable rule, all with the predicting row as origin (implicit). Completed
 * items are dropped (the nullable rule already advanced their predictors); `hasAccept` records
 * `$start → S .` for the initial row of a grammar that accepts the empty input.
 */
export class PredSet {
  readonly id = nextPredId++;
  readonly pos: Int32Array;
  readonly next: NextIndex;
  /** Terminals some predicted item expects next, ascending. */
  readonly expected: Int32Array;
  readonly hasAccept: boolean;

  constructor(seeds: readonly number[], tables: EarleyTables) {
    const { dotSym, predict, nullable, T } = tables;
    const pos: number[] = [];
    const seen = new Set<number>();
    const predicted = new Set<number>();
    const add = (p: number) => { if (!seen.has(p)) { seen.add(p); pos.push(p); } };
    const predictSym = (s: number) => {
      if (predicted.has(s)) return;
      predicted.add(s);
      for (const q of predict[s - T]) add(q);
    };
    for (const s of seeds) predictSym(s);
    let hasAccept = false;
    for (let i = 0; i < pos.length; i++) {
      const s = dotSym[pos[i]];
      if (s < 0) { if (pos[i] === tables.acceptPos) hasAccept = true; continue; }
      if (s >= T) {
        predictSym(s);
        if (nullable[s]) add(pos[i] + 1);
      }
    }
    this.pos = Int32Array.from(pos.filter((p) => dotSym[p] >= 0));
    this.next = indexBySymbol(this.pos, dotSym);
    this.expected = Int32Array.from(this.next.syms.slice(0, terminalCount(this.next.syms, T)));
    this.hasAccept = hasAccept;
  }
}

/** The shared prediction closure of `seeds` (sorted, distinct nonterminals). */
function predSetOf(seeds: number[], tables: EarleyTables): PredSet {
  const key = seeds.join(',');
  let ps = tables.predSets.get(key);
  if (!ps) { ps = new PredSet(seeds, tables); tables.predSets.set(key, ps); }
  return ps;
}

/** Ascending union of the first `na` of `a` and all of `b`, both ascending and duplicate-free. */
function mergeSorted(a: readonly number[], na: number, b: Int32Array): Int32Array {
  if (na === 0) return b;
  if (b.length === 0) return Int32Array.from(a.slice(0, na));
  const out = new Int32Array(na + b.length);
  let i = 0, j = 0, n = 0;
  while (i < na && j < b.length) {
    const x = a[i], y = b[j];
    if (x < y) { out[n++] = x; i++; } else if (y < x) { out[n++] = y; j++; } else { out[n++] = x; i++; j++; }
  }
  while (i < na) out[n++] = a[i++];
  while (j < b.length) out[n++] = b[j++];
  return out.subarray(0, n);
}

/**
 * What a row's kernel positions alone determine, shared by every row with those positions (the
 * same statement shape at another place: only the origins differ) — the LR(0) part of a row: the
 * items by the symbol after their dot, the prediction closure, the terminals expected next, and
 * the runtime's caches that depend on those alone (lexer start states, the scanner run begun).
 */
export class Shape {
  /** Kernel positions, ascending. */
  readonly pos: readonly number[];
  readonly next: NextIndex;
  readonly pred: PredSet;
  /** How many of `next.syms` are terminals (they sort first). */
  readonly ownCount: number;
  private expectedCache: Int32Array | null = null;
  private expectKeyCache: string | null = null;
  /** See Row.startLex. */
  startLex = -2;
  startLexExtra = -2;
  runExt: unknown = undefined;
  run: unknown = undefined;

  constructor(pos: number[], pred: PredSet, tables: EarleyTables) {
    this.pos = pos;
    this.pred = pred;
    this.next = indexBySymbol(pos, tables.dotSym);
    this.ownCount = terminalCount(this.next.syms, tables.T);
  }

  /** Terminals some item expects next, ascending (built when first asked: many rows never are). */
  get expected(): Int32Array { return (this.expectedCache ??= mergeSorted(this.next.syms, this.ownCount, this.pred.expected)); }

  /** Shares lexer start states between shapes expecting the same terminals (cheap to build). */
  get expectKey(): string {
    if (this.expectKeyCache === null) {
      let key = `${this.pred.id}:`;
      for (let i = 0; i < this.ownCount; i++) key += `${this.next.syms[i]},`;
      this.expectKeyCache = key;
    }
    return this.expectKeyCache;
  }
}

/** Shapes interned before the table starts afresh (old shapes stay with their rows). */
const SHAPE_LIMIT = 50_000;

/** The interned shape of the ascending kernel positions `pos` (a fresh array the shape may keep). */
function shapeOf(pos: number[], tables: EarleyTables): Shape {
  let h = pos.length;
  for (let i = 0; i < pos.length; i++) h = (Math.imul(h, 0x9e3779b1) + pos[i]) | 0;
  const at = tables.shapes.get(h);
  if (at !== undefined) {
    if (!Array.isArray(at)) { if (samePositions(at.pos, pos)) return at; }
    else for (const x of at) if (samePositions(x.pos, pos)) return x;
  }
  const { dotSym, T } = tables;
  const wanted: number[] = [];
  for (let i = 0; i < pos.length; i++) { const sym = dotSym[pos[i]]; if (sym >= T) wanted.push(sym); }
  const shape = new Shape(pos, predSetOf(distinctAscending(wanted, wanted.length), tables), tables);
  if (tables.shapeCount >= SHAPE_LIMIT) { tables.shapes.clear(); tables.shapeCount = 0; }
  const again = tables.shapes.get(h);
  if (again === undefined) tables.shapes.set(h, shape);
  else if (Array.isArray(again)) again.push(shape);
  else tables.shapes.set(h, [again, shape]);
  tables.shapeCount++;
  return shape;
}

function samePositions(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * One Earley set. Immutable once built; caches results of scanning it. Rows are hash-consed: two
 * rows with the same kernel items (dotted position + origin row, origins compared by identity) are
 * one object, so a row's future — and every result cached on it — is shared by all the places in a
 * file (and all the requests) that reach the same parse state. That is what makes masks and
 * scans repeat: left-recursive repeats give the statements of one block identical rows. What the
 * kernel positions alone determine is its Shape, shared further still.
 */
export class Row {
  /** Unique id (identity of the row as an origin). */
  readonly id = nextRowId++;
  readonly shape: Shape;
  /** Dotted positions of the kernel items, ascending (origin: an earlier row); the shape's. */
  readonly pos: readonly number[];
  /** Origin row of each kernel item. */
  readonly orig: Row[];
  /** The predicted items (origin: this row). */
  readonly pred: PredSet;
  readonly accepting: boolean;
  /** Scan results by key (see Matcher); owned by the matcher layer. */
  get cache(): Map<number | string, unknown> { return (this.cacheMap ??= new Map()); }
  private cacheMap: Map<number | string, unknown> | null = null;

  /**
   * `index`: the lexeme count where the row was first built (informational: rows are shared).
   * `orig`: the origins of the shape's kernel positions, in their order.
   */
  constructor(readonly index: number, shape: Shape, orig: Row[], tables: EarleyTables, readonly initial = false) {
    this.shape = shape;
    this.pos = shape.pos;
    this.orig = orig;
    this.pred = shape.pred;
    let accepting = initial && shape.pred.hasAccept;
    const pos = shape.pos;
    for (let i = 0; i < pos.length; i++) if (pos[i] === tables.acceptPos && orig[i].initial) accepting = true;
    this.accepting = accepting;
  }

  /**
   * Fields the runtime owns, kept on the shape (they depend on the expected terminals alone): the
   * lexer start states after the row (after a lexeme, after an extra; -2 not known yet), and the
   * scanner run begun after it for the scanner state asked last (undefined: none asked).
   */
  get startLex(): number { return this.shape.startLex; }
  set startLex(s: number) { this.shape.startLex = s; }
  get startLexExtra(): number { return this.shape.startLexExtra; }
  set startLexExtra(s: number) { this.shape.startLexExtra = s; }
  get runExt(): unknown { return this.shape.runExt; }
  set runExt(e: unknown) { this.shape.runExt = e; }
  get run(): unknown { return this.shape.run; }
  set run(r: unknown) { this.shape.run = r; }

  /** Terminals some item expects next, ascending. */
  get expected(): Int32Array { return this.shape.expected; }

  /** Shares lexer start states between rows expecting the same terminals (cheap to build). */
  get expectKey(): string { return this.shape.expectKey; }

  /** Whether some item expects terminal `t` next. */
  expects(t: number): boolean { return findSym(this.shape.next.syms, t) >= 0 || findSym(this.pred.next.syms, t) >= 0; }

  /**
   * Writes the items of this row that expect `sym`, advanced over it, from index n on: positions
   * to `outPos`, origins to `outOrig` (a predicted item's origin is this row). Returns the index
   * after the last item written.
   */
  advanceAt(sym: number, outPos: number[], outOrig: Row[], n: number): number {
    const next = this.shape.next;
    let k = findSym(next.syms, sym);
    if (k >= 0) {
      const { start, items } = next;
      for (let q = start[k], e = start[k + 1]; q < e; q++) { const j = items[q]; outPos[n] = this.pos[j] + 1; outOrig[n] = this.orig[j]; n++; }
    }
    const pn = this.pred.next;
    k = findSym(pn.syms, sym);
    if (k >= 0) {
      const pp = this.pred.pos;
      for (let q = pn.start[k], e = pn.start[k + 1]; q < e; q++) { outPos[n] = pp[pn.items[q]] + 1; outOrig[n] = this; n++; }
    }
    return n;
  }
}

/** The table of interned rows of one grammar (see Row); starts afresh past its limit. */
export class RowInterner {
  /** Rows by the hash of their kernel items (see itemHash), several on a collision. */
  private map = new Map<number, Row | Row[]>();
  private count = 0;
  /** The first row (see initialRow), kept apart: it has no kernel. */
  initial: Row | null = null;
  /** Bumped at every fresh start (runtime caches keyed by generation may drop their entries). */
  generation = 0;
  hits = 0;
  misses = 0;
  get size(): number { return this.count; }
  reset(): void { this.map = new Map(); this.count = 0; this.initial = null; this.generation++; }

  /**
   * The interned row whose kernel is `close`'s (its first n kernel items, distinct, any order),
   * of hash `h` (see itemHash).
   */
  find(h: number, n: number): Row | undefined {
    const at = this.map.get(h);
    if (at === undefined) return undefined;
    if (!Array.isArray(at)) return sameKernel(at, n) ? at : undefined;
    for (const r of at) if (sameKernel(r, n)) return r;
    return undefined;
  }

  add(h: number, row: Row): void {
    if (this.count >= ROW_INTERN_LIMIT) this.reset();
    const at = this.map.get(h);
    if (at === undefined) this.map.set(h, row);
    else if (Array.isArray(at)) at.push(row);
    else this.map.set(h, [at, row]);
    this.count++;
  }
}

/** Whether row `r`'s kernel is the first n kernel items of `close` (distinct; the row's by position). */
function sameKernel(r: Row, n: number): boolean {
  const pos = r.pos, orig = r.orig;
  if (pos.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const at = cKernelAt[i];
    const p = cPos[at], o = cOrig[at];
    // the first item at position p, then those tied with it
    let lo = 0, hi = n;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (pos[mid] < p) lo = mid + 1; else hi = mid; }
    while (lo < n && pos[lo] === p && orig[lo] !== o) lo++;
    if (lo === n || pos[lo] !== p) return false;
  }
  return true;
}

/** Hash of item (position p, origin id); a kernel's hash is their sum, so item order does not matter. */
function itemHash(p: number, id: number): number {
  let h = Math.imul(p ^ 0x5bd1e995, 0x9e3779b1);
  h = Math.imul(h ^ id ^ (h >>> 15), 0x85ebca77);
  return h ^ (h >>> 13);
}


// Scratch of `close` (never reentered), filled up to explicit counts (setting an array's length
// to 0 drops its storage): most closes find their row interned and allocate nothing.
const cPos: number[] = [], cOrig: Row[] = [], cKeys: number[] = [], cHash: number[] = [];
const cAdvPos: number[] = [], cAdvOrig: Row[] = [], cKernelAt: number[] = [];
let cN = 0;
/** close's kernel sort scratch. */
const kSort: number[] = [];
/** The items' keys of one close as an open-addressing set, cleared by bumping the stamp. */
let seenKeys = new Float64Array(1024);
let seenStamp = new Int32Array(1024);
let stamp = 0;

/** The distinct values among the first n of `a`, ascending (n is small: no Set, no comparator). */
function distinctAscending(a: number[], n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[i];
    let j = out.length;
    while (j > 0 && out[j - 1] > x) j--;
    if (j > 0 && out[j - 1] === x) continue;
    out.splice(j, 0, x);
  }
  return out;
}

/** Adds item (p, o), key p + P·id, to the scratch unless there. */
function addItem(p: number, o: Row, P: number): void {
  const k = p + P * o.id;
  let mask = seenKeys.length - 1;
  if (cN * 2 >= mask) {
    // grow: re-add the items so far
    seenKeys = new Float64Array(seenKeys.length * 2);
    seenStamp = new Int32Array(seenKeys.length);
    mask = seenKeys.length - 1;
    for (let q = 0; q < cN; q++) {
      let j = cHash[q] & mask;
      while (seenStamp[j] === stamp) j = (j + 1) & mask;
      seenStamp[j] = stamp; seenKeys[j] = cKeys[q];
    }
  }
  const ih = itemHash(p, o.id);
  let j = ih & mask;
  while (seenStamp[j] === stamp) {
    if (seenKeys[j] === k) return;
    j = (j + 1) & mask;
  }
  seenStamp[j] = stamp; seenKeys[j] = k;
  cKeys[cN] = k; cHash[cN] = ih; cPos[cN] = p; cOrig[cN] = o; cN++;
}

/**
 * Builds a row from seed items (all with earlier origins): completion and the nullable rule to a
 * fixed point over the kernel, then the shared prediction closure of the nonterminals the kernel
 * expects; interned.
 */
function close(index: number, seedPos: number[], seedOrig: Row[], nSeeds: number, tables: EarleyTables, reads: Row[]): Row {
  const { dotSym, posRule, ruleLhs, nullable, T } = tables;
  const P = dotSym.length;
  cN = 0;
  if (++stamp === 0x7fffffff) { seenStamp.fill(0); stamp = 1; }
  for (let i = 0; i < nSeeds; i++) addItem(seedPos[i], seedOrig[i], P);
  for (let i = 0; i < cN; i++) {
    const p = cPos[i];
    const o = cOrig[i];
    const s = dotSym[p];
    if (s < 0) {
      reads.push(o);
      const na = o.advanceAt(ruleLhs[posRule[p]], cAdvPos, cAdvOrig, 0);
      for (let q = 0; q < na; q++) addItem(cAdvPos[q], cAdvOrig[q], P);
    } else if (s >= T && nullable[s]) addItem(p + 1, o, P);
  }
  // Completed items have done their work (completion ran above); only the accepting one matters
  // later. Dropping them keeps rows free of history: after `x = 1\n` the row no longer remembers
  // where that statement began, so the rows of sibling statements intern to one.
  let n = 0;
  let h = 0;
  for (let i = 0; i < cN; i++) {
    if (dotSym[cPos[i]] < 0 && cPos[i] !== tables.acceptPos) continue;
    cKernelAt[n++] = i;
    h = (h + cHash[i]) | 0;
  }
  const interned = tables.rows.find(h, n);
  if (interned) { tables.rows.hits++; return interned; }
  tables.rows.misses++;
  // the kernel by position (ties in the order found), as its shape lists them
  const kPos: number[] = new Array(n), kOrig: Row[] = new Array(n);
  if (n <= 64) {
    // (position, slot) packed in one int; insertion sort (kernels are small)
    for (let j = 0; j < n; j++) {
      const x = cPos[cKernelAt[j]] * 64 + j;
      let q = j - 1;
      while (q >= 0 && kSort[q] > x) { kSort[q + 1] = kSort[q]; q--; }
      kSort[q + 1] = x;
    }
    for (let j = 0; j < n; j++) { const at = cKernelAt[kSort[j] & 63]; kPos[j] = cPos[at]; kOrig[j] = cOrig[at]; }
  } else {
    const order = Array.from({ length: n }, (_, j) => cKernelAt[j]).sort((a, b) => cPos[a] - cPos[b]);
    for (let j = 0; j < n; j++) { kPos[j] = cPos[order[j]]; kOrig[j] = cOrig[order[j]]; }
  }
  const row = new Row(index, shapeOf(kPos, tables), kOrig, tables);
  tables.rows.add(h, row);
  return row;
}

/** The first row: predictions of the start symbol. */
export function initialRow(tables: EarleyTables): Row {
  // (its shape is its own: no kernel, the start symbol predicted)
  return (tables.rows.initial ??= new Row(0, new Shape([], predSetOf([tables.grammar.start], tables), tables), [], tables, true));
}

/** The row after scanning any of `terminals` (ascending ids) in `row`, or null if none is expected. */
export function scan(row: Row, terminals: readonly number[], tables: EarleyTables): Row | null {
  let n = 0;
  for (let i = 0; i < terminals.length; i++) n = row.advanceAt(terminals[i], sPos, sOrig, n);
  const reads = [row];
  tables.lastReads = reads;
  if (n === 0) return null;
  return close(row.index + 1, sPos, sOrig, n, tables, reads);
}

/** Seeds of `scan` (close reads them before it writes any scratch of its own). */
const sPos: number[] = [], sOrig: Row[] = [];
