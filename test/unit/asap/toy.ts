// Exact toy parts for the grammar-mode tests: a byte-level tokenizer over a 7-token vocabulary,
// a real Matcher for a tiny context-free language, and a LanguageModel whose conditional tables
// are written out, so the constrained distribution Q can be enumerated exactly.
import type { ForwardRow, KvCache, LanguageModel, Matcher, TokenizerLike } from '../../../src/engine/interfaces';

/** The vocabulary: five pieces of the language, one byte it never contains, and EOS. */
export const PIECES = ['a', '(', ')', '((', 'a)', 'b', '<eos>'] as const;
export const EOS = 6;
const enc = new TextEncoder();

export class ToyTokenizer implements TokenizerLike {
  readonly vocabSize = PIECES.length;
  private readonly bytes = PIECES.map((p) => enc.encode(p));
  encodeBytes(bytes: Uint8Array): number[] {
    // Greedy longest match (the toy never needs canonical BPE).
    const out: number[] = [];
    for (let i = 0; i < bytes.length; ) {
      let best = -1;
      for (let t = 0; t < EOS; t++) {
        const b = this.bytes[t]!;
        if (b.length > (best < 0 ? 0 : this.bytes[best]!.length) && b.every((x, j) => bytes[i + j] === x)) best = t;
      }
      if (best < 0) throw new Error(`toy tokenizer cannot encode byte ${bytes[i]}`);
      out.push(best);
      i += this.bytes[best]!.length;
    }
    return out;
  }
  tokenBytes(id: number): Uint8Array {
    return this.bytes[id]!;
  }
  decodeBytes(ids: readonly number[]): Uint8Array {
    return enc.encode(ids.map((i) => PIECES[i]).join(''));
  }
  specialTokenId(content: string): number | undefined {
    return content === '<eos>' ? EOS : undefined;
  }
  isSpecial(id: number): boolean {
    return id === EOS;
  }
  preTokenizeBoundaries(bytes: Uint8Array): number[] {
    return [0, bytes.length];
  }
}

/**
 * The language S → T S | T;  T → 'a' | '(' S ')': non-empty sequences of atoms and non-empty
 * parenthesised groups; spaces and newlines may appear anywhere. A pushdown matcher: the state is the depth and the last symbol class.
 */
type ParenState = { depth: number; last: 0 | 1 | 2 | 3 }; // 0 start, 1 '(' , 2 atom, 3 ')'

function stepByte(s: ParenState, b: number): ParenState | null {
  if (b === 0x20 || b === 0x0a) return s; // blanks separate nothing
  if (b === 0x61) return { depth: s.depth, last: 2 };
  if (b === 0x28) return { depth: s.depth + 1, last: 1 };
  if (b === 0x29) return s.depth > 0 && s.last !== 1 ? { depth: s.depth - 1, last: 3 } : null;
  return null;
}

export class ParenMatcher implements Matcher {
  private s: ParenState = { depth: 0, last: 0 };
  /** Calls to computeMask (to check that masking is opportunistic). */
  maskCalls = 0;
  constructor(private readonly tok: TokenizerLike) {}

  private run(s: ParenState, bytes: Uint8Array): ParenState | null {
    let cur: ParenState | null = s;
    for (const b of bytes) {
      cur = stepByte(cur, b);
      if (!cur) return null;
    }
    return cur;
  }
  computeMask(): Uint32Array {
    this.maskCalls++;
    const m = new Uint32Array(Math.ceil(this.tok.vocabSize / 32));
    for (let t = 0; t < this.tok.vocabSize; t++) if (this.allows(t)) m[t >>> 5]! |= 1 << (t & 31);
    return m;
  }
  allows(token: number): boolean {
    return !this.tok.isSpecial(token) && this.run(this.s, this.tok.tokenBytes(token)) !== null;
  }
  consume(token: number): boolean {
    return !this.tok.isSpecial(token) && this.consumeBytes(this.tok.tokenBytes(token));
  }
  consumeBytes(bytes: Uint8Array): boolean {
    const n = this.run(this.s, bytes);
    if (!n) return false;
    this.s = n;
    return true;
  }
  snapshot(): unknown {
    return this.s;
  }
  restore(snapshot: unknown): void {
    this.s = snapshot as ParenState;
  }
  isAccepting(): boolean {
    return this.s.depth === 0 && this.s.last >= 2;
  }
  acceptsSuffix(suffix: Uint8Array): boolean {
    const n = this.run(this.s, suffix);
    return n !== null && n.depth === 0 && n.last >= 2;
  }
}

/** Whether `bytes` is in the language. */
export function inLanguage(tok: TokenizerLike, bytes: Uint8Array): boolean {
  const m = new ParenMatcher(tok);
  return m.consumeBytes(bytes) && m.isAccepting();
}

/** A cache that remembers the tokens it holds (the toy model conditions on them). */
export class ToyCache implements KvCache {
  constructor(readonly tokens: number[] = []) {}
  get length(): number {
    return this.tokens.length;
  }
  fork(): KvCache {
    return new ToyCache([...this.tokens]);
  }
  truncate(length: number): void {
    this.tokens.length = Math.min(length, this.tokens.length);
  }
  dispose(): void {}
}

/**
 * P(t | u) written out. After MAX_LEN tokens only EOS remains, so every sequence is finite and Q
 * is a finite sum. After an opening parenthesis the model mostly wants tokens the grammar
 * forbids ('b', EOS, ')'): such prefixes are viable but rarely grammatical, which GCD ignores.
 */
export const MAX_LEN = 4;
export function toyProbs(u: readonly number[]): number[] {
  if (u.length >= MAX_LEN) return [0, 0, 0, 0, 0, 0, 1];
  const last = u.length === 0 ? -1 : u[u.length - 1]!;
  //            a     (     )     ((    a)    b     eos
  if (last === -1) return [0.3, 0.35, 0, 0.2, 0, 0.15, 0];
  if (last === 1 || last === 3) return [0.2, 0.05, 0.15, 0, 0.15, 0.35, 0.1];
  if (last === 5) return [1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7];
  return [0.15, 0.1, 0.25, 0.05, 0.15, 0.1, 0.2];
}

export class ToyModel implements LanguageModel {
  readonly vocabSize = PIECES.length;
  readonly contextLength = 64;
  forwardCalls = 0;
  newCache(): KvCache {
    return new ToyCache();
  }
  async forward(rows: readonly ForwardRow[]): Promise<Float32Array[]> {
    this.forwardCalls++;
    return rows.map((r) => {
      const c = r.cache as ToyCache;
      c.tokens.push(...r.ids);
      return Float32Array.from(toyProbs(c.tokens), (p) => (p > 0 ? Math.log(p) : -Infinity));
    });
  }
  dispose(): void {}
}

/** Every token sequence the model can produce (EOS excluded) with its probability. */
export function enumerateSequences(): { seq: number[]; p: number }[] {
  const out: { seq: number[]; p: number }[] = [];
  const walk = (u: number[], p: number): void => {
    const probs = toyProbs(u);
    for (let t = 0; t < probs.length; t++) {
      if (probs[t]! <= 0) continue;
      if (t === EOS) out.push({ seq: u, p: p * probs[t]! });
      else walk([...u, t], p * probs[t]!);
    }
  };
  walk([], 1);
  return out;
}

/** Q(w) = P(w)·1[w ∈ L] / Z over token sequences, keyed by the ids joined with ','. */
export function exactQ(tok: TokenizerLike): Map<string, number> {
  const all = enumerateSequences().filter((s) => inLanguage(tok, tok.decodeBytes(s.seq)));
  const z = all.reduce((a, s) => a + s.p, 0);
  return new Map(all.map((s) => [s.seq.join(','), s.p / z]));
}

/**
 * The law of GCD (mask first, renormalise) conditioned on reaching EOS, by enumeration — what
 * `mask` samples converge to.
 */
export function exactGcd(tok: TokenizerLike): Map<string, number> {
  const out = new Map<string, number>();
  const m = new ParenMatcher(tok);
  const walk = (u: number[], p: number): void => {
    const probs = toyProbs(u);
    const snap = m.snapshot();
    const allowed = probs.map((q, t) => (q > 0 && (t === EOS ? m.isAccepting() : m.allows(t)) ? q : 0));
    const z = allowed.reduce((a, b) => a + b, 0);
    if (z === 0) return; // dead end
    for (let t = 0; t < allowed.length; t++) {
      if (allowed[t] === 0) continue;
      const pt = (p * allowed[t]!) / z;
      if (t === EOS) out.set(u.join(','), pt);
      else {
        m.consume(t);
        walk([...u, t], pt);
        m.restore(snap);
      }
    }
  };
  walk([], 1);
  const total = [...out.values()].reduce((a, b) => a + b, 0);
  for (const [k, v] of out) out.set(k, v / total);
  return out;
}

/** KL(p ‖ q) in nats over p's support (q must cover it). */
export function kl(p: Map<string, number>, q: Map<string, number>): number {
  let s = 0;
  for (const [k, pk] of p) {
    if (pk <= 0) continue;
    const qk = q.get(k);
    if (!qk) return Infinity;
    s += pk * Math.log(pk / qk);
  }
  return s;
}

/** Empirical law of sequences. */
export function empirical(samples: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of samples) m.set(s, (m.get(s) ?? 0) + 1);
  for (const [k, v] of m) m.set(k, v / samples.length);
  return m;
}
