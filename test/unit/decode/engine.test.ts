// The decode loop and the Engine facade on the real default model: greedy decoding equals
// argmax over fresh full forwards, seeded sampling is reproducible, the stop rules and hooks work.
import * as assert from 'node:assert/strict';
import { TrellisError } from '../../../src/engine/api';
import { Engine } from '../../../src/engine/engine';
import type { LogitsProcessor } from '../../../src/engine/interfaces';
import type { PromptTailHealer, SelectContext, TokenSelector } from '../../../src/engine/decode/hooks';
import { decode } from '../../../src/engine/decode/loop';
import { Xoshiro128 } from '../../../src/engine/decode/rng';
import { buildPrompt } from '../../../src/engine/prompt/fimPrompt';
import { MODEL_DIR, modelAvailable } from '../runtime/helpers';

const PREFIX = 'import os\n\n\ndef read_lines(path):\n    """Return the lines of a file."""\n    with open(path) as f:\n        ';
const SUFFIX = '\n\n\ndef main():\n    print(read_lines("a.txt"))\n';
const req = (options: Record<string, unknown> = {}) => ({ prefix: PREFIX, suffix: SUFFIX, languageId: 'python', options: { grammar: 'off' as const, healing: 'off' as const, ...options } });

describe('Engine + decode loop (real model)', function () {
  let engine: Engine;
  before(async function () {
    if (!modelAvailable()) assert.fail(`the default model is missing: expected ${MODEL_DIR}/onnx/model.onnx`);
    engine = await Engine.load(MODEL_DIR, { threads: 1 });
  });
  after(async () => engine?.dispose());

  /** Greedy tokens after `prompt` by a fresh full forward pass per token (no cache), until `end`. */
  async function greedyByFullPasses(prompt: readonly number[], end: number, n: number): Promise<number[]> {
    const m = engine.model;
    const ids = [...prompt];
    const out: number[] = [];
    const banned = new Set(m.bannedIds);
    for (let i = 0; i < n; i++) {
      const [logits] = await m.model.forward([{ ids, cache: m.model.newCache() }]);
      let best = -1;
      for (let t = 0; t < logits!.length; t++) if (!banned.has(t) && (best < 0 || logits![t]! > logits![best]!)) best = t;
      if (best === end) break;
      out.push(best);
      ids.push(best);
    }
    return out;
  }

  it('greedy decoding equals argmax over fresh full forward passes (FIM layout)', async () => {
    const r = await engine.complete(req({ temperature: 0, maxTokens: 12, maxBlankLines: 1e9, maxRepeatedLines: 1e9, maxRepeatsInLine: 0, layout: 'fim' }));
    const m = engine.model;
    const prompt = buildPrompt(
      { tokenizer: m.tokenizer, fim: m.fim, order: m.fimOrder },
      new TextEncoder().encode(PREFIX),
      new TextEncoder().encode(SUFFIX),
      { maxTokens: 1024 },
    );
    const expected = await greedyByFullPasses(prompt.ids, m.fim!.end!, 12);
    assert.equal(r.text, new TextDecoder().decode(m.tokenizer.decodeBytes(expected)));
    assert.equal(r.stats.generatedTokens, expected.length);
    assert.equal(r.stats.promptTokens, prompt.ids.length);
    assert.equal(r.stopReason, expected.length === 12 ? 'max_tokens' : 'fim_end');
  });

  it('the default layout is the model card\'s: a plain prompt after end-of-text, greedy = argmax, end-of-text ends the file', async () => {
    const m = engine.model;
    assert.equal(m.promptLayout, 'plain');
    const r = await engine.complete(req({ temperature: 0, maxTokens: 12, maxBlankLines: 1e9, maxRepeatedLines: 1e9, maxRepeatsInLine: 0 }));
    const eos = m.eosIds[0]!;
    const ids = [eos, ...m.tokenizer.encodeBytes(new TextEncoder().encode(PREFIX))];
    assert.equal(r.stats.promptTokens, ids.length);
    const expected = await greedyByFullPasses(ids, eos, 12);
    assert.equal(r.text, new TextDecoder().decode(m.tokenizer.decodeBytes(expected)));
    assert.equal(r.stopReason, expected.length === 12 ? 'max_tokens' : 'eos');
  });

  it('a left-to-right prompt with a grammar ends at the first line break after content where the file parses', async () => {
    // The model does not see `return y`: without this rule it writes on into the next lines.
    for (let seed = 0; seed < 6; seed++) {
      const r = await engine.complete({ prefix: 'def f(x):\n    y = x', suffix: '\n    return y\n', languageId: 'python', options: { grammar: 'mask', healing: 'off', layout: 'plain', temperature: 0.8, maxTokens: 24, seed } });
      const firstBreak = r.text.search(/\S[^\n]*\n/);
      const rest = firstBreak < 0 ? '' : r.text.slice(r.text.indexOf('\n', firstBreak) + 1);
      assert.equal(rest.trim(), '', `seed ${seed}: ${JSON.stringify(r.text)} goes on past a line it could end at`);
    }
  });

  it('seeded sampling is reproducible; other seeds give other texts', async () => {
    const o = { temperature: 1, topP: 1, maxTokens: 24, seed: 7 };
    const a = await engine.complete(req(o));
    const b = await engine.complete(req(o));
    assert.equal(a.text, b.text);
    const others = new Set<string>();
    for (const seed of [1, 2, 3, 4]) others.add((await engine.complete(req({ ...o, seed }))).text);
    others.add(a.text);
    assert.ok(others.size >= 3, `5 seeds gave ${others.size} distinct texts`);
    assert.ok(a.timings.totalMs >= a.timings.firstTokenMs && a.timings.firstTokenMs > 0);
    assert.equal(a.stats.modelCalls, 1 + a.stats.generatedTokens - (a.stopReason === 'max_tokens' ? 1 : 0));
  });

  it('infill(n) forks the prompt cache: candidate 0 equals complete(), the rest differ', async () => {
    const o = { temperature: 1, topP: 0.95, maxTokens: 16, seed: 11 };
    const c = await engine.infill(req(o), 3);
    assert.equal(c.length, 3);
    assert.equal(c[0]!.text, (await engine.complete(req(o))).text);
    assert.equal(c[1]!.stats.modelCalls, c[1]!.stats.generatedTokens - (c[1]!.stopReason === 'max_tokens' ? 1 : 0), 'no second prefill');
    assert.ok(new Set(c.map((x) => x.text)).size >= 2);
  });

  it('stops at a stop string, before it', async () => {
    // A prompt where greedy decoding writes a few characters (the model may end at once elsewhere).
    const prompts = [req({ temperature: 0, maxTokens: 24 }), { prefix: PREFIX, suffix: '', languageId: 'python', options: { grammar: 'off' as const, healing: 'off' as const, temperature: 0, maxTokens: 24 } }];
    for (const seed of [1, 2, 3]) prompts.push(req({ temperature: 1, seed, maxTokens: 24 }));
    let found = false;
    for (const p of prompts) {
      const full = await engine.complete(p);
      if (full.text.length < 6) continue;
      const stop = full.text.slice(3, 6);
      const r = await engine.complete({ ...p, options: { ...p.options, stop: [stop] } });
      assert.equal(r.stopReason, 'stop_string');
      assert.equal(r.text, full.text.slice(0, full.text.indexOf(stop)));
      found = true;
      break;
    }
    assert.ok(found, 'some prompt produced at least 6 characters');
  });

  it('a completion that cycles inside a line is cut at the cycle\'s first copy and its end repaired by the grammar', async () => {
    // The tiny model writes `total, b, b, b, …` here until max tokens.
    const js = (options: Record<string, unknown>) => ({
      prefix: 'const xs = [1, 2, 3];\nconst total = xs.reduce((a, b) => a + b, 0);\nconsole.log(tot', suffix: '\n', languageId: 'javascript',
      options: { grammar: 'mask' as const, temperature: 0, maxTokens: 48, ...options },
    });
    const off = await engine.complete(js({ maxRepeatsInLine: 0 }));
    assert.match(off.text, /(, b){6}/, JSON.stringify(off.text));
    const on = await engine.complete(js({}));
    assert.equal(on.stopReason, 'loop');
    assert.ok(!/(, b){2}/.test(on.text) && on.text.startsWith('total, b'), JSON.stringify(on.text));
    assert.ok(on.stats.endRepair !== 'failed' && on.stats.endRepair !== 'stand-in', on.stats.endRepair);
    await assert.rejects(engine.complete(js({ maxRepeatsInLine: -1 })), (e: unknown) => e instanceof TrellisError && e.code === 'bad_request' && /maxRepeatsInLine/.test(e.message));
  });

  it('an aborted signal returns the partial completion with stopReason aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await engine.complete(req({ maxTokens: 16 }), ac.signal);
    assert.equal(r.stopReason, 'aborted');
    assert.equal(r.text, '');
    // Abort after 3 tokens, through the loop's token hook.
    const m = engine.model;
    const cache = m.model.newCache();
    const [logits] = await m.model.forward([{ ids: m.tokenizer.encodeBytes(new TextEncoder().encode(PREFIX)), cache }]);
    const ac2 = new AbortController();
    let committed = 0;
    const out = await decode({
      model: m.model, tokenizer: m.tokenizer, cache, logits: logits!, rng: new Xoshiro128(0),
      params: { temperature: 0, topP: 1, topK: 0, seed: 0, maxTokens: 50, stop: [] },
      endTokens: new Map(), signal: ac2.signal,
      hooks: { onToken: () => { if (++committed === 3) ac2.abort(); } },
    });
    assert.equal(out.stopReason, 'aborted');
    assert.equal(out.tokens.length, 3);
    // A request cancelled while it waits behind another answers at once.
    let firstDone = false;
    const first = engine.complete(req({ maxTokens: 16 })).then((r) => ((firstDone = true), r));
    const ac3 = new AbortController();
    const second = engine.complete(req({ maxTokens: 16 }), ac3.signal);
    ac3.abort();
    assert.equal((await second).stopReason, 'aborted');
    assert.equal(firstDone, false);
    assert.notEqual((await first).stopReason, 'aborted');
  });

  it('hooks: processors ban tokens and see every token; selectors end (−1 → grammar) or forbid ending', async () => {
    const m = engine.model;
    const seen: number[] = [];
    const newline = m.tokenizer.encodeBytes(new TextEncoder().encode('\n'))[0]!;
    const banNewline: LogitsProcessor = { name: 'ban-newline', process: (_c, s) => { s[newline] = -Infinity; }, accept: (t) => { seen.push(t); } };
    const cache = m.model.newCache();
    const prompt = m.tokenizer.encodeBytes(new TextEncoder().encode(PREFIX));
    const [logits] = await m.model.forward([{ ids: prompt, cache }]);
    const base = { model: m.model, tokenizer: m.tokenizer, logits: logits!, params: { temperature: 1, topP: 1, topK: 0, seed: 0, maxTokens: 20, stop: [] }, endTokens: new Map([[m.fim!.end!, 'fim_end' as const]]) };
    const a = await decode({ ...base, cache: cache.fork(), rng: new Xoshiro128(1), hooks: { processors: [banNewline] } });
    assert.ok(!a.tokens.includes(newline));
    assert.deepEqual(seen, a.tokens);
    // A selector that allows 5 tokens, then reports a dead end.
    let n = 0;
    const dead: TokenSelector = { name: 'dead-end', select: (c: SelectContext) => (n++ < 5 ? c.sampling.sample(c.scores) : -1), accept: () => {} };
    const b = await decode({ ...base, cache: cache.fork(), rng: new Xoshiro128(1), hooks: { selector: dead } });
    assert.equal(b.stopReason, 'grammar');
    assert.equal(b.tokens.length, 5);
    // A selector that always wants to end but canEnd() says no: the loop bans the end tokens.
    const eager: TokenSelector = {
      name: 'eager', canEnd: () => false, accept: () => {},
      select: (c: SelectContext) => (c.endAllowed ? m.fim!.end! : c.sampling.sample(c.scores)),
      stats: () => ({ maskedSteps: 4, suffixCheck: 'lines' }),
    };
    const endFirst: TokenSelector = { ...eager, select: (c: SelectContext) => (c.scores[m.fim!.end!] === -Infinity ? c.sampling.sample(c.scores) : m.fim!.end!) };
    const e = await decode({ ...base, cache: cache.fork(), rng: new Xoshiro128(1), hooks: { selector: endFirst } });
    assert.equal(e.stopReason, 'max_tokens');
    assert.equal(e.tokens.length, 20);
    assert.deepEqual([e.maskedSteps, e.suffixCheck], [4, 'lines']);
  });

  it('healing seam: forced tokens start the completion and respelledChars counts the tail', async () => {
    // The plainest healer: re-spell the last 3 bytes with their canonical tokens.
    const healer: PromptTailHealer = {
      mode: 'token',
      tailLength: () => 3,
      heal: async (a) => ({ forcedIds: a.tokenizer.encodeBytes(a.tail), modelCalls: 0, covers: 1 }),
    };
    const healed = await Engine.load(MODEL_DIR, { threads: 1, plugins: { healer: () => healer } });
    try {
      const prefix = 'def read_lines(path):\n    with open(pa';
      const r = await healed.complete({ prefix, suffix: '', languageId: 'python', options: { healing: 'token', grammar: 'off', temperature: 0, maxTokens: 6 } });
      assert.equal(r.respelledChars, 3);
      assert.ok(r.text.startsWith('(pa'), JSON.stringify(r.text));
      assert.equal(r.stats.healing, 'token');
      assert.equal(r.stats.healingCovers, 1);
      assert.ok(r.stats.generatedTokens <= 6);
      // Stop rules never cut into the re-spelled text: max tokens below the forced tokens, a
      // stop string inside the tail.
      const tiny = await healed.complete({ prefix, suffix: '', languageId: 'python', options: { healing: 'token', grammar: 'off', maxTokens: 1, stop: ['pa'] } });
      assert.ok(tiny.text.startsWith('(pa'), JSON.stringify(tiny.text));
      assert.equal(tiny.stopReason, 'max_tokens');
    } finally {
      await healed.dispose();
    }
  });

  it('refuses binary and huge documents and bad options with TrellisErrors', async () => {
    await assert.rejects(engine.complete({ prefix: 'a\0b', suffix: '', languageId: 'python' }), (e: unknown) => e instanceof TrellisError && e.code === 'document_binary');
    await assert.rejects(engine.complete({ prefix: 'x'.repeat(1_100_000), suffix: '', languageId: 'python' }), (e: unknown) => e instanceof TrellisError && e.code === 'document_too_large');
    await assert.rejects(engine.complete(req({ topP: 0 })), (e: unknown) => e instanceof TrellisError && e.code === 'bad_request' && /topP/.test(e.message));
    await assert.rejects(engine.complete(req({ maxTokens: 100000 })), (e: unknown) => e instanceof TrellisError && e.code === 'bad_request');
  });
});
