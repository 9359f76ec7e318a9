import { strict as assert } from 'node:assert';
import { LruMemo, GrammarRuntime, ArrayStore, type Held } from '../../../src/engine/grammar/runtime';
import { loadGrammar } from '../../../src/engine/grammar';

describe('grammar mask memo', () => {
  it('evicts the least recently used entries past its word limit, not everything', () => {
    // each entry costs its words + 16
    const memo = new LruMemo<string>(3 * 20);
    memo.set('a', 'A', 4);
    memo.set('b', 'B', 4);
    memo.set('c', 'C', 4);
    assert.equal(memo.get('a'), 'A'); // now b is the oldest
    memo.set('d', 'D', 4);
    assert.equal(memo.get('b'), undefined);
    assert.deepEqual(['a', 'c', 'd'].map((k) => memo.get(k)), ['A', 'C', 'D']);
    // a large entry pushes out as many old ones as it needs
    memo.set('e', 'E', 24);
    assert.deepEqual(['a', 'c', 'd', 'e'].map((k) => memo.get(k)), [undefined, undefined, 'D', 'E']);
    // setting a key again replaces it without counting it twice
    memo.set('e', 'E2', 24);
    assert.deepEqual(['d', 'e'].map((k) => memo.get(k)), ['D', 'E2']);
  });

  it('keeps evicting the oldest entries as stores go on past the limit', () => {
    // room for five entries of 4 words
    const memo = new LruMemo<number>(5 * 20);
    const present = (keys: number[]) => keys.filter((k) => memo.get(`k${k}`) !== undefined);
    for (let i = 0; i < 1000; i++) {
      memo.set(`k${i}`, i, 4);
      if (i >= 4 && i % 97 === 0) assert.deepEqual(present([i - 5, i - 4, i - 3, i - 2, i - 1, i]), [i - 4, i - 3, i - 2, i - 1, i]);
    }
    // an entry used while in the older half moves to the young end and outlives two younger ones
    memo.get('k996'); // older half: moved
    memo.set('k1000', 1000, 4);
    memo.set('k1001', 1001, 4);
    memo.set('k1002', 1002, 4);
    assert.deepEqual(present([996, 997, 998, 999, 1000, 1001, 1002]), [996, 999, 1000, 1001, 1002]);
    // one entry over the limit alone is not kept, and the memo goes on working after it
    memo.set('big', -1, 200);
    assert.equal(memo.get('big'), undefined);
    memo.set('k1003', 1003, 4);
    assert.equal(memo.get('k1003'), 1003);
  });

  it('gives the core memo room for 6,000 masks of the largest vocabulary a matcher used, up to 128 MB', () => {
    const rt = new GrammarRuntime(loadGrammar('json')); // (a runtime of its own: no other test's matchers)
    const before = rt.coreMemo.capacity;
    assert.equal(before, 6_000_000);
    rt.fitVocabulary(4096); // (small masks: the floor holds far more than 6,000)
    assert.equal(rt.coreMemo.capacity, before);
    rt.fitVocabulary(128_256);
    assert.equal(rt.coreMemo.capacity, 6000 * 4008);
    rt.fitVocabulary(32_000);
    assert.equal(rt.coreMemo.capacity, 6000 * 4008, 'a smaller vocabulary leaves the room as it is');
    rt.fitVocabulary(262_144);
    assert.equal(rt.coreMemo.capacity, 32_000_000);
  });

  it('holds equal arrays once, and a memo over them counts each once and lets it go with its last holder', () => {
    const store = new ArrayStore();
    const a = store.intern(Uint32Array.of(1, 2, 3), true);
    const b = store.intern(Uint32Array.of(1, 2, 3), true);
    assert.equal(b, a);
    assert.equal(a.refs, 2);
    assert.equal(store.words, 3);
    const c = store.intern(Int32Array.of(1, 2, 3), false); // (another type: another array)
    assert.notEqual(c, a);
    assert.equal(store.words, 6);
    store.release(a);
    assert.equal(store.words, 6);
    store.release(b);
    assert.equal(store.words, 3);
    // entries cost 16 words of their own here; the limit fits two of them and 18 shared words
    const memo = new LruMemo<{ held: Held[] }>(2 * 16 + 18, store);
    const entry = (values: number[]) => ({ held: [store.intern(Uint32Array.from(values), true)] });
    memo.set('x', entry([1, 2, 3, 4, 5, 6, 7, 8]), 0);
    memo.set('y', entry([1, 2, 3, 4, 5, 6, 7, 8]), 0); // the same array: 3 + 8 shared words
    assert.equal(memo.size, 2 * 16 + 11);
    assert.equal(memo.entries, 2);
    memo.set('z', entry([9, 9, 9, 9, 9, 9, 9, 9]), 0); // 3 + 16 shared words: x goes (its array stays for y), then y
    assert.deepEqual(['x', 'y'].map((k) => memo.get(k)), [undefined, undefined]);
    assert.ok(memo.get('z'));
    assert.equal(store.words, 3 + 8);
    assert.equal(memo.size, 16 + 11);
  });
});
