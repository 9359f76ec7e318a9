// Seeded RNG and sampler: determinism, the truncations, and that draws follow the distribution.
import * as assert from 'node:assert/strict';
import { Xoshiro128 } from '../../../src/engine/decode/rng';
import { argmax, sampleToken, tokenProbabilities, truncatedDistribution } from '../../../src/engine/decode/sampler';

describe('decode/rng: xoshiro128**', () => {
  it('is deterministic per (seed, stream) and differs across seeds and streams', () => {
    const seq = (r: Xoshiro128) => Array.from({ length: 8 }, () => r.nextUint32());
    assert.deepEqual(seq(new Xoshiro128(42)), seq(new Xoshiro128(42)));
    assert.notDeepEqual(seq(new Xoshiro128(42)), seq(new Xoshiro128(43)));
    assert.notDeepEqual(seq(new Xoshiro128(42, 0)), seq(new Xoshiro128(42, 1)));
    assert.notDeepEqual(seq(new Xoshiro128(0)), seq(new Xoshiro128(0.5)));
  });
  it('clone() continues the same sequence', () => {
    const r = new Xoshiro128(7);
    r.next();
    const c = r.clone();
    assert.deepEqual([r.next(), r.next()], [c.next(), c.next()]);
  });
  it('is uniform on [0, 1): mean, variance and 16-bin chi-square', () => {
    const r = new Xoshiro128(1);
    const n = 64000;
    const bins = new Array(16).fill(0);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      assert.ok(x >= 0 && x < 1);
      sum += x;
      sq += x * x;
      bins[Math.floor(x * 16)]++;
    }
    assert.ok(Math.abs(sum / n - 0.5) < 0.01);
    assert.ok(Math.abs(sq / n - sum * sum / n / n - 1 / 12) < 0.005);
    const e = n / 16;
    const chi = bins.reduce((a, b) => a + ((b - e) ** 2) / e, 0);
    assert.ok(chi < 37.7, `chi-square ${chi} (15 dof, p = 0.001)`);
  });
});

describe('decode/sampler', () => {
  const scores = Float32Array.from([1, 3, 2, -Infinity, 3, 0]);
  it('is greedy at temperature 0 (lowest id on ties) and uses no randomness', () => {
    const r = new Xoshiro128(3);
    const before = r.clone();
    assert.equal(sampleToken(scores, { temperature: 0, topP: 1, topK: 0 }, r), 1);
    assert.equal(r.next(), before.next());
    assert.equal(argmax(Float32Array.from([-Infinity, -Infinity])), -1);
  });
  it('returns −1 when every token is banned', () => {
    assert.equal(sampleToken(Float32Array.from([-Infinity, -Infinity]), { temperature: 1, topP: 0.9, topK: 0 }, new Xoshiro128(0)), -1);
  });
  it('computes softmax(scores / T) with banned tokens at 0', () => {
    const p = tokenProbabilities(scores, { temperature: 2, topP: 1, topK: 0 });
    const w = [1, 3, 2, -Infinity, 3, 0].map((s) => Math.exp(s / 2));
    const z = w.reduce((a, b) => a + b, 0);
    w.forEach((x, i) => assert.ok(Math.abs(p[i]! - x / z) < 1e-6));
    assert.equal(p[3], 0);
  });
  it('top-k keeps the k best (ties by id), top-p the smallest nucleus', () => {
    const k2 = truncatedDistribution(scores, { temperature: 1, topP: 1, topK: 2 });
    assert.deepEqual([...k2.ids], [1, 4]);
    assert.ok(Math.abs(k2.probs[0]! - 0.5) < 1e-12);
    // probs ∝ e^1, e^3, e^2, 0, e^3, e^0: the two e^3 hold 0.665 of the mass; with e^2 0.91.
    const p = truncatedDistribution(scores, { temperature: 1, topP: 0.8, topK: 0 });
    assert.deepEqual([...p.ids], [1, 4, 2]);
    const p2 = truncatedDistribution(scores, { temperature: 1, topP: 0.5, topK: 0 });
    assert.deepEqual([...p2.ids], [1, 4]);
  });
  it('top-p on a large vocabulary matches a full sort', () => {
    const r = new Xoshiro128(9);
    const big = Float32Array.from({ length: 50000 }, () => (r.next() - 0.5) * 20);
    const got = truncatedDistribution(big, { temperature: 0.7, topP: 0.9, topK: 0 });
    const w = Array.from(big, (s, i) => ({ i, w: Math.exp(s / 0.7) })).sort((a, b) => b.w - a.w || a.i - b.i);
    const total = w.reduce((a, b) => a + b.w, 0);
    let mass = 0;
    let k = 0;
    while (mass < 0.9 * total) mass += w[k++]!.w;
    assert.equal(got.ids.length, k);
    assert.deepEqual([...got.ids].slice(0, 20), w.slice(0, 20).map((x) => x.i));
  });
  it('draws follow the distribution (chi-square) and are reproducible per seed', () => {
    const params = { temperature: 1, topP: 1, topK: 0 };
    const p = tokenProbabilities(scores, params);
    const counts = new Array(scores.length).fill(0);
    const r = new Xoshiro128(11);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleToken(scores, params, r)]++;
    let chi = 0;
    for (let i = 0; i < scores.length; i++) if (p[i]! > 0) chi += ((counts[i] - n * p[i]!) ** 2) / (n * p[i]!);
    assert.equal(counts[3], 0);
    assert.ok(chi < 20.5, `chi-square ${chi} (4 dof, p = 0.0005)`);
    const draw = (seed: number) => { const g = new Xoshiro128(seed); return Array.from({ length: 30 }, () => sampleToken(scores, params, g)); };
    assert.deepEqual(draw(5), draw(5));
    assert.notDeepEqual(draw(5), draw(6));
  });
});
