// Pre-tokenizer pipeline and the Oniguruma → JS regex translation: Hugging Face's documented
// Split behaviors, Digits, Sequence, inline case folding, Oniguruma's \s, and clear rejections.
import assert from 'node:assert/strict';
import { GPT2_PATTERN, PreTokenizer, RegexTranslationError, translateOnigurumaRegex } from '../../../src/engine/tokenizer';
import { scannerFor } from '../../../src/engine/tokenizer/scanner';
import { utf8Encode } from '../../../src/engine/text';
import { UNICODE_STRESS } from '../../../src/cli/commands/bench-tokenizer';
import { loadPair, rng, sampleText } from './fixtures';

function pieces(preTokenizer: unknown, text: string): string[] {
  return PreTokenizer.fromConfig({ type: 'Sequence', pretokenizers: [preTokenizer, { type: 'ByteLevel', use_regex: false }] }).pieces(text);
}

describe('PreTokenizer', function () {
  it('implements the Split behaviors as Hugging Face documents them ("the-final--countdown", "-")', function () {
    const split = (behavior: string) => pieces({ type: 'Split', pattern: { String: '-' }, behavior, invert: false }, 'the-final--countdown');
    assert.deepEqual(split('Removed'), ['the', 'final', 'countdown']);
    assert.deepEqual(split('Isolated'), ['the', '-', 'final', '-', '-', 'countdown']);
    assert.deepEqual(split('MergedWithPrevious'), ['the-', 'final-', '-', 'countdown']);
    assert.deepEqual(split('MergedWithNext'), ['the', '-final', '-', '-countdown']);
    assert.deepEqual(split('Contiguous'), ['the', '-', 'final', '--', 'countdown']);
  });

  it('inverts a Split pattern (the matches are the pieces kept)', function () {
    assert.deepEqual(pieces({ type: 'Split', pattern: { Regex: '\\w+' }, behavior: 'Removed', invert: true }, 'ab, cd!'), ['ab', 'cd']);
  });

  it('Digits: individual or contiguous', function () {
    assert.deepEqual(pieces({ type: 'Digits', individual_digits: true }, 'a123b'), ['a', '1', '2', '3', 'b']);
    assert.deepEqual(pieces({ type: 'Digits', individual_digits: false }, 'a123b45'), ['a', '123', 'b', '45']);
    // Numeric in the Rust crate's sense (char::is_numeric = \p{N}), not only ASCII.
    assert.deepEqual(pieces({ type: 'Digits', individual_digits: false }, 'x٣٤²y'), ['x', '٣٤²', 'y']);
  });

  it('Sequence applies stages in order, each within the previous pieces', function () {
    const pre = PreTokenizer.fromConfig({
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithNext' }, { type: 'Digits', individual_digits: true }, { type: 'ByteLevel', use_regex: false }],
    });
    assert.deepEqual(pre.pieces('x1 y22'), ['x', '1', ' y', '2', '2']);
    assert.deepEqual(pre.split('x1 y22'), [0, 1, 1, 2, 2, 4, 4, 5, 5, 6]);
  });

  it('GPT-2 ByteLevel regex splits as GPT-2 does', function () {
    const pre = PreTokenizer.fromConfig({ type: 'ByteLevel', add_prefix_space: false, use_regex: true });
    assert.deepEqual(pre.pieces("Hello world! It's  42\n\n  x"), ['Hello', ' world', '!', ' It', "'s", ' ', ' 42', '\n\n ', ' x']);
  });

  it('gaps between matches become pieces (patterns that do not cover every character)', function () {
    const pre = PreTokenizer.fromConfig({ type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '[0-9]+' }, behavior: 'Isolated' }, { type: 'ByteLevel', use_regex: false }] });
    assert.deepEqual(pre.pieces('ab12cd3'), ['ab', '12', 'cd', '3']);
    assert.deepEqual(pre.pieces(''), []);
    // Empty matches are skipped, like Oniguruma's iterator.
    const empty = PreTokenizer.fromConfig({ type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: 'x*' }, behavior: 'Isolated' }, { type: 'ByteLevel', use_regex: false }] });
    assert.deepEqual(empty.pieces('axxb😀x'), ['a', 'xx', 'b😀', 'x']);
  });

  it('H1-style pattern with \\u escapes and ranges compiles and splits code', function () {
    const re = String.raw`'(?:[sdmt]|ll|ve|re)| ?[A-Za-z_\u00C0-\uFFFF]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9_\u00C0-\uFFFF]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
    const pre = PreTokenizer.fromConfig({ type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: re }, behavior: 'Isolated' }, { type: 'ByteLevel', use_regex: false }] });
    assert.deepEqual(pre.pieces('def f(x_1):\n    return 12345'), ['def', ' f', '(', 'x_', '1', '):\n', '   ', ' return', ' 123', '45']);
    assert.equal(pre.pieces('日本 😀').join(''), '日本 😀');
  });
});

describe('translateOnigurumaRegex', function () {
  const test = (pattern: string, s: string) => new RegExp(translateOnigurumaRegex(pattern), 'u').exec(s)?.[0] ?? null;

  it('(?i:…) folds ASCII case (Node 20 has no inline modifiers)', function () {
    assert.equal(test("(?i:'s|'ll)", "'LL"), "'LL");
    assert.equal(test("(?i:'s|'ll)x", "'Sx"), "'Sx");
    assert.equal(test("(?i:'s)X", "'sx"), null, 'folding ends with the group');
    assert.equal(test('(?i:[a-c]+)', 'xBaC'), 'BaC');
    assert.equal(test('(?i)ab', 'AB'), 'AB');
  });

  it('\\s is Unicode White_Space (U+0085 yes, U+FEFF no), \\d is \\p{Nd}, . excludes only \\n', function () {
    assert.equal(test('\\s+', 'a\u0085\u00a0\u3000b'), '\u0085\u00a0\u3000');
    assert.equal(test('\\s', '\ufeff'), null);
    assert.equal(test('[^\\s]+', '\ufeffx y'), '\ufeffx');
    assert.equal(test('\\d+', 'x٣٤5'), '٣٤5');
    assert.equal(test('.+', 'a\rb\nc'), 'a\rb');
    assert.equal(test('\\x{41}\\x42', 'AB'), 'AB');
    assert.equal(test('\\p{Han}+', 'a漢字b'), '漢字');
    assert.equal(test('[[:alpha:]]+', '1abc2'), 'abc');
  });

  it('rejects what it cannot reproduce, with a reason', function () {
    for (const bad of ['\\G', 'a{2}+', '[a&&b]', '[[a]]', '(?=x', 'a)', '\\1', '(?m:a)']) {
      assert.throws(() => translateOnigurumaRegex(bad), RegexTranslationError, bad);
    }
  });

  it('byte lengths of pieces tile the text (sanity for boundary computation)', function () {
    const pre = PreTokenizer.fromConfig({ type: 'ByteLevel', use_regex: true });
    const text = 'naïve 中文 😀 x\r\n';
    const total = pre.pieces(text).reduce((n, p) => n + utf8Encode(p).length, 0);
    assert.equal(total, utf8Encode(text).length);
  });
});

describe('hand-written split scanners', function () {
  /** The Split regex of a real tokenizer.json (shared load with the tokenizer tests). */
  const patternOf = (name: string): string => {
    const json = loadPair(name)!.json as { pre_tokenizer: { pretokenizers: Array<{ pattern?: { Regex?: string } }> } };
    return json.pre_tokenizer.pretokenizers[0].pattern!.Regex!;
  };
  const TRELLIS = String.raw`'(?:[sdmt]|ll|ve|re)| ?[A-Za-z_\u00C0-\uFFFF]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9_\u00C0-\uFFFF]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
  const junk = (() => {
    // Random text over the characters where the alternatives interact.
    const alphabet = [' ', '  ', '\t', '\n', '\r', '\r\n', 'a', 'Z', 'x', '1', '٣', '²', "'", 's', 'S', 'l', 'L', 're', '(', '.', '😀', '\u3000', '\u00a0', '\u0085', '\ufeff', '\u2028', 'é', '_', '\ud800', '中', 'ſ'];
    const rand = rng(11);
    let out = '';
    for (let i = 0; i < 60_000; i++) out += alphabet[Math.floor(rand() * alphabet.length)];
    return out;
  })();

  for (const [name, pattern] of [
    ['GPT-2', () => GPT2_PATTERN],
    ['Llama-3', () => patternOf('llama3')],
    ['Qwen3', () => patternOf('qwen3')],
    ['Trellis', () => TRELLIS],
  ] as const) {
    it(`${name}: the scanner splits exactly like the translated RegExp`, function () {
      const scanner = scannerFor(pattern());
      assert.ok(scanner, 'the pattern is recognised');
      const re = new RegExp(translateOnigurumaRegex(pattern()), 'gu');
      for (const text of [sampleText().slice(0, 150_000), UNICODE_STRESS, junk]) {
        const expected = text.match(re) ?? [];
        assert.deepEqual(scanner!.pieces(text), expected);
        const spans: number[] = [];
        scanner!.split(text, 0, text.length, spans);
        assert.equal(spans.length, 2 * expected.length);
      }
    });
  }

  it('unknown patterns get no scanner (the RegExp is used)', function () {
    assert.equal(scannerFor('\\s+|\\S+'), null);
  });
});
