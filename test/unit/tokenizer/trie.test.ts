// TokenTrie: structure invariants of the flat pre-order layout and query results against brute
// force over the real Llama-3 vocabulary, plus a small hand-checked trie.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { TokenTrie } from '../../../src/engine/tokenizer';
import { utf8Encode } from '../../../src/engine/text';
import { loadPair, rng } from './fixtures';

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > a.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

describe('TokenTrie', function () {
  describe('a small hand-checked trie', function () {
    const enc = (s: string) => utf8Encode(s);
    const trie = TokenTrie.fromTokens([
      [0, enc('a')],
      [1, enc('ab')],
      [2, enc('abc')],
      [3, enc('b')],
      [4, enc('ac')],
      [5, enc('')], // skipped
      [6, enc('ab')], // same bytes as 1: shadowed
    ]);

    it('lays nodes out in pre-order with byte-sorted children', function () {
      // root, a, ab, abc, ac, b
      assert.equal(trie.nodeCount, 6);
      assert.deepEqual([...trie.labels], [0, 97, 98, 99, 99, 98]);
      assert.deepEqual([...trie.depths], [0, 1, 2, 3, 2, 1]);
      assert.deepEqual([...trie.tokenIds], [-1, 0, 1, 2, 4, 3]);
      assert.deepEqual([...trie.subtreeEnds], [6, 5, 4, 4, 5, 6]);
      assert.deepEqual(trie.shadowedTokens, [6]);
      assert.equal(trie.tokenCount, 5);
      assert.deepEqual([...trie.nodeOfToken], [1, 2, 3, 5, 4, -1, -1]);
    });

    it('answers queries', function () {
      assert.deepEqual(trie.tokensWithPrefix(enc('a')), [0, 1, 2, 4]);
      assert.deepEqual(trie.tokensWithPrefix(enc('ab')), [1, 2]);
      assert.deepEqual(trie.tokensWithPrefix(enc('abd')), []);
      assert.deepEqual(trie.tokensWithPrefix(enc('')), [0, 1, 2, 4, 3]);
      assert.deepEqual(trie.longestTokenAt(enc('xabcd'), 1), { id: 2, length: 3 });
      assert.equal(trie.longestTokenAt(enc('x')), null);
      assert.deepEqual(trie.tokensAt(enc('abd')), [[0, 1], [1, 2]]);
      assert.equal(trie.tokenId(enc('ac')), 4);
      assert.equal(trie.tokenId(enc('c')), -1);
      assert.equal(trie.child(0, 98), 5);
      assert.equal(trie.child(1, 100), -1);
    });

    it('supports the documented depth-first walk with subtree skipping', function () {
      // Allow only strings without 'c': the walk must skip the subtrees under 'c' edges.
      const allowed: number[] = [];
      let visited = 0;
      for (let n = 1; n < trie.nodeCount; ) {
        visited++;
        if (trie.labels[n] === 99) {
          n = trie.subtreeEnds[n];
          continue;
        }
        if (trie.tokenIds[n] >= 0) allowed.push(trie.tokenIds[n]);
        n++;
      }
      assert.deepEqual(allowed, [0, 1, 3]);
      assert.equal(visited, 5); // a, ab, abc (rejected), ac (rejected), b
    });
  });

  describe('over the Llama-3 vocabulary', function () {
    let trie: TokenTrie;
    let tokens: Array<[number, Uint8Array]>;
    before(function () {
      const pair = loadPair('llama3');
      if (!pair) this.skip();
      const tok = pair!.ours;
      const t0 = performance.now();
      trie = TokenTrie.fromTokenizer(tok);
      console.log(`      (trie: ${trie.tokenCount} tokens, ${trie.nodeCount} nodes, built in ${(performance.now() - t0).toFixed(0)} ms)`);
      tokens = [];
      for (let id = 0; id < tok.vocabSize; id++) if (!tok.isSpecial(id)) tokens.push([id, tok.tokenBytes(id)]);
      assert.equal(tok.trie().nodeCount, trie.nodeCount, 'the tokenizer builds the same trie');
    });

    it('holds every non-special token exactly once, at a node spelling its bytes', function () {
      assert.equal(trie.tokenCount, tokens.length);
      assert.equal(trie.shadowedTokens.length, 0);
      for (const [id, bytes] of tokens) {
        const node = trie.nodeOfToken[id];
        assert.ok(node > 0);
        assert.equal(trie.tokenIds[node], id);
        assert.equal(trie.depths[node], bytes.length);
        assert.equal(trie.nodeFor(bytes), node);
      }
      for (let id = 128000; id < 128256; id++) assert.equal(trie.nodeOfToken[id], -1, 'specials are left out');
    });

    it('satisfies the pre-order layout invariants', function () {
      const { nodeCount, depths, subtreeEnds, labels } = trie;
      assert.equal(subtreeEnds[0], nodeCount);
      for (let n = 1; n < nodeCount; n++) {
        assert.ok(subtreeEnds[n] > n && subtreeEnds[n] <= nodeCount);
        // The first child follows its parent; the next sibling follows the subtree.
        if (n + 1 < subtreeEnds[n]) assert.equal(depths[n + 1], depths[n] + 1);
        const s = subtreeEnds[n];
        if (s < nodeCount && depths[s] === depths[n]) assert.ok(labels[s] > labels[n], 'siblings sorted by byte');
        if (s < nodeCount) assert.ok(depths[s] <= depths[n]);
      }
    });

    it('tokensWithPrefix equals brute force (random prefixes, in byte order)', function () {
      const rand = rng(1);
      const withPrefix = (prefix: Uint8Array) =>
        tokens.filter(([, b]) => startsWith(b, prefix)).sort((a, b) => compareBytes(a[1], b[1])).map(([id]) => id);
      for (let trial = 0; trial < 12; trial++) {
        const [, bytes] = tokens[Math.floor(rand() * tokens.length)];
        const prefix = bytes.subarray(0, 1 + Math.floor(rand() * Math.min(3, bytes.length)));
        assert.deepEqual(trie.tokensWithPrefix(prefix), withPrefix(prefix));
      }
      // A prefix that is not a valid UTF-8 start still works (healing cuts inside characters).
      const partial = utf8Encode('你').subarray(0, 2);
      const expected = withPrefix(partial);
      assert.ok(expected.length > 0);
      assert.deepEqual(trie.tokensWithPrefix(partial), expected);
    });

    it('longestTokenAt and tokensAt equal brute force on real text', function () {
      const text = utf8Encode('    def __init__(self, name: str) -> None:\n        self.name = name  # 你好 😀\r\n');
      for (let offset = 0; offset < text.length; offset++) {
        const rest = text.subarray(offset);
        const matches = tokens.filter(([, b]) => startsWith(rest, b)).sort((a, b) => a[1].length - b[1].length);
        assert.deepEqual(trie.tokensAt(text, offset), matches.map(([id, b]) => [id, b.length]));
        const longest = matches[matches.length - 1];
        assert.deepEqual(trie.longestTokenAt(text, offset), longest ? { id: longest[0], length: longest[1].length } : null);
      }
    });
  });
});
