// Grammar modes end to end through the decode loop on the exact toy problem: suffix-aware
// termination, the fallback checks when the file is broken outside the edited region, dead ends
// (stopReason 'grammar', never a throw), trimming a cut completion back to an allowed end, the
// whitespace-run loop guard, and the session the engine uses.
import { strict as assert } from 'node:assert';
import { decode, type DecodeParams } from '../../../src/engine/decode/loop';
import { Xoshiro128 } from '../../../src/engine/decode/rng';
import { AsapStore } from '../../../src/engine/decode/asap-trie';
import { createGrammarSession } from '../../../src/engine/decode/grammar';
import { preparePrefix, blockEnd } from '../../../src/engine/decode/grammar-suffix';
import { whitespaceRunGuard } from '../../../src/engine/decode/guards';
import type { TokenizerLike } from '../../../src/engine/interfaces';
import { DEFAULT_OPTIONS, type GrammarMode } from '../../../src/engine/api';
import { EOS, ParenMatcher, ToyCache, ToyModel, ToyTokenizer, inLanguage } from './toy';

const tok = new ToyTokenizer();
const enc = new TextEncoder();
const dec = new TextDecoder();
// Stand-in middles for the toy language (the engine's defaults are for programming languages).
const TOY_POLICY = { lines: 3, probeMiddles: ['', 'a'] };
const params: DecodeParams = { ...DEFAULT_OPTIONS, temperature: 1, topP: 1, topK: 0, maxTokens: 8, maxBlankLines: -1, maxRepeatedLines: 0 };

/** One completion of `prefix` (its tokens are the model's prompt) before `suffix`. */
async function complete(mode: Exclude<GrammarMode, 'off'>, prefix: string, suffix: string, seed: number, over: Partial<DecodeParams> = {}, store?: AsapStore) {
  const model = new ToyModel();
  const session = createGrammarSession({
    mode,
    matcher: new ParenMatcher(tok),
    tokenizer: tok,
    prefix: enc.encode(prefix),
    suffix: enc.encode(suffix),
    store,
    keyParts: { promptIds: [], extra: 'toy' },
    policy: TOY_POLICY,
  });
  assert.ok(session, 'the prefix is viable');
  const ids = tok.encodeBytes(enc.encode(prefix.replace(/[ \n]/g, '')));
  const cache = new ToyCache();
  const [logits] = await model.forward([{ ids, cache }]);
  const out = await decode({
    model,
    tokenizer: tok,
    cache,
    logits: logits!,
    params: { ...params, ...over },
    rng: new Xoshiro128(seed),
    endTokens: new Map([[EOS, 'eos' as const]]),
    hooks: { selector: session.newSelector(0), stopChecks: session.stopChecks() },
  });
  return { out, text: dec.decode(out.bytes), session };
}

describe('grammar modes: suffix-aware termination', () => {
  for (const mode of ['mask', 'aligned'] as const) {
    it(`${mode}: every completion that ends makes prefix + completion + suffix a program`, async () => {
      const store = new AsapStore();
      let ended = 0;
      for (let seed = 0; seed < 60; seed++) {
        const { out, text } = await complete(mode, '(', ')a', seed, {}, store);
        assert.equal(out.suffixCheck, 'full');
        if (out.stopReason === 'eos') {
          ended++;
          assert.ok(inLanguage(tok, enc.encode(`(${text})a`)), `"(${text})a" is not in the language`);
        } else {
          assert.ok(['grammar', 'max_tokens'].includes(out.stopReason), out.stopReason);
        }
      }
      assert.ok(ended > 10, `only ${ended} completions ended`);
    });
  }

  it('chooses full / block / lines from the original text only', () => {
    const plan = (prefix: string, suffix: string) => preparePrefix(new ParenMatcher(tok), enc.encode(prefix), enc.encode(suffix), TOY_POLICY).plan.check;
    assert.equal(plan('(', ')'), 'full');
    assert.equal(plan('(', ''), 'full', 'an empty suffix can always be reached');
    // 'b' is in no program: the file is broken two lines below the cursor.
    assert.equal(plan('(', 'a)\nb\n'), 'block');
    // Broken inside the block, but the next three lines stay viable.
    assert.equal(plan('(', '\n a\n a\n a\n ))\nb'), 'lines');
    // No stand-in makes even the next line viable: no evidence of a broken file, full stays.
    assert.equal(plan('(', ' b\nb'), 'full');
    // Only the cursor's line is broken: dropping it makes the file parse, so the full check stands.
    assert.equal(plan('a\n(', '\na\n'), 'full');
    assert.equal(preparePrefix(new ParenMatcher(tok), enc.encode(')'), new Uint8Array(0)).matcher, null, 'a broken prefix disables the grammar');
  });

  it('with the block fallback, completions end where the block parses', async () => {
    let ended = 0;
    for (let seed = 0; seed < 40; seed++) {
      const { out, text } = await complete('mask', '(', 'a)\nb\n', seed);
      assert.equal(out.suffixCheck, 'block');
      if (out.stopReason === 'eos') {
        ended++;
        assert.ok(inLanguage(tok, enc.encode(`(${text}a)\n`)));
      }
    }
    assert.ok(ended > 5);
  });

  it('blockEnd finds the first line indented less than the cursor (or the next top-level line)', () => {
    assert.equal(blockEnd(enc.encode('    x\n\n  y\nz\n'), 4), 7);
    assert.equal(blockEnd(enc.encode('    x\n\ny\n'), 0), 7);
    assert.equal(blockEnd(enc.encode('    x\n'), 4), 6);
  });
});

describe('grammar modes: dead ends and trimming', () => {
  for (const mode of ['mask', 'aligned'] as const) {
    it(`${mode}: a dead end stops with 'grammar' and the text so far, never a throw`, async () => {
      // After "((" the toy model must stop within 3 tokens; closing both groups is rare.
      const reasons = new Map<string, number>();
      for (let seed = 0; seed < 40; seed++) {
        const { out, text } = await complete(mode, '((', '', seed);
        reasons.set(out.stopReason, (reasons.get(out.stopReason) ?? 0) + 1);
        if (out.stopReason === 'grammar') {
          const m = new ParenMatcher(tok);
          assert.ok(m.consumeBytes(enc.encode(`((${text}`)), 'the text so far is a viable prefix');
          assert.equal(out.tokens.length, 3, 'dead ends here are at the model\'s length limit');
        } else assert.equal(out.stopReason, 'eos');
      }
      assert.ok((reasons.get('grammar') ?? 0) > 0, `no dead end seen: ${[...reasons]}`);
    });
  }

  it('a completion cut by max tokens is trimmed back to the last point where it may end, or closed', async () => {
    let trimmed = 0;
    let closed = 0;
    for (let seed = 0; seed < 160; seed++) {
      // With an empty suffix the empty completion is no program: a cut "((a" has no boundary to go back to.
      const suffix = seed < 80 ? 'a' : '';
      const { out, text } = await complete('mask', '', suffix, seed, { maxTokens: 3 });
      if (out.stopReason !== 'max_tokens') continue;
      const full = dec.decode(tok.decodeBytes(out.tokens));
      if (text === full) {
        if (!inLanguage(tok, enc.encode(`${full}${suffix}`))) {
          // Kept as is only when no token boundary lets the program end (closing "((((" would
          // make empty groups, which the language forbids).
          for (let i = 0; i < out.tokens.length; i++) {
            const m = new ParenMatcher(tok);
            m.consumeBytes(tok.decodeBytes(out.tokens.slice(0, i)));
            assert.ok(!m.acceptsSuffix(enc.encode(suffix)), `boundary ${i} of ${full} was acceptable`);
          }
        }
        continue;
      }
      assert.ok(inLanguage(tok, enc.encode(`${text}${suffix}`)), `"${text}" (from "${full}") does not end the program`);
      if (full.startsWith(text)) trimmed++;
      else {
        // No boundary could end: the open groups of a boundary were closed ("((a" → "((a))").
        closed++;
        const kept = text.replace(/\)+$/, '');
        assert.ok(kept.length < text.length && full.startsWith(kept), `"${text}" is not a boundary of "${full}" plus closers`);
      }
    }
    assert.ok(trimmed > 0, 'no completion was trimmed');
    assert.ok(closed > 0, 'no completion was closed');
  });
});

describe('grammar modes: grace tokens past max tokens', () => {
  for (const mode of ['mask', 'aligned'] as const) {
    it(`${mode}: a completion cut where it may not end decodes a few tokens more and ends where it may`, async () => {
      let graced = 0;
      for (let seed = 0; seed < 40; seed++) {
        // After "((" one token never ends the program: every completion is cut at max tokens.
        const { out, text } = await complete(mode, '((', '', seed, { maxTokens: 1 });
        if (out.stopReason === 'grammar') continue; // the toy model's own length limit
        assert.equal(out.stopReason, 'max_tokens');
        assert.ok(out.graceTokens <= 8, 'grace is bounded (8 tokens for a budget of 1)');
        if (out.graceTokens > 0) graced++;
        if (out.endRepair === 'failed') {
          // Only when the toy model's length limit struck inside the grace tokens with empty
          // groups open ("(((((" cannot be closed: "()" is not in the language).
          assert.ok(!/a/.test(text), text);
          continue;
        }
        // Ended within the grace tokens, as decoded ('grace') or with what is open closed ('close').
        assert.ok(out.endRepair === 'grace' || out.endRepair === 'close', out.endRepair);
        assert.ok(inLanguage(tok, enc.encode(`((${text}`)), `"((${text}" is not in the language`);
        const decoded = dec.decode(tok.decodeBytes(out.tokens));
        if (out.endRepair === 'grace') assert.equal(text, decoded, 'nothing trimmed or appended');
        else assert.ok(text.startsWith(decoded) && /^\)+$/.test(text.slice(decoded.length)), `${text} is not ${decoded} closed`);
      }
      assert.ok(graced > 3, `only ${graced} completions decoded grace tokens`);
    });
  }
});

describe('grammar modes: end pressure', () => {
  it('from endPressureAt·maxTokens on, a completion ends at the first point where it may', async () => {
    for (let seed = 0; seed < 20; seed++) {
      const model = new ToyModel();
      const session = createGrammarSession({ mode: 'mask', matcher: new ParenMatcher(tok), tokenizer: tok, prefix: new Uint8Array(0), suffix: new Uint8Array(0), policy: TOY_POLICY, endPressureAt: 0.5 })!;
      const cache = new ToyCache();
      const [logits] = await model.forward([{ ids: [], cache }]);
      const out = await decode({
        model, tokenizer: tok, cache, logits: logits!, params: { ...params, maxTokens: 4 }, rng: new Xoshiro128(seed),
        endTokens: new Map([[EOS, 'eos' as const]]), hooks: { selector: session.newSelector(0) },
      });
      // From step 2 on, no accepting boundary is passed over.
      for (let i = 2; i < out.tokens.length; i++) {
        assert.ok(!inLanguage(tok, tok.decodeBytes(out.tokens.slice(0, i))), `seed ${seed}: ${out.tokens} passed an end at ${i}`);
      }
      if (out.stopReason === 'eos') assert.ok(inLanguage(tok, out.bytes));
    }
  });
});

describe('grammar modes: forced (healing) tokens', () => {
  it('trimming never cuts into the forced tokens', async () => {
    for (let seed = 0; seed < 30; seed++) {
      const model = new ToyModel();
      const session = createGrammarSession({ mode: 'aligned', matcher: new ParenMatcher(tok), tokenizer: tok, prefix: new Uint8Array(0), suffix: enc.encode('a'), policy: TOY_POLICY })!;
      const cache = new ToyCache();
      const [logits] = await model.forward([{ ids: [], cache }]);
      const out = await decode({
        model, tokenizer: tok, cache, logits: logits!, params: { ...params, maxTokens: 2 }, rng: new Xoshiro128(seed),
        endTokens: new Map([[EOS, 'eos' as const]]),
        forced: { ids: [3] }, // "((" re-spelled by healing
        hooks: { selector: session.newSelector(0) },
      });
      assert.ok(dec.decode(out.bytes).startsWith('(('), `${dec.decode(out.bytes)} lost the forced bytes`);
    }
  });
});

describe('loop guards', () => {
  const ws: TokenizerLike = {
    vocabSize: 3,
    encodeBytes: () => [],
    tokenBytes: (id) => enc.encode([' ', '\n', 'x'][id]!),
    decodeBytes: (ids) => enc.encode(ids.map((i) => [' ', '\n', 'x'][i]).join('')),
    specialTokenId: () => undefined,
    isSpecial: () => false,
    preTokenizeBoundaries: (b) => [0, b.length],
  };
  it('stops a run of whitespace-only tokens with reason loop, keeping the text before the run', () => {
    const g = whitespaceRunGuard(ws, 3)!;
    const seq = [2, 0, 1, 2, 0, 0, 1, 0];
    const gen: number[] = [];
    let hit = null;
    for (const t of seq) {
      gen.push(t);
      hit = g.check(ws.decodeBytes(gen), gen);
      if (hit) break;
    }
    assert.deepEqual(hit, { reason: 'loop', keepBytes: 4 });
    assert.equal(gen.length, 8);
    assert.equal(whitespaceRunGuard(ws, 0), null);
  });
});
