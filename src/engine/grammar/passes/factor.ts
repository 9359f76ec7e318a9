// Pass 3: left factoring. Rules of one nonterminal that begin alike (tree-sitter writes a binary
// expression as one rule per operator, `expression OP expression`) become one rule ending in a
// fresh nonterminal for their differing tails: `A → α X | α Y` ⇒ `A → α A~1`, `A~1 → X | Y`. The
// language is unchanged (the engine recognizes the context-free language and ignores
// precedences); the parser's states shrink: completing an `expression` used to advance every
// operator's rule one by one (about 170 items per parse step in JavaScript), now one item does.
import type { Rule } from '../types';

export interface Factored { rules: Rule[]; nonterminals: string[] }

/**
 * Left-factors `rules` (symbols: terminals below T, nonterminal j is T + j) until no two rules of
 * a nonterminal share their first symbol. `start`'s rules are left as they are (its rule's end is
 * the accepting position). Fresh nonterminals are named after theirs (`expression~1`).
 */
export function leftFactor(rules: readonly Rule[], nonterminals: readonly string[], T: number, start: number): Factored {
  const names = [...nonterminals];
  const byLhs = new Map<number, number[][]>();
  for (const r of rules) {
    let list = byLhs.get(r.lhs);
    if (!list) byLhs.set(r.lhs, (list = []));
    // duplicate alternatives are one
    if (!list.some((x) => sameSeq(x, r.rhs))) list.push([...r.rhs]);
  }
  const fresh = new Map<number, number>();
  const queue = [...byLhs.keys()];
  while (queue.length) {
    const A = queue.pop()!;
    if (A === start) continue;
    const alts = byLhs.get(A)!;
    const groups = new Map<number, number[][]>();
    for (const rhs of alts) {
      if (rhs.length === 0) continue;
      let g = groups.get(rhs[0]);
      if (!g) groups.set(rhs[0], (g = []));
      g.push(rhs);
    }
    let changed = false;
    const out: number[][] = alts.filter((rhs) => rhs.length === 0 || groups.get(rhs[0])!.length < 2);
    for (const g of groups.values()) {
      if (g.length < 2) continue;
      changed = true;
      let n = 1;
      while (g.every((rhs) => rhs.length > n && rhs[n] === g[0][n])) n++;
      const k = (fresh.get(A) ?? 0) + 1;
      fresh.set(A, k);
      const tail = T + names.length;
      names.push(`${names[A - T]}~${k}`);
      const tails: number[][] = [];
      for (const rhs of g) {
        const rest = rhs.slice(n);
        if (!tails.some((x) => sameSeq(x, rest))) tails.push(rest);
      }
      byLhs.set(tail, tails);
      queue.push(tail);
      out.push([...g[0].slice(0, n), tail]);
    }
    if (changed) byLhs.set(A, out);
  }
  const outRules: Rule[] = [];
  for (const [lhs, alts] of byLhs) for (const rhs of alts) outRules.push({ lhs, rhs });
  return { rules: outRules, nonterminals: names };
}

function sameSeq(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
