// Pass 3: turn a lexeme's regular expression into a byte-level DFA. `refa` parses JavaScript regex
// syntax (with the u flag, so \p{…} works) into a character DFA; we re-encode its character
// ranges as UTF-8 byte sequences and determinize over bytes, so the lexer runs on raw bytes.
import { JS, NFA, DFA } from 'refa';
import { TrellisError } from '../../api';
import type { ByteDfa } from '../types';

const SYNTAX = new Set('\\^$.*+?()[]{}|/-'.split(''));

/** Escapes a literal for a u-mode regex. */
export function escapeLiteral(s: string): string {
  let out = '';
  for (const ch of s) out += '\\^$.*+?()[]{}|/'.includes(ch) ? '\\' + ch : ch;
  return out;
}

/**
 * tree-sitter patterns follow Rust's regex syntax, which allows identity escapes (`\"`) that
 * u-mode JavaScript rejects, and property names JavaScript lacks. Rewrites those.
 */
export function sanitizePattern(src: string): string {
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '\\' && i + 1 < src.length) {
      const next = src[i + 1];
      if (!/[A-Za-z0-9]/.test(next) && !SYNTAX.has(next)) { out += next; i++; continue; }
      out += ch + next; i++;
      continue;
    }
    out += ch;
  }
  return out.replace(/\\p\{XID_Start\}/g, '\\p{ID_Start}').replace(/\\p\{XID_Continue\}/g, '\\p{ID_Continue}')
    .replace(/\\P\{XID_Start\}/g, '\\P{ID_Start}').replace(/\\P\{XID_Continue\}/g, '\\P{ID_Continue}');
}

/** UTF-8 byte-range sequences covering code points [lo, hi] (like regex-syntax's Utf8Sequences). */
export function utf8Sequences(lo: number, hi: number): [number, number][][] {
  const out: [number, number][][] = [];
  const bounds = [0x7f, 0x7ff, 0xffff, 0x10ffff];
  // Surrogates are not encodable; skip them.
  if (lo <= 0xdfff && hi >= 0xd800) {
    if (lo < 0xd800) out.push(...utf8Sequences(lo, 0xd7ff));
    if (hi > 0xdfff) out.push(...utf8Sequences(0xe000, hi));
    return out;
  }
  for (let k = 0; k < 4; k++) {
    const blo = k === 0 ? 0 : bounds[k - 1] + 1;
    const bhi = bounds[k];
    const a = Math.max(lo, blo), b = Math.min(hi, bhi);
    if (a <= b) split(a, b, k + 1, out);
  }
  return out;
}

function encode(cp: number, n: number): number[] {
  if (n === 1) return [cp];
  const bytes: number[] = [];
  for (let i = n - 1; i > 0; i--) { bytes.unshift(0x80 | (cp & 0x3f)); cp >>= 6; }
  const lead = [0, 0, 0xc0, 0xe0, 0xf0][n];
  bytes.unshift(lead | cp);
  return bytes;
}

/** Splits [a,b] (same encoded length n) into ranges whose byte ranges form a cross product. */
function split(a: number, b: number, n: number, out: [number, number][][]): void {
  if (n === 1) { out.push([[a, b]]); return; }
  for (let i = 1; i < n; i++) {
    const m = (1 << (6 * i)) - 1;
    if ((a & ~m) !== (b & ~m)) {
      if ((a & m) !== 0) { split(a, a | m, n, out); split((a | m) + 1, b, n, out); return; }
      if ((b & m) !== m) { split(a, (b & ~m) - 1, n, out); split(b & ~m, b, n, out); return; }
    }
  }
  const ea = encode(a, n), eb = encode(b, n);
  out.push(ea.map((x, i) => [x, eb[i]] as [number, number]));
}

/**
 * Compiles a u-mode JavaScript regex source to a byte DFA. `where` names the rule and file for
 * errors (an unsupported feature such as a lookaround or backreference is reported there).
 */
export function regexToByteDfa(source: string, flags: string, where: string): ByteDfa {
  let charDfa: DFA;
  try {
    const { expression, maxCharacter } = JS.Parser.fromLiteral({ source, flags: 'u' + flags.replace(/[gu]/g, '') }).parse();
    charDfa = DFA.fromFA(NFA.fromRegex(expression, { maxCharacter }));
    charDfa.minimize();
  } catch (e) {
    throw new TrellisError(`${where}: unsupported regular expression /${source}/ (${(e as Error).message}); this grammar cannot be compiled`, 'grammar_invalid');
  }
  // Byte NFA: char states keep their ids; intermediate nodes are shared by (remaining ranges, target).
  const ids = new Map<unknown, number>();
  const nodes = [charDfa.initial, ...[...charDfa.nodes()].filter((n) => n !== charDfa.initial)];
  for (const n of nodes) ids.set(n, ids.size);
  const nfaEdges: [number, number, number][][] = nodes.map(() => []); // per state: [lo, hi, to]
  const nfaAccept: boolean[] = nodes.map((n) => charDfa.finals.has(n));
  const chainMemo = new Map<string, number>();
  const newState = (): number => { nfaEdges.push([]); nfaAccept.push(false); return nfaEdges.length - 1; };
  const chain = (seq: [number, number][], from: number, target: number): number => {
    // returns the state reached after seq[from..] minus the last range; adds edges
    const key = `${target}:${seq.slice(from).map((r) => r.join('-')).join(',')}`;
    let s = chainMemo.get(key);
    if (s !== undefined) return s;
    s = newState();
    const [lo, hi] = seq[from];
    if (from === seq.length - 1) nfaEdges[s].push([lo, hi, target]);
    else nfaEdges[s].push([lo, hi, chain(seq, from + 1, target)]);
    chainMemo.set(key, s);
    return s;
  };
  for (const n of nodes) {
    const from = ids.get(n)!;
    for (const [range, to] of n.out.entries()) {
      const target = ids.get(to)!;
      for (const seq of utf8Sequences(range.min, range.max)) {
        if (seq.length === 1) nfaEdges[from].push([seq[0][0], seq[0][1], target]);
        else nfaEdges[from].push([seq[0][0], seq[0][1], chain(seq, 1, target)]);
      }
    }
  }
  // Subset construction over bytes.
  const key = (set: number[]): string => set.join(',');
  const dstates: number[][] = [[0]];
  const dmap = new Map<string, number>([['0', 0]]);
  const trans: Int32Array[] = [];
  for (let i = 0; i < dstates.length; i++) {
    const row = new Int32Array(256).fill(-1);
    const targets: Set<number>[] = [];
    for (const s of dstates[i]) {
      for (const [lo, hi, to] of nfaEdges[s]) {
        for (let b = lo; b <= hi; b++) (targets[b] ??= new Set()).add(to);
      }
    }
    const memo = new Map<string, number>();
    for (let b = 0; b < 256; b++) {
      const t = targets[b];
      if (!t) continue;
      const set = [...t].sort((x, y) => x - y);
      const k = key(set);
      let id = memo.get(k) ?? dmap.get(k);
      if (id === undefined) { id = dstates.length; dstates.push(set); dmap.set(k, id); }
      memo.set(k, id);
      row[b] = id;
    }
    trans.push(row);
  }
  const acc = dstates.map((set) => set.some((s) => nfaAccept[s]));
  // Keep only states that can reach an accepting state (so "alive" means "can still match").
  const live = acc.slice();
  for (let changed = true; changed;) {
    changed = false;
    for (let s = 0; s < trans.length; s++) {
      if (live[s]) continue;
      for (let b = 0; b < 256; b++) { const t = trans[s][b]; if (t >= 0 && live[t]) { live[s] = true; changed = true; break; } }
    }
  }
  const edges: number[] = [];
  for (let s = 0; s < trans.length; s++) {
    let b = 0;
    while (b < 256) {
      const t = trans[s][b];
      if (t < 0 || !live[t] || !live[s]) { b++; continue; }
      let e = b;
      while (e + 1 < 256 && trans[s][e + 1] === t) e++;
      edges.push(s, b, e, t);
      b = e + 1;
    }
  }
  const accepting: number[] = [];
  acc.forEach((a, s) => { if (a) accepting.push(s); });
  return { states: trans.length, accepting, edges };
}

/** Dense transition table of a ByteDfa: `table[s * 256 + b]` is the next state or -1. */
export function denseTable(d: ByteDfa): Int32Array {
  const t = new Int32Array(d.states * 256).fill(-1);
  for (let i = 0; i < d.edges.length; i += 4) {
    const s = d.edges[i], lo = d.edges[i + 1], hi = d.edges[i + 2], to = d.edges[i + 3];
    for (let b = lo; b <= hi; b++) t[s * 256 + b] = to;
  }
  return t;
}

/** Whether the DFA matches the whole byte string. */
export function dfaMatches(d: ByteDfa, table: Int32Array, bytes: Uint8Array): boolean {
  let s = 0;
  for (const b of bytes) { s = table[s * 256 + b]; if (s < 0) return false; }
  return d.accepting.includes(s);
}
