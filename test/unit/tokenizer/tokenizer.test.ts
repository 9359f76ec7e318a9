// Tokenizer against the reference @huggingface/tokenizers on real vocabularies (Llama-3, Qwen3,
// and Trellis's own default model when present), plus the byte-exact properties healing and
// the grammar rely on: token bytes spell the input, chunk boundaries are never crossed, and
// arbitrary byte cuts (mid-character included) encode losslessly.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as ReferenceTokenizer } from '@huggingface/tokenizers';
import { Tokenizer } from '../../../src/engine/tokenizer';
import { TrellisError } from '../../../src/engine/api';
import { utf8Encode } from '../../../src/engine/text';
import { UNICODE_STRESS } from '../../../src/cli/commands/bench-tokenizer';
import { firstDifference, loadPair, referenceIds, rng, sampleText, tokenizerFile, type LoadedPair } from './fixtures';

/** text.slice(a, b) widened so as not to split a surrogate pair. */
function safeSlice(text: string, a: number, b: number): string {
  const low = (i: number) => i > 0 && i < text.length && (text.charCodeAt(i) & 0xfc00) === 0xdc00;
  if (low(a)) a--;
  if (low(b)) b++;
  return text.slice(a, b);
}

/** Cumulative byte offsets of token ends. */
function tokenEnds(tok: Tokenizer, ids: number[]): Set<number> {
  const ends = new Set<number>([0]);
  let o = 0;
  for (const id of ids) {
    o += tok.tokenBytes(id).length;
    ends.add(o);
  }
  return ends;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Checks shared by every real tokenizer. */
function realTokenizerSuite(name: string, normalizesNfc: boolean, extra?: (get: () => LoadedPair) => void): void {
  describe(`${name} tokenizer.json`, function () {
    let pair: LoadedPair;
    before(function () {
      const p = loadPair(name);
      if (!p) {
        console.log(`      skipped: ${tokenizerFile(name)} is not present`);
        this.skip();
      }
      pair = p!;
    });

    it('gives the same ids as @huggingface/tokenizers on a ~400 KB mixed real sample', function () {
      const text = sampleText();
      assert.ok(utf8Encode(text).length > 350_000, 'sample is large');
      const ours = pair.ours.encode(text);
      const ref = referenceIds(pair, text);
      assert.equal(firstDifference(pair, ours, ref), null);
      assert.ok(ours.length > 50_000);
    });

    it('gives the same ids line by line on the unicode stress block (fresh chunk contexts)', function () {
      for (const line of UNICODE_STRESS.split('\n')) {
        const ours = pair.ours.encode(line);
        const ref = referenceIds(pair, line);
        assert.equal(firstDifference(pair, ours, ref), null, `line ${JSON.stringify(line.slice(0, 40))}`);
      }
    });

    it('encodeBytes(utf8(x)) equals encode(x), and decode(encode(x)) is x', function () {
      const text = safeSlice(sampleText(), 0, 120_000);
      const ids = pair.ours.encode(text);
      assert.deepEqual(pair.ours.encodeBytes(utf8Encode(text)), ids);
      const expected = normalizesNfc ? text.normalize('NFC') : text;
      assert.equal(pair.ours.decode(ids), expected);
      assert.ok(bytesEqual(pair.ours.decodeBytes(ids), utf8Encode(expected)), 'token bytes concatenate to the UTF-8 of the text');
      if (normalizesNfc) assert.notEqual(text, expected, 'the sample has decomposed characters to normalize');
    });

    it('never produces added/special tokens from text, and tokenBytes of specials is their content', function () {
      const ids = pair.ours.encode(sampleText().slice(0, 50_000));
      assert.ok(ids.every((id) => !pair.ours.isSpecial(id)));
      assert.ok(pair.ours.addedTokens.length > 0);
      for (const t of pair.ours.addedTokens) {
        assert.ok(pair.ours.isSpecial(t.id));
        assert.equal(pair.ours.specialTokenId(t.content), t.id);
        assert.equal(new TextDecoder().decode(pair.ours.tokenBytes(t.id)), t.content);
      }
      assert.equal(pair.ours.specialTokenId('not a special token'), undefined);
    });

    it('parses added tokens in text only when asked, like the reference', function () {
      const added = pair.ours.addedTokens;
      const a = added[0].content;
      const b = added[added.length - 1].content;
      const text = `x = 1${a}def f():\n  return "${b}"${a}${a} tail`;
      const withSpecials = pair.ours.encode(text, { specialTokens: true });
      assert.equal(firstDifference(pair, withSpecials, referenceIds(pair, text)), null);
      assert.ok(withSpecials.includes(added[0].id));
      const plain = pair.ours.encode(text);
      assert.ok(!plain.some((id) => pair.ours.isSpecial(id)));
      assert.equal(pair.ours.decode(plain), text);
    });

    it('vocabSize covers every id and tokenBytes is exact for ordinary tokens', function () {
      assert.ok(pair.ours.vocabSize > 0);
      const vocab = (pair.json.model as { vocab: Record<string, number> }).vocab;
      let maxId = -1;
      for (const id of Object.values(vocab)) maxId = Math.max(maxId, id);
      for (const t of pair.ours.addedTokens) maxId = Math.max(maxId, t.id);
      assert.equal(pair.ours.vocabSize, maxId + 1);
      // Round-trip each vocabulary token through the reference's decoder.
      const ids = Object.values(vocab).filter((id) => id % 331 === 0);
      for (const id of ids) {
        const refText = pair.reference.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
        const ours = new TextDecoder().decode(pair.ours.tokenBytes(id));
        assert.equal(ours, refText, `token ${id}`);
      }
      assert.throws(() => pair.ours.tokenBytes(pair.ours.vocabSize), TrellisError);
    });

    it('preTokenizeBoundaries match the chunks, and no token crosses them', function () {
      const text = safeSlice(sampleText(), 0, 60_000);
      const bytes = utf8Encode(text);
      const bounds = pair.ours.preTokenizeBoundaries(bytes);
      assert.equal(bounds[0], 0);
      assert.equal(bounds[bounds.length - 1], bytes.length);
      for (let i = 1; i < bounds.length; i++) assert.ok(bounds[i] > bounds[i - 1]);
      // Same as the UTF-8 lengths of the pre-tokenized pieces (text is NFC-stable here or not:
      // boundaries are computed on the given text, pieces on the normalized one).
      const pieces = pair.ours.preTokenize(normalizesNfc ? text.normalize('NFC') : text);
      if (!normalizesNfc || text === text.normalize('NFC')) {
        const expected = [0];
        for (const p of pieces) expected.push(expected[expected.length - 1] + utf8Encode(p).length);
        assert.deepEqual(bounds, expected);
      }
      const nfcText = text.normalize('NFC');
      const nfcBytes = utf8Encode(nfcText);
      const ends = tokenEnds(pair.ours, pair.ours.encodeBytes(nfcBytes));
      for (const b of pair.ours.preTokenizeBoundaries(nfcBytes)) assert.ok(ends.has(b), `a token crosses boundary ${b}`);
    });

    it('encodes arbitrary byte cuts (mid-character too) losslessly with consistent boundaries', function () {
      const text = (UNICODE_STRESS + '\n' + safeSlice(sampleText(), 0, 1000)).normalize('NFC');
      const bytes = utf8Encode(text);
      const rand = rng(7);
      let midCharCuts = 0;
      for (let trial = 0; trial < 200; trial++) {
        const a = Math.floor(rand() * bytes.length);
        const b = Math.min(bytes.length, a + 1 + Math.floor(rand() * 200));
        const cut = bytes.subarray(a, b);
        if ((cut[0] & 0xc0) === 0x80 || (b < bytes.length && (bytes[b] & 0xc0) === 0x80)) midCharCuts++;
        const ids = pair.ours.encodeBytes(cut);
        assert.ok(bytesEqual(pair.ours.decodeBytes(ids), cut), `cut [${a}, ${b}) round-trips`);
        assert.ok(!ids.some((id) => pair.ours.isSpecial(id)));
        const bounds = pair.ours.preTokenizeBoundaries(cut);
        assert.equal(bounds[0], 0);
        assert.equal(bounds[bounds.length - 1], cut.length);
        const ends = tokenEnds(pair.ours, ids);
        for (const x of bounds) assert.ok(ends.has(x), `cut [${a}, ${b}): a token crosses boundary ${x}`);
      }
      assert.ok(midCharCuts > 10, 'the trials include cuts inside characters');
    });

    it('is deterministic across the chunk cache (second encode equals the first)', function () {
      const text = safeSlice(sampleText(), 200_000, 260_000);
      assert.deepEqual(pair.ours.encode(text), pair.ours.encode(text));
    });

    extra?.(() => pair);
  });
}

describe('Tokenizer (byte-level BPE from tokenizer.json)', function () {
  realTokenizerSuite('llama3', false);
  realTokenizerSuite('qwen3', true);
  realTokenizerSuite('trellis-code-tiny', false, (get) => {
    it('has the FIM, end and GeDi control tokens the default model documents, all special', function () {
      const tok = get().ours;
      for (const content of ['<|endoftext|>', '<fim_prefix>', '<fim_middle>', '<fim_suffix>', '<fim_pad>', '<|file_sep|>']) {
        const id = tok.specialTokenId(content);
        assert.ok(id !== undefined, `${content} is an added token`);
        assert.ok(tok.isSpecial(id!));
      }
      // FIM prompt layout (PSM) encodes with the control tokens intact.
      const ids = tok.encode('<fim_prefix>def f(<fim_suffix>):\n<fim_middle>', { specialTokens: true });
      assert.equal(ids[0], tok.specialTokenId('<fim_prefix>'));
      assert.equal(ids[ids.length - 1], tok.specialTokenId('<fim_middle>'));
    });
  });

  describe('variants built from the Llama-3 vocabulary', function () {
    // A GPT-2 style config (ByteLevel with its own regex, "a b" string merges, no ignore_merges)
    // over Llama-3's vocabulary: exercises the other code paths against the reference.
    let gpt2ish: { ours: Tokenizer; reference: ReferenceTokenizer } | null = null;
    before(function () {
      const pair = loadPair('llama3');
      if (!pair) this.skip();
      const model = pair!.json.model as Record<string, unknown>;
      const json = {
        ...pair!.json,
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        model: { ...model, ignore_merges: false, merges: (model.merges as string[]).map((m) => (Array.isArray(m) ? m.join(' ') : m)) },
      };
      gpt2ish = { ours: Tokenizer.fromJSON(json, 'gpt2-style test config'), reference: new ReferenceTokenizer(json, {}) };
    });

    it('GPT-2 regex, string merges, no ignore_merges: same ids as the reference', function () {
      const text = safeSlice(sampleText(), 0, 150_000) + '\n' + UNICODE_STRESS;
      const ours = gpt2ish!.ours.encode(text);
      const ref = gpt2ish!.reference.encode(text, { add_special_tokens: false }).ids;
      assert.deepEqual(ours.length, ref.length);
      assert.deepEqual(ours, ref);
      // GPT-2's pattern keeps digit runs whole where Llama-3's splits them in threes.
      assert.deepEqual(gpt2ish!.ours.preTokenize('abc 123456'), ['abc', ' 123456']);
    });

    it('StarCoder-style Sequence [Digits(individual), ByteLevel(regex)]: same ids as the reference', function () {
      const pair = loadPair('llama3')!;
      const json = {
        ...pair.json,
        pre_tokenizer: {
          type: 'Sequence',
          pretokenizers: [
            { type: 'Digits', individual_digits: true },
            { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
          ],
        },
      };
      const ours = Tokenizer.fromJSON(json, 'starcoder-style test config');
      // The reference's Digits knows only ASCII digits; the Rust crate (and we) split on every
      // numeric character, so compare on text whose numerals are ASCII.
      const text = (safeSlice(sampleText(), 0, 60_000) + '\n' + UNICODE_STRESS).replace(/(?![0-9])\p{N}/gu, '#');
      const ref = new ReferenceTokenizer(json, {}).encode(text, { add_special_tokens: false }).ids;
      assert.deepEqual(ours.encode(text), ref);
      assert.deepEqual(ours.preTokenize('x = 42'), ['x', ' =', ' ', '4', '2']);
    });
  });

  describe('errors name the file and the problem', function () {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-tok-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const minimal = () => ({
      model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] },
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
      added_tokens: [{ id: 3, content: '<|end|>', special: true }],
    });
    const expectError = (fn: () => unknown, code: string, ...parts: string[]) => {
      assert.throws(fn, (err: unknown) => {
        assert.ok(err instanceof TrellisError, `TrellisError, got ${String(err)}`);
        assert.equal(err.code, code);
        for (const p of parts) assert.ok(err.message.includes(p), `message ${JSON.stringify(err.message)} mentions ${p}`);
        return true;
      });
    };

    it('a minimal valid tokenizer loads and encodes (sanity for the cases below)', function () {
      const t = Tokenizer.fromJSON(minimal(), 'mini');
      assert.equal(t.vocabSize, 4);
      assert.deepEqual(t.encode('abab'), [2, 2]);
      assert.deepEqual(t.encode('ba'), [1, 0]);
      assert.ok(t.isSpecial(3));
      assert.deepEqual(t.encode('ab<|end|>', { specialTokens: true }), [2, 3]);
    });

    it('missing file', function () {
      const p = join(dir, 'nope', 'tokenizer.json');
      expectError(() => Tokenizer.fromFile(p), 'model_missing_file', p);
    });

    it('invalid JSON', function () {
      const p = join(dir, 'broken.json');
      writeFileSync(p, '{"model": {"type": "BPE", ');
      expectError(() => Tokenizer.fromFile(p), 'tokenizer_invalid', p, 'not valid JSON');
    });

    it('unsupported model type', function () {
      const p = join(dir, 'unigram.json');
      writeFileSync(p, JSON.stringify({ model: { type: 'Unigram', vocab: [] } }));
      expectError(() => Tokenizer.fromFile(p), 'tokenizer_invalid', p, 'Unigram', 'byte-level BPE');
    });

    it('unsupported or missing pre-tokenizer', function () {
      expectError(() => Tokenizer.fromJSON({ ...minimal(), pre_tokenizer: { type: 'Metaspace', replacement: '▁' } }, 'meta.json'), 'tokenizer_invalid', 'meta.json', 'Metaspace');
      expectError(() => Tokenizer.fromJSON({ ...minimal(), pre_tokenizer: null }, 'null.json'), 'tokenizer_invalid', 'null.json', 'ByteLevel');
      expectError(
        () => Tokenizer.fromJSON({ ...minimal(), pre_tokenizer: { type: 'Split', pattern: { String: ' ' }, behavior: 'Removed' } }, 'split.json'),
        'tokenizer_invalid',
        'no ByteLevel',
      );
      expectError(
        () => Tokenizer.fromJSON({ ...minimal(), pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true } }, 'aps.json'),
        'tokenizer_invalid',
        'add_prefix_space',
      );
    });

    it('a regex that cannot be translated', function () {
      const pre = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\Gfoo' }, behavior: 'Isolated' }, { type: 'ByteLevel', use_regex: false }] };
      expectError(() => Tokenizer.fromJSON({ ...minimal(), pre_tokenizer: pre }, 're.json'), 'tokenizer_invalid', 're.json', '\\\\Gfoo');
    });

    it('merges that refer to unknown tokens, malformed merges, non byte-level vocabularies, byte_fallback', function () {
      const m = minimal();
      expectError(() => Tokenizer.fromJSON({ ...m, model: { ...m.model, merges: ['a c'] } }, 'm1.json'), 'tokenizer_invalid', 'merges[0]', 'missing');
      expectError(() => Tokenizer.fromJSON({ ...m, model: { ...m.model, merges: ['abc'] } }, 'm2.json'), 'tokenizer_invalid', 'merges[0]');
      expectError(() => Tokenizer.fromJSON({ ...m, model: { ...m.model, vocab: { '▁hello': 0 } } }, 'sp.json'), 'tokenizer_invalid', 'byte-level');
      expectError(() => Tokenizer.fromJSON({ ...m, model: { ...m.model, byte_fallback: true } }, 'bf.json'), 'tokenizer_invalid', 'byte_fallback');
      expectError(() => Tokenizer.fromJSON({ ...m, normalizer: { type: 'Lowercase' } }, 'lc.json'), 'tokenizer_invalid', 'Lowercase');
      expectError(() => Tokenizer.fromJSON([1, 2], 'arr.json'), 'tokenizer_invalid', 'arr.json');
    });

    it('text needing a byte the vocabulary lacks', function () {
      const t = Tokenizer.fromJSON(minimal(), 'mini.json');
      expectError(() => t.encode('abc'), 'tokenizer_invalid', 'mini.json', '0x63');
    });
  });
});
