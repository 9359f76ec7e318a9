// Grammar-aligned sampling is exact in the limit (issue 5, first "Done when"): on a problem small
// enough to enumerate Q(w) = P(w)·1[w ∈ L]/Z, the empirical law of `aligned` samples drawn through
// the real decode loop approaches Q as N grows, while `mask` (GCD) converges to its own, biased law.
import { strict as assert } from 'node:assert';
import { decode } from '../../../src/engine/decode/loop';
import { Xoshiro128 } from '../../../src/engine/decode/rng';
import { AsapTrie } from '../../../src/engine/decode/asap-trie';
import { AlignedSelector, MaskSelector } from '../../../src/engine/decode/grammar-select';
import { preparePrefix } from '../../../src/engine/decode/grammar-suffix';
import type { Rng, TokenSelector } from '../../../src/engine/decode/hooks';
import { DEFAULT_OPTIONS } from '../../../src/engine/api';
import { EOS, MAX_LEN, ParenMatcher, ToyModel, ToyTokenizer, empirical, exactGcd, exactQ, kl } from './toy';

const tok = new ToyTokenizer();
const Q = exactQ(tok);
const GCD = exactGcd(tok);
const params = { ...DEFAULT_OPTIONS, temperature: 1, topP: 1, topK: 0, maxTokens: MAX_LEN + 1, maxBlankLines: -1, maxRepeatedLines: 0 };

/** Draws `n` completions with `makeSelector` through decode(); returns the valid ones' keys. */
async function draw(n: number, rng: Rng, makeSelector: (m: ParenMatcher) => TokenSelector) {
  const model = new ToyModel();
  const keys: string[] = [];
  let deadEnds = 0;
  let maskCalls = 0;
  let steps = 0;
  for (let i = 0; i < n; i++) {
    const matcher = new ParenMatcher(tok);
    const prepared = preparePrefix(matcher, new Uint8Array(0), new Uint8Array(0));
    assert.equal(prepared.plan.check, 'full');
    const cache = model.newCache();
    const [logits] = await model.forward([{ ids: [], cache }]);
    const out = await decode({
      model,
      tokenizer: tok,
      cache,
      logits: logits!,
      params,
      rng,
      endTokens: new Map([[EOS, 'eos' as const]]),
      hooks: { selector: makeSelector(matcher) },
    });
    maskCalls += matcher.maskCalls;
    steps += out.tokens.length + 1;
    if (out.stopReason === 'grammar') {
      deadEnds++;
      continue;
    }
    assert.equal(out.stopReason, 'eos');
    const key = out.tokens.join(',');
    assert.ok(Q.has(key), `sample ${key} is not in the language`);
    keys.push(key);
  }
  return { keys, deadEnds, maskCalls, steps };
}

describe('grammar modes: exactness on an enumerable problem', function () {
  this.timeout(30_000);
  it('the exact laws differ: GCD is biased against Q', () => {
    assert.ok(kl(GCD, Q) > 0.1, `KL(GCD‖Q) = ${kl(GCD, Q)}`);
  });

  it('mask samples follow GCD (opportunistic masking keeps its law) and stay biased', async () => {
    const { keys, maskCalls, deadEnds, steps } = await draw(5000, new Xoshiro128(7), (m) => {
      const p = preparePrefix(new ParenMatcher(tok), new Uint8Array(0), new Uint8Array(0));
      return new MaskSelector({ matcher: m, plan: p.plan, tokenizer: tok });
    });
    const emp = empirical(keys);
    const toQ = kl(emp, Q);
    const toGcd = kl(emp, GCD);
    console.log(`      mask N=5000: KL(emp‖Q) = ${toQ.toFixed(4)}, KL(emp‖GCD) = ${toGcd.toFixed(4)}, dead ends ${deadEnds}, full masks ${maskCalls}`);
    assert.ok(toQ > 0.1, `mask should stay biased, KL = ${toQ}`);
    assert.ok(toGcd < 0.02, `mask should follow GCD, KL = ${toGcd}`);
    // Opportunistic: a full mask only where the drawn token was rejected (here about 2 steps in 3).
    assert.ok(maskCalls < steps * 0.8, `full masks ${maskCalls} for ${steps} steps`);
  });

  for (const lazy of [false, true]) {
    it(`aligned (${lazy ? 'lazy' : 'eager'} expansion) approaches Q as N grows, with one trie shared by all samples`, async () => {
      const trie = new AsapTrie({ maxNodes: 10_000 });
      const rng = new Xoshiro128(11);
      const keys: string[] = [];
      const kls: number[] = [];
      let dead = 0;
      let masks = 0;
      let steps = 0;
      for (const n of [100, 1000, 5000]) {
        const r = await draw(n - keys.length, rng, (m) => {
          const p = preparePrefix(new ParenMatcher(tok), new Uint8Array(0), new Uint8Array(0));
          return new AlignedSelector({ matcher: m, plan: p.plan, tokenizer: tok, trie, lazy });
        });
        keys.push(...r.keys);
        dead += r.deadEnds;
        masks += r.maskCalls;
        steps += r.steps;
        kls.push(kl(empirical(keys), Q));
      }
      console.log(`      aligned (${lazy ? 'lazy' : 'eager'}) KL(emp‖Q) at N=100/1000/5000: ${kls.map((k) => k.toFixed(4)).join(' / ')}; dead ends ${dead}; full masks ${masks} / ${steps} steps; θ(root) = ${trie.root.theta.toFixed(4)}`);
      assert.ok(kls[0]! > kls[1]! && kls[1]! > kls[2]!, `KL should fall: ${kls}`);
      assert.ok(kls[2]! < 0.01, `aligned KL at N=5000 = ${kls[2]}`);
      // θ(root) bounds Z = P(L) from above (up to the model's float32 logits) and is nearly tight once explored.
      const z = [...exactZ()][0]!;
      assert.ok(trie.root.theta >= z - 1e-6 && trie.root.theta - z < 1e-3, `θ(root) ${trie.root.theta} vs Z ${z}`);
    });
  }
});

function* exactZ(): Generator<number> {
  // Z = Σ_{w ∈ L} P(w), from the same enumeration as Q.
  const { enumerateSequences, inLanguage } = require('./toy') as typeof import('./toy');
  yield enumerateSequences().filter((s) => inLanguage(tok, tok.decodeBytes(s.seq))).reduce((a, s) => a + s.p, 0);
}
