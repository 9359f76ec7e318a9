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

/** Items by the symbol after their dot: distinct symbols ascending, item slots per symbol. */
interface NextIndex { syms: Int32Array; start: Int32Array; items: Int32Array }

/** Indexes item positions by the symbol after their dot (items whose dot is at the end are left out). */
function indexBySymbol(pos: ArrayLike<number>, dot: Int32Array): NextIndex {
  const order: number[] = [];
  for (let i = 0; i < pos.length; i++) if (dot[pos[i]] >= 0) order.push(i);
  order.sort((a, b) => dot[pos[a]] - dot[pos[b]] || a - b);
  const syms: number[] = [], starts: number[] = [];
  for (let k = 0; k < order.length; k++) {
    const sym = dot[pos[order[k]]];
    if (k === 0 || sym !== syms[syms.length - 1]) { syms.push(sym); starts.push(k); }
  }
  starts.push(order.length);
  return { syms: Int32Array.from(syms), start: Int32Array.from(starts), items: Int32Array.from(order) };
}

/** Binary search of `sym` in ascending `a`; -1 when absent. */
function findSym(a: Int32Array, sym: number): number {
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
function terminalCount(syms: Int32Array, T: number): number {
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
    this.expected = this.next.syms.slice(0, terminalCount(this.next.syms, T));
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

/** Ascending union of two ascending, duplicate-free arrays. */
function mergeSorted(a: Int32Array, b: Int32Array): Int32Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Int32Array(a.length + b.length);
  let i = 0, j = 0, n = 0;
  while (i < a.length && j < b.length) {
    const x = a[i], y = b[j];
    if (x < y) { out[n++] = x; i++; } else if (y < x) { out[n++] = y; j++; } else { out[n++] = x; i++; j++; }
  }
  while (i < a.length) out[n++] = a[i++];
  while (j < b.length) out[n++] = b[j++];
  return out.subarray(0, n);
}

/**
 * One Earley set. Immutable once built; caches results of scanning it. Rows are hash-consed: two
 * rows with the same kernel items (dotted position + origin row, origins compared by identity) are
 * one object, so a row's future — and every result cached on it — is shared by all the places in a
 * file (and all the requests) that reach the same parse state. That is what makes masks and
 * scans repeat: left-recursive repeats give the statements of one block identical rows.
 */
export class Row {
  /** Unique id (identity of the row as an origin). */
  readonly id = nextRowId++;
  /** Dotted positions of the kernel items (origin: an earlier row). */
  readonly pos: Int32Array;
  /** Origin row of each kernel item. */
  readonly orig: Row[];
  /** Kernel items by the symbol after their dot. */
  private readonly next: NextIndex;
  /** The predicted items (origin: this row). */
  readonly pred: PredSet;
  private own: Int32Array;
  private expectedCache: Int32Array | null = null;
  private expectKeyCache: string | null = null;
  readonly accepting: boolean;
  /** Scan results by key (see Matcher); owned by the matcher layer. */
  readonly cache = new Map<number | string, unknown>();

  /** `index`: the lexeme count where the row was first built (informational: rows are shared). */
  constructor(readonly index: number, pos: number[], orig: Row[], pred: PredSet, tables: EarleyTables, readonly initial = false) {
    this.pos = Int32Array.from(pos);
    this.orig = orig;
    this.pred = pred;
    let accepting = initial && pred.hasAccept;
    for (let i = 0; i < pos.length; i++) if (pos[i] === tables.acceptPos && orig[i].initial) accepting = true;
    this.next = indexBySymbol(this.pos, tables.dotSym);
    this.own = this.next.syms.subarray(0, terminalCount(this.next.syms, tables.T));
    this.accepting = accepting;
  }

  /** Terminals some item expects next, ascending (built when first asked: many rows never are). */
  get expected(): Int32Array { return (this.expectedCache ??= mergeSorted(this.own, this.pred.expected)); }

  /** Shares lexer start states between rows expecting the same terminals (cheap to build). */
  get expectKey(): string { return (this.expectKeyCache ??= `${this.pred.id}:${this.own.join(',')}`); }

  /** Whether some item expects terminal `t` next. */
  expects(t: number): boolean { return findSym(this.next.syms, t) >= 0 || findSym(this.pred.next.syms, t) >= 0; }

  /**
   * Appends the items of this row that expect `sym`, advanced over it: positions to `outPos`,
   * origins to `outOrig` (a predicted item's origin is this row).
   */
  advance(sym: number, outPos: number[], outOrig: Row[]): void {
    let k = findSym(this.next.syms, sym);
    if (k >= 0) {
      const { start, items } = this.next;
      for (let q = start[k], e = start[k + 1]; q < e; q++) { const j = items[q]; outPos.push(this.pos[j] + 1); outOrig.push(this.orig[j]); }
    }
    const pn = this.pred.next;
    k = findSym(pn.syms, sym);
    if (k >= 0) {
      const pp = this.pred.pos;
      for (let q = pn.start[k], e = pn.start[k + 1]; q < e; q++) { outPos.push(pp[pn.items[q]] + 1); outOrig.push(this); }
    }
  }
}

/** The table of interned rows of one grammar (see Row); starts afresh past its limit. */
export class RowInterner {
  private map = new Map<string, Row>();
  /** Bumped at every fresh start (runtime caches keyed by generation may drop their entries). */
  generation = 0;
  hits = 0;
  misses = 0;
  get size(): number { return this.map.size; }
  reset(): void { this.map = new Map(); this.generation++; }
  get(key: string): Row | undefined { return this.map.get(key); }
  set(key: string, row: Row): void {
    if (this.map.size >= ROW_INTERN_LIMIT) this.reset();
    this.map.set(key, row);
  }
}

/**
 * Builds a row from seed items (all with earlier origins): completion and the nullable rule to a
 * fixed point over the kernel, then the shared prediction closure of the nonterminals the kernel
 * expects; interned.
 */
function close(index: number, seedPos: number[], seedOrig: Row[], tables: EarleyTables, reads: Row[]): Row {
  const pos: number[] = [];
  const orig: Row[] = [];
  const keys: number[] = [];
  const seen = new Set<number>();
  const wanted: number[] = [];
  const { dotSym, posRule, ruleLhs, nullable, T } = tables;
  const P = dotSym.length;
  const add = (p: number, o: Row) => {
    const k = p + P * o.id;
    if (seen.has(k)) return;
    seen.add(k);
    keys.push(k);
    pos.push(p);
    orig.push(o);
  };
  for (let i = 0; i < seedPos.length; i++) add(seedPos[i], seedOrig[i]);
  const advPos: number[] = [], advOrig: Row[] = [];
  for (let i = 0; i < pos.length; i++) {
    const p = pos[i];
    const o = orig[i];
    const s = dotSym[p];
    if (s < 0) {
      advPos.length = 0; advOrig.length = 0;
      reads.push(o);
      o.advance(ruleLhs[posRule[p]], advPos, advOrig);
      for (let q = 0; q < advPos.length; q++) add(advPos[q], advOrig[q]);
    } else if (s >= T) {
      wanted.push(s);
      if (nullable[s]) add(p + 1, o);
    }
  }
  // Completed items have done their work (completion ran above); only the accepting one matters
  // later. Dropping them keeps rows free of history: after `x = 1\n` the row no longer remembers
  // where that statement began, so the rows of sibling statements intern to one.
  const kPos: number[] = [], kOrig: Row[] = [], kKeys: number[] = [];
  for (let i = 0; i < pos.length; i++) {
    if (dotSym[pos[i]] < 0 && pos[i] !== tables.acceptPos) continue;
    kPos.push(pos[i]); kOrig.push(orig[i]); kKeys.push(keys[i]);
  }
  const key = kKeys.length === 1 ? `${kKeys[0]}` : Float64Array.from(kKeys).sort().join(',');
  const interned = tables.rows.get(key);
  if (interned) { tables.rows.hits++; return interned; }
  tables.rows.misses++;
  const seeds = [...new Set(wanted)].sort((a, b) => a - b);
  const row = new Row(index, kPos, kOrig, predSetOf(seeds, tables), tables);
  tables.rows.set(key, row);
  return row;
}

/** The first row: predictions of the start symbol. */
export function initialRow(tables: EarleyTables): Row {
  const key = 'I';
  const interned = tables.rows.get(key);
  if (interned) return interned;
  const row = new Row(0, [], [], predSetOf([tables.grammar.start], tables), tables, true);
  tables.rows.set(key, row);
  return row;
}

/** The row after scanning any of `terminals` (ascending ids) in `row`, or null if none is expected. */
export function scan(row: Row, terminals: readonly number[], tables: EarleyTables): Row | null {
  const seedPos: number[] = [];
  const seedOrig: Row[] = [];
  for (const t of terminals) row.advance(t, seedPos, seedOrig);
  const reads = [row];
  tables.lastReads = reads;
  if (seedPos.length === 0) return null;
  return close(row.index + 1, seedPos, seedOrig, tables, reads);
}
