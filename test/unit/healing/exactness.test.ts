// The first "Done when": in a world small enough to compute exactly (exact-world.ts),
// exact healing reproduces the true next-byte and continuation probabilities to 1e-9 for every
// prompt split, while `off` (prompt as typed) and `token` (back off one token) measurably do not.
import * as assert from 'node:assert/strict';
import { DEFAULT_OPTIONS } from '../../../src/engine/api';
import { decode } from '../../../src/engine/decode/loop';
import { Xoshiro128 } from '../../../src/engine/decode/rng';
import { samplingTools } from '../../../src/engine/decode/sampler';
import { ByteLevelScorer, ExactHealer, PrefixIndex, TokenHealer, logSumExp, scoreTail, type ModelState } from '../../../src/engine/healing';
import type { Matcher } from '../../../src/engine/interfaces';
import { buildWorld, latin1, type SourceText } from './exact-world';

const enc = new TextEncoder();
const world = buildWorld(7, 6);
const { tokenizer, model, truth } = world;
const BOS = 0;
const EOS = 1;
const index = new PrefixIndex(tokenizer);
const scorer = new ByteLevelScorer(model, tokenizer, { endTokens: [EOS], index });

function maxError(a: { probs: Float64Array; end: number }, b: { probs: Float64Array; end: number }): number {
  let e = Math.abs(a.end - b.end);
  for (let i = 0; i < 256; i++) e = Math.max(e, Math.abs(a.probs[i]! - b.probs[i]!));
  return e;
}

/** Every distinct prompt (at character boundaries) of the given texts. */
function promptsOf(texts: readonly SourceText[]): Uint8Array[] {
  const seen = new Map<string, Uint8Array>();
  for (const t of texts) {
    const chars = [...t.text];
    for (let j = 1; j <= chars.length; j++) {
      const x = enc.encode(chars.slice(0, j).join(''));
      seen.set(latin1(x), x);
    }
  }
  return [...seen.values()];
}

async function stateAfter(ids: readonly number[]): Promise<ModelState> {
  return scorer.prefill(ids);
}

/** Next-byte law of `off`: the model continues after the prompt encoded as typed. */
async function offDistribution(x: Uint8Array) {
  const head = await stateAfter([BOS, ...tokenizer.encodeBytes(x)]);
  return scorer.nextByteDistribution(head, new Uint8Array(0));
}

/**
 * Next-byte law of `token` healing (what TokenHealer samples at temperature 1): back off the
 * last token; each forced step draws among tokens extending the rest of the tail or spelling a
 * prefix of it, ∝ P(t | prompt); after the tail, the next token's first byte (or the end).
 */
async function tokenDistribution(x: Uint8Array) {
  const healer = new TokenHealer(tokenizer, { index });
  const L = healer.tailLength(x);
  const probs = new Float64Array(256);
  let end = 0;
  const walk = async (ids: number[], rest: Uint8Array, weight: number): Promise<void> => {
    const [lg] = await model.forward64([{ ids, cache: model.newCache() }]);
    const allowed = new Set<number>(index.tokensWithPrefix(rest));
    for (let k = 1; k < rest.length; k++) {
      const e = index.tokensWithPrefix(rest.subarray(0, k));
      if (e.length > 0 && index.bytesOf[e[0]!]!.length === k) allowed.add(e[0]!);
    }
    if (rest.length === 0) {
      const z = logSumExp(lg!);
      for (let t = 0; t < lg!.length; t++) {
        const p = weight * Math.exp(lg![t]! - z);
        if (p === 0) continue;
        if (t === EOS) end += p;
        else if (!tokenizer.isSpecial(t)) probs[index.bytesOf[t]![0]!] += p;
      }
      return;
    }
    const ws = [...allowed].map((t) => Math.exp(lg![t]!));
    const total = ws.reduce((a, b) => a + b, 0);
    if (total === 0) return;
    let k = 0;
    for (const t of allowed) {
      const p = (weight * ws[k++]!) / total;
      if (p === 0) continue;
      const b = index.bytesOf[t]!;
      if (b.length > rest.length) probs[b[rest.length]!] += p;
      else await walk([...ids, t], rest.subarray(b.length), p);
    }
  };
  await walk([BOS, ...tokenizer.encodeBytes(x.subarray(0, x.length - L))], x.subarray(x.length - L), 1);
  return { probs, end };
}

describe('healing: exactness in a world computed exactly', function () {
  this.timeout(60_000);
  // Every prompt of up to 3 characters, plus every split of a spread of 6-character texts.
  const short = world.texts.filter((t) => [...t.text].length <= 3);
  const long = world.texts.filter((t) => [...t.text].length === 6).filter((_, i) => i % 331 === 0);
  const prompts = promptsOf([...short, ...long]);

  it('the world is a real one: a BPE tokenizer.json with ambiguous and mid-character tokens', () => {
    assert.ok(prompts.length > 500, `prompts: ${prompts.length}`);
    // `aé` encodes with a token that ends inside `é`; `  a` has several spellings.
    const ids = tokenizer.encodeBytes(enc.encode('aé'));
    assert.equal(ids.length, 2);
    assert.equal(tokenizer.tokenBytes(ids[0]!).length, 2);
    const sum = world.texts.reduce((a, t) => a + t.p, 0);
    assert.ok(Math.abs(sum - 1) < 1e-12, `source mass ${sum}`);
  });

  it('exact: next-byte distribution equals the truth to 1e-9 for every prompt split', async () => {
    const head = await stateAfter([BOS]);
    let worst = 0;
    let worstPrompt = '';
    for (const x of prompts) {
      const d = await scorer.nextByteDistribution(head, x);
      const err = maxError(d, truth.nextByte(x));
      if (err > worst) {
        worst = err;
        worstPrompt = JSON.stringify(new TextDecoder().decode(x));
      }
      // The prompt's own probability comes out of the same covers.
      assert.ok(Math.abs(Math.exp(d.logPrompt) - truth.prefixProb(x)) <= 1e-12 + 1e-9 * truth.prefixProb(x));
    }
    assert.ok(worst <= 1e-9, `max error ${worst} at ${worstPrompt}`);
  });

  it('exact: continuation probabilities equal the truth to 1e-9 for every split of every sampled text', async () => {
    const head = await stateAfter([BOS]);
    let worst = 0;
    for (const t of long) {
      const chars = [...t.text];
      for (let j = 1; j < chars.length; j++) {
        const x = enc.encode(chars.slice(0, j).join(''));
        const c = t.bytes.subarray(x.length);
        const { logp } = await scorer.continuationLogProb(head, x, c);
        const want = truth.prefixProb(t.bytes) / truth.prefixProb(x);
        worst = Math.max(worst, Math.abs(Math.exp(logp) - want));
      }
    }
    assert.ok(worst <= 1e-9, `max error ${worst}`);
  });

  it('off and token: measurably wrong on many prompt splits', async () => {
    let offWorst = 0;
    let tokWorst = 0;
    let offBad = 0;
    let tokBad = 0;
    let n = 0;
    for (const x of prompts) {
      const want = truth.nextByte(x);
      const eo = maxError(await offDistribution(x), want);
      const et = maxError(await tokenDistribution(x), want);
      offWorst = Math.max(offWorst, eo);
      tokWorst = Math.max(tokWorst, et);
      if (eo > 1e-6) offBad++;
      if (et > 1e-6) tokBad++;
      n++;
    }
    console.log(`      off: max error ${offWorst.toFixed(3)}, wrong (>1e-6) on ${offBad}/${n} prompts; token: ${tokWorst.toFixed(3)}, ${tokBad}/${n}`);
    assert.ok(offWorst > 0.1 && offBad > n / 10, `off: max error ${offWorst}, wrong on ${offBad}/${n}`);
    assert.ok(tokWorst > 0.01 && tokBad > n / 20, `token: max error ${tokWorst}, wrong on ${tokBad}/${n}`);
  });

  it('exact healer: draws covers with the exact law and forces tokens that re-spell the tail', async () => {
    const healer = new ExactHealer(tokenizer, { index });
    const prefix = enc.encode('a. a');
    const L = healer.tailLength(prefix);
    assert.equal(L, 2, 'the tail is the last chunk " a"');
    const tail = prefix.subarray(prefix.length - L);
    const headIds = [BOS, ...tokenizer.encodeBytes(prefix.subarray(0, prefix.length - L))];
    const cache = model.newCache();
    const [lastLogits] = await model.forward([{ ids: headIds, cache }]);
    // The exact law of covers (float64 scoring, validity filtered).
    const scored = await scoreTail(model, healer.canon, { cache, logits: (await model.forward64([{ ids: headIds, cache: model.newCache() }]))[0]! }, tail);
    const law = new Map<string, number>();
    let total = 0;
    scored.covers.forEach((c, k) => {
      if (!healer.canon.isValidCover(tail, c) || scored.logp[k] === -Infinity) return;
      const p = Math.exp(scored.logp[k]!);
      law.set([...c.left, c.last].join(','), p);
      total += p;
    });
    assert.ok(law.size >= 3, `covers with mass: ${law.size}`);
    const counts = new Map<string, number>();
    const N = 3000;
    const rng = new Xoshiro128(42);
    const sampling = samplingTools({ ...DEFAULT_OPTIONS, temperature: 1, topP: 1 }, rng);
    for (let i = 0; i < N; i++) {
      const r = await healer.heal({ model, tokenizer, cache, promptIds: headIds, lastLogits: lastLogits!, tail, sampling });
      const spelled = tokenizer.decodeBytes(r.forcedIds);
      assert.deepEqual([...spelled.subarray(0, tail.length)], [...tail]);
      assert.ok(r.modelCalls === 1 && r.covers === scored.covers.length);
      const k = r.forcedIds.join(',');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    for (const [k, p] of law) {
      const q = p / total;
      const f = (counts.get(k) ?? 0) / N;
      assert.ok(Math.abs(f - q) <= 4 * Math.sqrt((q * (1 - q)) / N) + 1e-3, `cover ${k}: drawn ${f}, exact ${q}`);
    }
    for (const k of counts.keys()) assert.ok(law.has(k), `drew a cover without mass: ${k}`);
    scored.dispose();
  });

  it('token healer: forced tokens re-spell the tail (widened to whole characters) on every short prompt', async () => {
    const healer = new TokenHealer(tokenizer, { index });
    let multiStep = 0;
    for (const x of prompts.filter((p) => p.length <= 4)) {
      const L = healer.tailLength(x);
      assert.ok(L > 0 && (x[x.length - L]! & 0xc0) !== 0x80, 'the tail starts at a character');
      const tail = x.subarray(x.length - L);
      const headIds = [BOS, ...tokenizer.encodeBytes(x.subarray(0, x.length - L))];
      const cache = model.newCache();
      const [lastLogits] = await model.forward([{ ids: headIds, cache }]);
      const sampling = samplingTools({ ...DEFAULT_OPTIONS, temperature: 1, topP: 1 }, new Xoshiro128(x.length));
      const r = await healer.heal({ model, tokenizer, cache, promptIds: headIds, lastLogits: lastLogits!, tail, sampling });
      assert.deepEqual([...tokenizer.decodeBytes(r.forcedIds).subarray(0, L)], [...tail]);
      if (r.modelCalls > 0) multiStep++;
      assert.equal(cache.length, headIds.length, 'the prompt cache is left as it was');
    }
    assert.ok(multiStep > 0, 'some tails take more than one forced token');
  });

  it('exact healer: the grammar matcher drops covers whose bytes are not viable', async () => {
    const healer = new ExactHealer(tokenizer, { index });
    const prefix = enc.encode('b a');
    const tail = prefix.subarray(prefix.length - healer.tailLength(prefix));
    const headIds = [BOS, ...tokenizer.encodeBytes(prefix.subarray(0, prefix.length - tail.length))];
    const cache = model.newCache();
    const [lastLogits] = await model.forward([{ ids: headIds, cache }]);
    // A byte-level grammar: no `b` after the cursor. Snapshot = bytes consumed so far.
    let consumed: number[] = [];
    const matcher: Matcher = {
      computeMask: () => new Uint32Array(0),
      allows: () => true,
      consume: () => true,
      consumeBytes: (b) => {
        if (b.includes(0x62)) return false;
        consumed = consumed.concat([...b]);
        return true;
      },
      snapshot: () => consumed.slice(),
      restore: (s) => {
        consumed = (s as number[]).slice();
      },
      isAccepting: () => true,
      acceptsSuffix: () => true,
    };
    let sawB = false;
    for (let seed = 0; seed < 200; seed++) {
      const sampling = samplingTools({ ...DEFAULT_OPTIONS, temperature: 1 }, new Xoshiro128(seed));
      const r = await healer.heal({ model, tokenizer, cache, promptIds: headIds, lastLogits: lastLogits!, tail, sampling, matcher });
      const bytes = tokenizer.decodeBytes(r.forcedIds);
      assert.ok(!bytes.includes(0x62), `forced ${JSON.stringify(new TextDecoder().decode(bytes))}`);
      assert.equal(consumed.length, 0, 'matcher state restored');
      const free = await healer.heal({ model, tokenizer, cache, promptIds: headIds, lastLogits: lastLogits!, tail, sampling });
      if (tokenizer.decodeBytes(free.forcedIds).includes(0x62)) sawB = true;
    }
    assert.ok(sawB, 'without the matcher some covers do spell a b (so the check above can fail)');
  });

  it('heal → decode: the completion starts with the tail, may end a token inside a character', async () => {
    const healer = new ExactHealer(tokenizer, { index });
    const prefix = enc.encode('b. a');
    const tail = prefix.subarray(prefix.length - healer.tailLength(prefix));
    const headIds = [BOS, ...tokenizer.encodeBytes(prefix.subarray(0, prefix.length - tail.length))];
    let midChar = 0;
    for (let seed = 0; seed < 60; seed++) {
      const cache = model.newCache();
      const [lastLogits] = await model.forward([{ ids: headIds, cache }]);
      const params = { ...DEFAULT_OPTIONS, temperature: 1, maxTokens: 8 };
      const rng = new Xoshiro128(seed);
      const sampling = samplingTools(params, rng);
      const h = await healer.heal({ model, tokenizer, cache, promptIds: headIds, lastLogits: lastLogits!, tail, sampling });
      const last = tokenizer.tokenBytes(h.forcedIds[h.forcedIds.length - 1]!);
      if (last[last.length - 1] === 0xc3) midChar++;
      const out = await decode({ model, tokenizer, cache, logits: lastLogits!, params, rng, endTokens: new Map([[EOS, 'eos']]), banned: [BOS], forced: { ids: h.forcedIds, state: h.state } });
      assert.deepEqual([...out.bytes.subarray(0, tail.length)], [...tail]);
      assert.ok(truth.prefixProb(new Uint8Array([...prefix.subarray(0, prefix.length - tail.length), ...out.bytes])) > 0, 'the completion is a text of the source');
    }
    assert.ok(midChar > 0, 'some draws force a token that ends inside é');
  });
});
