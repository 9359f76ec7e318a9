// src/engine/text.ts: UTF-16 ↔ UTF-8 conversions against TextEncoder/TextDecoder on random
// strings (surrogate pairs, lone surrogates, every UTF-8 width), offsets, and cut points.
import assert from 'node:assert/strict';
import {
  decodeWithOffsets,
  incompleteUtf8Tail,
  isCompleteUtf8,
  utf16ToUtf8Offset,
  utf8CeilBoundary,
  utf8Decode,
  utf8Encode,
  utf8EncodeRange,
  utf8FloorBoundary,
  utf8Length,
  utf8SequenceLength,
  utf8ToUtf16Offset,
} from '../../../src/engine/text';
import { rng } from './fixtures';

const ALPHABET = ['a', ' ', '\n', 'é', 'ß', '€', '中', '\u0301', '😀', '𝄞', '\ud800', '\udc00', '\uffff', '\u0080', '\u07ff', '\u0800'];

function randomString(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

describe('text (UTF-16 ↔ UTF-8)', function () {
  it('utf8Length and utf8EncodeRange agree with TextEncoder, lone surrogates included', function () {
    const rand = rng(3);
    const out = new Uint8Array(300);
    for (let t = 0; t < 500; t++) {
      const s = randomString(rand, Math.floor(rand() * 60));
      const a = Math.floor(rand() * (s.length + 1));
      const b = a + Math.floor(rand() * (s.length - a + 1));
      const expected = new TextEncoder().encode(s.slice(a, b));
      assert.equal(utf8Length(s, a, b), expected.length);
      const n = utf8EncodeRange(s, a, b, out);
      assert.deepEqual(out.subarray(0, n), expected);
      assert.deepEqual(utf8Encode(s), new TextEncoder().encode(s));
    }
  });

  it('offsets convert both ways and byte offsets inside a character round down', function () {
    const s = 'aé中😀b';
    // bytes: a(1) é(2) 中(3) 😀(4) b(1)
    assert.deepEqual([0, 1, 2, 3, 5, 6].map((u) => utf16ToUtf8Offset(s, u)), [0, 1, 3, 6, 10, 11]);
    assert.deepEqual([0, 1, 2, 3, 4, 6, 7, 9, 10, 11].map((b) => utf8ToUtf16Offset(s, b)), [0, 1, 1, 2, 2, 3, 3, 3, 5, 6]);
    const rand = rng(5);
    for (let t = 0; t < 200; t++) {
      const str = randomString(rand, 30).replace(/[\ud800-\udfff](?![\udc00-\udfff])/g, 'x'); // well-formed
      for (let u = 0; u <= str.length; u++) {
        if (u > 0 && u < str.length && (str.charCodeAt(u) & 0xfc00) === 0xdc00 && (str.charCodeAt(u - 1) & 0xfc00) === 0xd800) continue;
        assert.equal(utf8ToUtf16Offset(str, utf16ToUtf8Offset(str, u)), u);
      }
    }
  });

  it('validates UTF-8 and finds incomplete tails', function () {
    const ok = utf8Encode('héllo 中 😀');
    assert.ok(isCompleteUtf8(ok));
    assert.ok(isCompleteUtf8(new Uint8Array(0)));
    for (let cut = 0; cut <= ok.length; cut++) {
      const prefix = ok.subarray(0, cut);
      const tail = incompleteUtf8Tail(prefix);
      assert.equal(isCompleteUtf8(prefix), tail === 0, `cut ${cut}`);
      assert.ok(isCompleteUtf8(prefix.subarray(0, cut - tail)));
      assert.equal(utf8FloorBoundary(ok, cut), cut - tail);
    }
    // Malformed input is not "incomplete": no continuation can fix it.
    assert.equal(incompleteUtf8Tail(Uint8Array.of(0x61, 0xff)), 0);
    assert.equal(incompleteUtf8Tail(Uint8Array.of(0x80, 0x80, 0x80)), 0);
    assert.equal(incompleteUtf8Tail(Uint8Array.of(0xe0, 0x80)), 0); // overlong start
    assert.equal(incompleteUtf8Tail(Uint8Array.of(0xed, 0xa0)), 0); // surrogate start
    assert.equal(incompleteUtf8Tail(Uint8Array.of(0xf0, 0x9f, 0x98)), 3);
    assert.ok(!isCompleteUtf8(Uint8Array.of(0xc0, 0x80))); // overlong NUL
    assert.ok(!isCompleteUtf8(Uint8Array.of(0xed, 0xa0, 0x80))); // encoded surrogate
    assert.ok(!isCompleteUtf8(Uint8Array.of(0xf4, 0x90, 0x80, 0x80))); // > U+10FFFF
    assert.equal(utf8SequenceLength(Uint8Array.of(0xf4, 0x8f, 0xbf, 0xbf), 0), 4);
    assert.equal(utf8CeilBoundary(ok, 2), 3); // inside é → after it
    assert.equal(utf8CeilBoundary(ok, 1), 1);
  });

  it('decodeWithOffsets keeps exact byte positions for invalid bytes', function () {
    const valid = utf8Encode('a中😀');
    assert.deepEqual(decodeWithOffsets(valid), { text: 'a中😀' });
    const bytes = Uint8Array.of(0x61, 0xe4, 0xb8, 0x62, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0xe4);
    const { text, byteOffsets } = decodeWithOffsets(bytes);
    assert.equal(text, 'a\ufffd\ufffdb😀\ufffd\ufffd');
    assert.deepEqual([...byteOffsets!], [0, 1, 2, 3, 4, 4, 8, 9, 10]);
    // utf8Decode follows WHATWG (one U+FFFD per maximal bad subpart): for display only.
    assert.equal(utf8Decode(bytes), 'a\ufffdb😀\ufffd\ufffd');
  });
});
