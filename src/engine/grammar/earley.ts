// Earley parser over lexemes, with persistent rows: a row is an immutable Earley set whose items
// point at their origin rows directly, so a parser state is one Row reference — snapshot and
// restore are O(1) and branches share history. Nullable nonterminals use the Aycock–Horspool
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

const ORIGIN_SPAN = 2 ** 24;

/** One Earley set. Immutable once built; caches results of scanning it. */
export class Row {
  /** Dotted positions of the items. */
  readonly pos: Int32Array;
  /** Origin row of each item. */
  readonly orig: Row[];
  /** Item indices by the symbol after their dot. */
  private readonly byNextMap: Map<number, number[]>;
  /** Terminals some item expects next, ascending. */
  readonly expected: number[];
  readonly accepting: boolean;
  /** Scan results by key (see Matcher); owned by the matcher layer. */
  readonly cache = new Map<number | string, unknown>();

  constructor(readonly index: number, pos: number[], orig: (Row | null)[], tables: EarleyTables) {
    this.pos = Int32Array.from(pos);
    this.orig = orig as Row[]; // null entries (self-origins) are patched by close()
    const by = new Map<number, number[]>();
    const expected: number[] = [];
    let accepting = false;
    for (let i = 0; i < pos.length; i++) {
      const s = tables.dotSym[pos[i]];
      if (s >= 0) {
        let l = by.get(s);
        if (!l) { l = []; by.set(s, l); if (s < tables.T) expected.push(s); }
        l.push(i);
      } else if (pos[i] === tables.acceptPos && (orig[i]?.index ?? index) === 0) accepting = true;
    }
    this.byNextMap = by;
    this.expected = expected.sort((a, b) => a - b);
    this.accepting = accepting;
  }

  byNext(sym: number): number[] | undefined { return this.byNextMap.get(sym); }
}

/** Builds a row from seed items: prediction and completion to a fixed point. */
function close(index: number, seedPos: number[], seedOrig: (Row | null)[], tables: EarleyTables): Row {
  const pos: number[] = [];
  const orig: (Row | null)[] = [];
  const seen = new Set<number>();
  const predicted = new Set<number>();
  const { dotSym, posRule, ruleLhs, predict, nullable, T } = tables;
  // `null` origin stands for the row being built.
  const add = (p: number, o: Row | null) => {
    const k = p * ORIGIN_SPAN + (o ? o.index : index);
    if (seen.has(k)) return;
    seen.add(k);
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
      const waiting = o.byNext(lhs);
      if (waiting) for (const j of waiting) add(o.pos[j] + 1, o.orig[j]);
    } else if (s >= T) {
      if (!predicted.has(s)) {
        predicted.add(s);
        for (const q of predict[s - T]) add(q, null);
      }
      if (nullable[s]) add(p + 1, o);
    }
  }
  const row = new Row(index, pos, orig, tables);
  // Patch self-origins now that the row exists.
  for (let i = 0; i < orig.length; i++) if (orig[i] === null) (row.orig as (Row | null)[])[i] = row;
  return row;
}

/** The first row: predictions of the start symbol. */
export function initialRow(tables: EarleyTables): Row {
  const seeds = [...tables.predict[tables.grammar.start - tables.T]];
  return close(0, seeds, seeds.map(() => null), tables);
}

/** The row after scanning any of `terminals` (ascending ids) in `row`, or null if none is expected. */
export function scan(row: Row, terminals: readonly number[], tables: EarleyTables): Row | null {
  const seedPos: number[] = [];
  const seedOrig: Row[] = [];
  for (const t of terminals) {
    const items = row.byNext(t);
    if (!items) continue;
    for (const j of items) { seedPos.push(row.pos[j] + 1); seedOrig.push(row.orig[j]); }
  }
  if (seedPos.length === 0) return null;
  return close(row.index + 1, seedPos, seedOrig, tables);
}
