import { strict as assert } from 'node:assert';
import { leftFactor } from '../../../src/engine/grammar/passes/factor';

// Terminals 0..2 (x, y, z); nonterminals from T = 3: S (3) is the start, A (4).
const T = 3, S = 3, A = 4;
const show = (f: { rules: { lhs: number; rhs: number[] }[]; nonterminals: string[] }) => {
  const name = (s: number) => (s < T ? 'xyz'[s] : f.nonterminals[s - T]);
  return f.rules.map((r) => `${name(r.lhs)} → ${r.rhs.map(name).join(' ') || 'ε'}`).sort();
};

describe('grammar compiler: left factoring', () => {
  it('merges the rules of a nonterminal that begin alike, by their longest common prefix, into one rule and a tail nonterminal', () => {
    const f = leftFactor([{ lhs: S, rhs: [A] }, { lhs: A, rhs: [0, 1, 2] }, { lhs: A, rhs: [0, 1, 1] }, { lhs: A, rhs: [2] }], ['S', 'A'], T, S);
    assert.deepEqual(show(f), ['A → x y A~1', 'A → z', 'A~1 → y', 'A~1 → z', 'S → A']);
  });

  it('keeps an empty tail (a shorter rule that is a prefix of a longer one) and drops duplicate alternatives', () => {
    const f = leftFactor([{ lhs: S, rhs: [A] }, { lhs: A, rhs: [0] }, { lhs: A, rhs: [0, 1] }, { lhs: A, rhs: [0, 1] }], ['S', 'A'], T, S);
    assert.deepEqual(show(f), ['A → x A~1', 'A~1 → y', 'A~1 → ε', 'S → A']);
  });

  it('factors the tails again where they too begin alike, and leaves the start symbol as it is', () => {
    const f = leftFactor([{ lhs: S, rhs: [0, 1] }, { lhs: S, rhs: [0, 2] }, { lhs: A, rhs: [0, 1, 2] }, { lhs: A, rhs: [0, 2, 1] }, { lhs: A, rhs: [0, 2, 2] }], ['S', 'A'], T, S);
    assert.deepEqual(show(f), ['A → x A~1', 'A~1 → y z', 'A~1 → z A~1~1', 'A~1~1 → y', 'A~1~1 → z', 'S → x y', 'S → x z']);
  });
});
