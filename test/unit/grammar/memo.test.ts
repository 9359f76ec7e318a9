import { strict as assert } from 'node:assert';
import { LruMemo } from '../../../src/engine/grammar/runtime';

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
});
