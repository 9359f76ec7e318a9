// The byte-level lexer: per-lexeme DFAs stepped together as one lazily built combined DFA.
// A combined state is the set of (lexeme, DFA state) pairs still alive; it is interned to an
// integer with a 256-entry transition row filled on first use, so after warm-up a byte costs one
// array lookup. The start state depends on which lexemes the parser allows (plus extras), and
// lexemes the parser does not allow may ride along as "shadows" for keyword resolution.
import type { CompiledGrammar } from './types';
import { denseTable } from './passes/lexemes';
import { utf8Next } from './vocab-trie';

/** Member flag: the lexeme is only tracked (keyword/word resolution), the parser does not expect it. */
export const SHADOW = 1;
/** `step` result: dead, and the lexeme may not end before this byte either. */
export const SHADOW_DEAD = -3;
const ACCEPTING = 1, START = 2;

interface LexState {
  /** Triples [terminal, dfaState, flags]. */
  members: Int32Array;
  /** Terminals (with SHADOW flags) accepting here: pairs [terminal, flags]. */
  accepts: Int32Array;
  /** True for start states (no byte of the lexeme consumed yet). */
  start: boolean;
}

export class CombinedLexer {
  private readonly tables: Int32Array[] = [];
  private readonly accepting: Uint8Array[] = [];
  private readonly prec: Int32Array;
  private readonly states: LexState[] = [];
  private readonly ids = new Map<string, number>();
  /**
   * Next state of state s on byte b at s·256 + b (-2 not computed yet, -1 dead), and per state
   * whether it accepts / is a start state: flat, the mask walk steps the lexer at every node.
   */
  private trans = new Int32Array(256 * 64).fill(-2);
  private flags = new Uint8Array(64);

  constructor(readonly grammar: CompiledGrammar) {
    for (const t of grammar.terminals) {
      if (t.dfa) {
        this.tables.push(denseTable(t.dfa));
        const acc = new Uint8Array(t.dfa.states);
        for (const s of t.dfa.accepting) acc[s] = 1;
        this.accepting.push(acc);
      } else {
        this.tables.push(new Int32Array(0));
        this.accepting.push(new Uint8Array(0));
      }
    }
    this.prec = Int32Array.from(grammar.terminals.map((t) => t.prec));
  }

  /** Number of interned states (for statistics). */
  get size(): number { return this.states.length; }

  /** Start state for lexemes `terms` (sorted by id, each with flags). Returns -1 if empty. */
  startState(terms: readonly number[], flags: readonly number[]): number {
    const m: number[] = [];
    for (let i = 0; i < terms.length; i++) if (this.tables[terms[i]].length) m.push(terms[i], 0, flags[i]);
    if (m.length === 0) return -1;
    return this.intern(Int32Array.from(m), true);
  }

  private intern(members: Int32Array, start: boolean): number {
    const key = (start ? 'S' : '') + members.join(',');
    let id = this.ids.get(key);
    if (id !== undefined) return id;
    id = this.states.length;
    const acc: number[] = [];
    for (let i = 0; i < members.length; i += 3) {
      if (this.accepting[members[i]][members[i + 1]]) acc.push(members[i], members[i + 2]);
    }
    this.states.push({ members, accepts: Int32Array.from(acc), start });
    if (id >= this.flags.length) {
      const trans = new Int32Array(this.trans.length * 2).fill(-2);
      trans.set(this.trans);
      this.trans = trans;
      const flags = new Uint8Array(this.flags.length * 2);
      flags.set(this.flags);
      this.flags = flags;
    }
    this.flags[id] = (acc.length > 0 ? ACCEPTING : 0) | (start ? START : 0);
    this.ids.set(key, id);
    return id;
  }

  /**
   * Next state after byte `b`; -1 when no allowed lexeme can continue (the lexeme may end before
   * `b`); SHADOW_DEAD when only shadow lexemes continue (the prefix is dead).
   */
  step(s: number, b: number): number {
    const t = this.trans[s * 256 + b];
    if (t !== -2) return t;
    const st = this.states[s];
    // Lexical precedence: once a lexeme of precedence P has matched, lexemes of lower precedence
    // may not continue past it (tree-sitter prefers the higher-precedence shorter match).
    let minPrec = -Infinity;
    for (let i = 0; i < st.accepts.length; i += 2) {
      if (!(st.accepts[i + 1] & SHADOW)) minPrec = Math.max(minPrec, this.prec[st.accepts[i]]);
    }
    const next: number[] = [];
    const m = st.members;
    for (let i = 0; i < m.length; i += 3) {
      const term = m[i];
      if (this.prec[term] < minPrec) continue;
      const to = this.tables[term][m[i + 1] * 256 + b];
      if (to >= 0) next.push(term, to, m[i + 2]);
    }
    let result = -1;
    if (next.length) {
      let real = false;
      for (let i = 2; i < next.length; i += 3) if (!(next[i] & SHADOW)) { real = true; break; }
      // Only shadows left (`ifx` where only `if` was allowed): the text can be neither the allowed
      // lexeme nor end before this byte, so the prefix is dead (not a lexeme boundary).
      result = real ? this.intern(Int32Array.from(next), false) : SHADOW_DEAD;
    }
    this.trans[s * 256 + b] = result;
    return result;
  }

  /**
   * The bytes on which state `s` loops by whole characters: the ASCII bytes it steps to itself
   * on, the lead bytes of multibyte UTF-8 characters that all step it back to `s` through live
   * states (a comment's text, `[^\n]*`, is a state per pending byte count; U+2028 and U+2029 end
   * it, so their lead E2 is not one), and every continuation byte (met only inside such a
   * character on a well-formed path). Cached per state; records the states inside those
   * characters for charOwner.
   */
  charLoopBits(s: number): Uint32Array {
    let bits = this.charLoops.get(s);
    if (bits !== undefined) return bits;
    bits = new Uint32Array(8);
    for (let b = 0; b < 0x80; b++) if (this.step(s, b) === s) bits[b >>> 5] |= 1 << (b & 31);
    for (let b = 0x80; b < 0xc0; b++) bits[b >>> 5] |= 1 << (b & 31);
    // safe(q, u): every well-formed rest of the character from lexer state q, decoder state u
    // (see utf8Next), steps through live states back to s; memoized per pair
    const safe = new Map<number, boolean>();
    const isSafe = (q: number, u: number): boolean => {
      const key = q * 8 + u;
      let ok = safe.get(key);
      if (ok !== undefined) return ok;
      safe.set(key, true); // (no cycles inside a character: decoder states only count down)
      ok = true;
      for (let b = 0x80; b < 0xc0 && ok; b++) {
        const u2 = utf8Next(u, b);
        if (u2 < 0) continue;
        const q2 = this.step(q, b);
        ok = q2 >= 0 && (u2 === 0 ? q2 === s : isSafe(q2, u2));
      }
      safe.set(key, ok);
      return ok;
    };
    for (let b = 0xc0; b < 0x100; b++) {
      const u = utf8Next(0, b);
      if (u <= 0) continue;
      const q = this.step(s, b);
      if (q >= 0 && isSafe(q, u)) bits[b >>> 5] |= 1 << (b & 31);
    }
    // (a pair inside the characters of two states belongs to neither)
    for (const [key, ok] of safe) {
      if (!ok) continue;
      const o = this.owners.get(key);
      this.owners.set(key, o === undefined || o === s ? s : -2);
    }
    this.charLoops.set(s, bits);
    return bits;
  }

  private readonly charLoops = new Map<number, Uint32Array>();
  /** The state each (state, decoder state) pair inside a character loops back to (see charOwner). */
  private readonly owners = new Map<number, number>();

  /**
   * The state s whose whole-character loop (charLoopBits) passes through state q with decoder
   * state u (see utf8Next) inside a character, every well-formed rest of which leads back to s;
   * -1 when none is known.
   */
  charOwner(q: number, u: number): number {
    const s = this.owners.get(q * 8 + u);
    return s === undefined || s < 0 ? -1 : s;
  }

  isStart(s: number): boolean { return (this.flags[s] & START) !== 0; }
  /** Some lexeme (possibly a shadow) matches exactly here. */
  isAccepting(s: number): boolean { return (this.flags[s] & ACCEPTING) !== 0; }
  /** Pairs [terminal, flags] of lexemes that may end in state `s`. */
  accepts(s: number): Int32Array { return this.states[s].accepts; }
  members(s: number): Int32Array { return this.states[s].members; }
}
