// GeDi maths and the processor's bookkeeping against an exact toy class-conditional LM.
import { strict as assert } from 'node:assert';
import type { ForwardRow, KvCache, LanguageModel } from '../../../src/engine/interfaces';
import {
  FILTERED_PENALTY,
  GediProcessor,
  applyGedi,
  classLogit,
  fastExpNeg,
  fastLogSigmoid,
  logSigmoid,
  logSoftmax,
  logSumExp,
  prefillGedi,
  type ActiveAttribute,
  type AttributeStep,
} from '../../../src/engine/steering/gedi';
import { parseManifest } from '../../../src/engine/steering/manifest';
import { TrellisError } from '../../../src/engine/api';

// Toy vocabulary: 0..3 text tokens, 4/5 = codes of attribute A, 6/7 = codes of attribute B.
const V = 8;
class ToyCache implements KvCache {
  constructor(public tokens: number[] = []) {}
  get length(): number {
    return this.tokens.length;
  }
  fork(): KvCache {
    return new ToyCache([...this.tokens]);
  }
  truncate(n: number): void {
    this.tokens.length = Math.min(n, this.tokens.length);
  }
  dispose(): void {}
}

/** Next-token logits given everything in the row: depend on the code and on the last token. */
function toyLogits(seq: readonly number[]): Float32Array {
  const code = seq[0]!;
  const last = seq[seq.length - 1]!;
  const out = new Float32Array(V).fill(-2);
  const favourite = code === 4 ? 0 : code === 5 ? 1 : code === 6 ? 2 : 3;
  out[favourite] = 1.5;
  out[(last + 1) % 4] += 0.5;
  for (let t = 4; t < V; t++) out[t] = -8;
  return out;
}

class ToyCcLm implements LanguageModel {
  readonly vocabSize = V;
  calls = 0;
  rowsPerCall: number[] = [];
  constructor(readonly contextLength = 64) {}
  newCache(): KvCache {
    return new ToyCache();
  }
  async forward(rows: readonly ForwardRow[], options?: { allPositions?: boolean }): Promise<Float32Array[]> {
    this.calls++;
    this.rowsPerCall.push(rows.length);
    return rows.map((r) => {
      const c = r.cache as ToyCache;
      if (c.tokens.length + r.ids.length > this.contextLength) throw new RangeError('toy context exceeded');
      const parts: Float32Array[] = [];
      for (const id of r.ids) {
        c.tokens.push(id);
        parts.push(toyLogits(c.tokens));
      }
      if (!options?.allPositions) return parts[parts.length - 1]!;
      const out = new Float32Array(parts.length * V);
      parts.forEach((p, i) => out.set(p, i * V));
      return out;
    });
  }
  dispose(): void {}
}

const A: ActiveAttribute = { name: 'a', weight: 2, positiveId: 4, negativeId: 5, alpha: 3, classBias: 0.25 };
const B: ActiveAttribute = { name: 'b', weight: -1.5, positiveId: 6, negativeId: 7, alpha: 2, classBias: -0.5 };
const settings = { window: 3, rho: 1, tau: 1, contextTokens: 4 };

/** log P(tok | code, ctx..., gen[<j]) computed from scratch. */
function lp(code: number, ctx: number[], gen: number[], j: number): number {
  return logSoftmax(toyLogits([code, ...ctx, ...gen.slice(0, j)]))[gen[j]!]!;
}

describe('steering/gedi: posterior, weights, filtering', () => {
  it('adds ω·log σ(α(ΔS + Δlp(v))/(n+1) + b) to every finite score', () => {
    const lpPos = logSoftmax(Float32Array.of(1, 0, -1, 0.5));
    const lpNeg = logSoftmax(Float32Array.of(0, 1, 0.5, -1));
    const step: AttributeStep = { attr: { ...A, weight: 2 }, deltaS: 0.7, n: 2, lpPos, lpNeg };
    const base = Float32Array.of(0.1, -0.3, -Infinity, 2);
    const s = base.slice();
    applyGedi(s, [step], 1, 1);
    for (let v = 0; v < 4; v++) {
      if (v === 2) {
        assert.equal(s[v], -Infinity);
        continue;
      }
      const z = (3 * (0.7 + lpPos[v]! - lpNeg[v]!)) / 3 + 0.25;
      assert.ok(Math.abs(s[v]! - (base[v]! + 2 * logSigmoid(z))) < 1e-5, `token ${v}`);
      assert.ok(Math.abs(classLogit(step, v) - z) < 1e-6);
    }
    // ω < 0 weighs the opposite class: |ω|·log(1 − σ(z)).
    const neg = base.slice();
    applyGedi(neg, [{ ...step, attr: { ...A, weight: -2 } }], 1, 1);
    const z0 = (3 * (0.7 + lpPos[0]! - lpNeg[0]!)) / 3 + 0.25;
    assert.ok(Math.abs(neg[0]! - (base[0]! + 2 * Math.log(1 - 1 / (1 + Math.exp(-z0))))) < 1e-5);
    // Steering up raises the on-class token relative to the off-class one, steering down the reverse.
    assert.ok(s[0]! - s[1]! > base[0]! - base[1]!);
    assert.ok(neg[0]! - neg[1]! < base[0]! - base[1]!);
  });

  it('tabled log σ and e^x match the exact functions (|Δ| ≤ 5e-7 nats, relative ≤ 6e-8)', () => {
    for (let i = 0; i <= 20000; i++) {
      const z = -50 + i * 0.005 + 1e-4 * Math.sin(i);
      assert.ok(Math.abs(fastLogSigmoid(z) - logSigmoid(z)) < 5e-7, `log σ(${z})`);
      const x = -i * 0.035; // down to −700 (below, subnormals: the callers skip them)
      assert.ok(Math.abs(fastExpNeg(x) / Math.exp(x) - 1) < 6e-8, `exp(${x})`);
    }
    assert.equal(fastExpNeg(-Infinity), 0);
    assert.equal(fastExpNeg(0), 1);
    const l = Float32Array.of(3, -1, 0.5, 7, -20);
    const ref = Math.log(Array.from(l).reduce((s, x) => s + Math.exp(x), 0));
    assert.ok(Math.abs(logSumExp(l) - ref) < 1e-6);
  });

  it('raw logits with their log-sum-exp score the same as log-probabilities', () => {
    const pos = Float32Array.of(1, 0, -1, 0.5, 2);
    const neg = Float32Array.of(0, 1, 0.5, -1, 0);
    const a: AttributeStep = { attr: { ...A, weight: -3 }, deltaS: 0.4, n: 5, lpPos: logSoftmax(pos), lpNeg: logSoftmax(neg) };
    const b: AttributeStep = { ...a, lpPos: pos, lpNeg: neg, lsePos: logSumExp(pos), lseNeg: logSumExp(neg) };
    const base = Float32Array.of(0.3, -0.2, 1, -Infinity, 0);
    const sa = base.slice();
    const sb = base.slice();
    applyGedi(sa, [a, { ...a, attr: B }], 0.5, 0.9);
    applyGedi(sb, [b, { ...b, attr: B }], 0.5, 0.9);
    for (let v = 0; v < 5; v++) {
      assert.ok(sa[v] === sb[v] || Math.abs(sa[v]! - sb[v]!) < 1e-4, `token ${v}: ${sa[v]} vs ${sb[v]}`);
      assert.ok(Math.abs(classLogit(a, v) - classLogit(b, v)) < 1e-5);
    }
  });

  it('baseTopP: steers only inside the base nucleus; the rest is penalised, not steered', () => {
    // Token 3 is improbable under the base model but strongly on-class: without the nucleus it wins.
    const lpPos = logSoftmax(Float32Array.of(0, 0, 0, 6));
    const lpNeg = logSoftmax(Float32Array.of(0, 0, 0, -6));
    const step: AttributeStep = { attr: { ...A, weight: 10, alpha: 1, classBias: 0 }, deltaS: 0, n: 0, lpPos, lpNeg };
    const base = Float32Array.of(3, 2.5, 0, -6);
    const free = base.slice();
    applyGedi(free, [step], 0.2, 0.8);
    assert.ok(free[3]! > free[0]!, 'without a nucleus the off-distribution token is chosen');
    const nucleus = base.slice();
    const filtered = applyGedi(nucleus, [step], 0.2, 0.8, undefined, 0.9);
    assert.ok(nucleus[3]! < FILTERED_PENALTY / 2 && Number.isFinite(nucleus[3]!));
    assert.ok(Math.abs(nucleus[3]! - (base[3]! + FILTERED_PENALTY)) < 1e-3, 'outside: base score + penalty, no steering term');
    assert.ok(nucleus[0]! > FILTERED_PENALTY / 2);
    assert.ok(filtered >= 1);
    // baseTopP = 1 is the plain filter.
    const same = base.slice();
    applyGedi(same, [step], 0.2, 0.8, undefined, 1);
    assert.deepEqual(Array.from(same), Array.from(free));
  });

  it('gives special (neutral) tokens the posterior of the text so far', () => {
    const lpPos = logSoftmax(Float32Array.of(5, 0, 0));
    const lpNeg = logSoftmax(Float32Array.of(-5, 0, 0));
    const step: AttributeStep = { attr: { ...A, weight: 3 }, deltaS: 1.2, n: 4, lpPos, lpNeg };
    const s = new Float32Array(3);
    applyGedi(s, [step], 1, 1, Uint8Array.of(1, 0, 0));
    const prior = (3 * 1.2) / 4 + 0.25;
    assert.ok(Math.abs(s[0]! - 3 * logSigmoid(prior)) < 1e-5, 'token 0 is neutral despite its large Δlp');
    assert.ok(Math.abs(s[1]! - 3 * logSigmoid(classLogit(step, 1))) < 1e-5);
  });

  it('filters: keeps the top-ρ mass and the tokens above τ, penalises the rest (finite)', () => {
    const lpPos = logSoftmax(Float32Array.of(0, 0, 3, 0, 0));
    const lpNeg = logSoftmax(Float32Array.of(0, 0, 0, 0, 0));
    const step: AttributeStep = { attr: { ...A, weight: 0.001, alpha: 1, classBias: 0 }, deltaS: 0, n: 0, lpPos, lpNeg };
    const s = Float32Array.of(5, 1, 0, 0.5, -Infinity);
    const before = s.slice();
    const filtered = applyGedi(s, [step], 0.2, 0.8);
    // Token 0 alone holds > 20% of the mass; token 2 has posterior σ(3 − 0 + …) > 0.8.
    assert.ok(Math.abs(s[0]! - before[0]!) < 0.01);
    assert.ok(s[2]! > -10);
    assert.ok(s[1]! < FILTERED_PENALTY / 2 && Number.isFinite(s[1]!));
    assert.ok(s[3]! < FILTERED_PENALTY / 2);
    assert.equal(s[4], -Infinity);
    assert.equal(filtered, 2);
  });

  it('the processor keeps windowed sums exactly as the formula, one batch per step for all attributes', async () => {
    const lm = new ToyCcLm();
    const ctx = [1, 2];
    const attrs = [A, B];
    const prefill = await prefillGedi(lm, attrs, ctx);
    assert.deepEqual(lm.rowsPerCall, [4]);
    const p = new GediProcessor(lm, attrs, settings, prefill);
    const gen = [0, 3, 1, 1, 2];
    for (let step = 0; step <= gen.length; step++) {
      const base = Float32Array.from({ length: V }, (_, i) => -i * 0.1);
      const got = base.slice();
      await p.process({ generated: gen.slice(0, step), step }, got);
      const want = base.slice();
      const n = Math.min(settings.window - 1, step);
      for (const a of attrs) {
        let deltaS = 0;
        for (let j = step - n; j < step; j++) deltaS += lp(a.positiveId, ctx, gen, j) - lp(a.negativeId, ctx, gen, j);
        const lpPos = logSoftmax(toyLogits([a.positiveId, ...ctx, ...gen.slice(0, step)]));
        const lpNeg = logSoftmax(toyLogits([a.negativeId, ...ctx, ...gen.slice(0, step)]));
        for (let v = 0; v < V; v++) {
          const z = (a.alpha * (deltaS + lpPos[v]! - lpNeg[v]!)) / (n + 1) + a.classBias;
          want[v] += Math.abs(a.weight) * (a.weight > 0 ? logSigmoid(z) : logSigmoid(-z));
        }
      }
      for (let v = 0; v < V; v++) assert.ok(Math.abs(got[v]! - want[v]!) < 1e-4, `step ${step} token ${v}: ${got[v]} vs ${want[v]}`);
      if (step < gen.length) p.accept(gen[step]!);
    }
    // prefill + one forward per accepted token, each with 2 rows per attribute.
    assert.equal(p.forwardCalls, gen.length);
    assert.ok(lm.rowsPerCall.every((r) => r === 4));
    p.dispose();
  });

  it('several tokens accepted at once (healing) score the same as one at a time', async () => {
    const run = async (together: boolean): Promise<Float32Array> => {
      const lm = new ToyCcLm();
      const p = new GediProcessor(lm, [A], settings, await prefillGedi(lm, [A], [3]));
      const forced = [2, 0, 1];
      if (together) for (const t of forced) p.accept(t);
      else
        for (const t of forced) {
          p.accept(t);
          await p.process({ generated: [], step: 0 }, new Float32Array(V));
        }
      const s = new Float32Array(V);
      await p.process({ generated: forced, step: 3 }, s);
      return s;
    };
    const a = await run(true);
    const b = await run(false);
    for (let v = 0; v < V; v++) assert.ok(Math.abs(a[v]! - b[v]!) < 1e-5);
  });

  it('restarts the discriminator rows on recent tokens past its context', async () => {
    const lm = new ToyCcLm(6);
    const p = new GediProcessor(lm, [A], { ...settings, contextTokens: 2, window: 2 }, await prefillGedi(lm, [A], [1, 2]));
    for (let i = 0; i < 10; i++) {
      p.accept(i % 4);
      const s = new Float32Array(V);
      await p.process({ generated: [], step: i + 1 }, s);
      assert.ok(s.every((x) => Number.isFinite(x)));
    }
  });

  it('validates manifests with errors that name the file', () => {
    const good = {
      window: 32, contextTokens: 32, filter: { rho: 0.2, tau: 0.8 },
      attributes: [{ name: 'documented', description: 'd', positiveCode: '<|documented|>', negativeCode: '<|undocumented|>', defaultWeight: 0, maxWeight: 8, alpha: 5, classBias: 0.1 }],
    };
    const m = parseManifest(good, 'x/trellis-attributes.json');
    assert.equal(m.attributes[0]!.name, 'documented');
    assert.equal(m.window, 32);
    assert.throws(() => parseManifest({ ...good, window: 0 }, 'x/trellis-attributes.json'), (e: unknown) => e instanceof TrellisError && /trellis-attributes\.json/.test(e.message));
    assert.throws(() => parseManifest({ ...good, attributes: [{ ...good.attributes[0], positiveCode: '' }] }, 'f.json'), TrellisError);
    assert.throws(() => parseManifest({ ...good, attributes: [good.attributes[0], good.attributes[0]] }, 'f.json'), /listed twice/);
    assert.equal(m.baseTopP, 1, 'no baseTopP: off');
    assert.equal(parseManifest({ ...good, filter: { rho: 0.2, tau: 0.8, baseTopP: 0.9 } }, 'f.json').baseTopP, 0.9);
    assert.throws(() => parseManifest({ ...good, filter: { rho: 0.2, tau: 0.8, baseTopP: 0 } }, 'f.json'), TrellisError);
  });
});
