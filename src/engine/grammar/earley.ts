// Earley parser over lexemes, with persistent rows: a row is an immutable Earley set whose items
// point at their origin rows directly, so a parser state is one Row reference — snapshot and
// restore are O(1) and branches share history. Rows are hash-consed (see Row). Nullable nonterminals use the Aycock–Horspool
// prediction rule. Cost: one scan is linear in the items it creates (plus completions).
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

/**
 * One Earley set. Immutable once built; caches results of scanning it. Rows are hash-consed: two
 * rows with the same items (dotted position + origin row, origins compared by identity) are one
 * object, so a row's future — and every result cached on it — is shared by all the places in a
 * file (and all the requests) that reach the same parse state. That is what makes masks and
 * scans repeat: left-recursive repeats give the statements of one block identical rows.
 */
export class Row {
  /** Unique id (identity of the row as an origin). */
  readonly id = nextRowId++;
  /** Dotted positions of the items. */
  readonly pos: Int32Array;
  /** Origin row of each item. */
  readonly orig: Row[];
  /**
   * Items by the symbol after their dot, compactly (rows are many and long-lived): the distinct
   * symbols ascending, and for symbol k the item indices nextItems[nextStart[k] .. nextStart[k+1]).
   */
  private readonly nextSyms: Int32Array;
  readonly nextStart: Int32Array;
  readonly nextItems: Int32Array;
  /** Terminals some item expects next, ascending. */
  readonly expected: Int32Array;
  readonly accepting: boolean;
  /** Scan results by key (see Matcher); owned by the matcher layer. */
  readonly cache = new Map<number | string, unknown>();

  /** `index`: the lexeme count where the row was first built (informational: rows are shared). */
  constructor(readonly index: number, pos: number[], orig: (Row | null)[], tables: EarleyTables, readonly initial = false) {
    this.pos = Int32Array.from(pos);
    this.orig = orig as Row[]; // null entries (self-origins) are patched by close()
    let accepting = false;
    const order: number[] = [];
    for (let i = 0; i < pos.length; i++) {
      const s = tables.dotSym[pos[i]];
      if (s >= 0) order.push(i);
      else if (pos[i] === tables.acceptPos && (orig[i] ? orig[i]!.initial : initial)) accepting = true;
    }
    const dot = tables.dotSym;
    order.sort((a, b) => dot[pos[a]] - dot[pos[b]] || a - b);
    const syms: number[] = [], starts: number[] = [];
    for (let k = 0; k < order.length; k++) {
      const sym = dot[pos[order[k]]];
      if (k === 0 || sym !== syms[syms.length - 1]) { syms.push(sym); starts.push(k); }
    }
    starts.push(order.length);
    this.nextSyms = Int32Array.from(syms);
    this.nextStart = Int32Array.from(starts);
    this.nextItems = Int32Array.from(order);
    let nt = 0;
    while (nt < syms.length && syms[nt] < tables.T) nt++;
    this.expected = this.nextSyms.slice(0, nt);
    this.accepting = accepting;
  }

  /** Index k of `sym` among the symbols after a dot (see nextStart), or -1. */
  findNext(sym: number): number {
    const a = this.nextSyms;
    let lo = 0, hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid];
      if (v === sym) return mid;
      if (v < sym) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  /** Whether some item expects terminal `t` next. */
  expects(t: number): boolean { return this.findNext(t) >= 0; }
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

/** Builds a row from seed items: prediction and completion to a fixed point; interned. */
function close(index: number, seedPos: number[], seedOrig: (Row | null)[], tables: EarleyTables, initial = false): Row {
  const pos: number[] = [];
  const orig: (Row | null)[] = [];
  const keys: number[] = [];
  const seen = new Set<number>();
  const predicted = new Set<number>();
  const { dotSym, posRule, ruleLhs, predict, nullable, T } = tables;
  const P = dotSym.length;
  // `null` origin stands for the row being built (key 0 · P).
  const add = (p: number, o: Row | null) => {
    const k = p + P * (o ? o.id : 0);
    if (seen.has(k)) return;
    seen.add(k);
    keys.push(k);
    pos.push(p);
    orig.push(o);
  };
  for (let i = 0; i < seedPos.length; i++) add(seedPos[i], seedOrig[i]);
  for (let i = 0; i < pos.length; i++) {
    const p = pos[i];
    const o = orig[i];
    const s = dotSym[p];
    if (s < 0) {
      if (o === null) continue; // completed within this set: covered by the nullable rule
      const lhs = ruleLhs[posRule[p]];
      const k = o.findNext(lhs);
      if (k >= 0) for (let q = o.nextStart[k], e = o.nextStart[k + 1]; q < e; q++) { const j = o.nextItems[q]; add(o.pos[j] + 1, o.orig[j]); }
    } else if (s >= T) {
      if (!predicted.has(s)) {
        predicted.add(s);
        for (const q of predict[s - T]) add(q, null);
      }
      if (nullable[s]) add(p + 1, o);
    }
  }
  // Completed items have done their work (completion ran above); only the accepting one matters
  // later. Dropping them keeps rows free of history: after `x = 1\n` the row no longer remembers
  // where that statement began, so the rows of sibling statements intern to one.
  const kPos: number[] = [], kOrig: (Row | null)[] = [], kKeys: number[] = [];
  for (let i = 0; i < pos.length; i++) {
    if (dotSym[pos[i]] < 0 && pos[i] !== tables.acceptPos) continue;
    kPos.push(pos[i]); kOrig.push(orig[i]); kKeys.push(keys[i]);
  }
  const key = (initial ? 'I' : '') + Float64Array.from(kKeys).sort().join(',');
  const interned = tables.rows.get(key);
  if (interned) { tables.rows.hits++; return interned; }
  tables.rows.misses++;
  const row = new Row(index, kPos, kOrig, tables, initial);
  // Patch self-origins now that the row exists.
  for (let i = 0; i < kOrig.length; i++) if (kOrig[i] === null) (row.orig as (Row | null)[])[i] = row;
  tables.rows.set(key, row);
  return row;
}

/** The first row: predictions of the start symbol. */
export function initialRow(tables: EarleyTables): Row {
  const seeds = [...tables.predict[tables.grammar.start - tables.T]];
  return close(0, seeds, seeds.map(() => null), tables, true);
}

/** The row after scanning any of `terminals` (ascending ids) in `row`, or null if none is expected. */
export function scan(row: Row, terminals: readonly number[], tables: EarleyTables): Row | null {
  const seedPos: number[] = [];
  const seedOrig: Row[] = [];
  for (const t of terminals) {
    const k = row.findNext(t);
    if (k < 0) continue;
    for (let q = row.nextStart[k], e = row.nextStart[k + 1]; q < e; q++) { const j = row.nextItems[q]; seedPos.push(row.pos[j] + 1); seedOrig.push(row.orig[j]); }
  }
  if (seedPos.length === 0) return null;
  return close(row.index + 1, seedPos, seedOrig, tables);
}
