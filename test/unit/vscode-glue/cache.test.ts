import { strict as assert } from 'node:assert';
import { CompletionCache } from '../../../src/vscode/completionCache';

describe('vscode-glue: CompletionCache', () => {
  const key = 'file:///a.py|{}';
  const prefix = 'import os\n\ndef main():\n    ret';
  const suffix = '\n\nmain()\n';

  it('returns the same completion at the same position', () => {
    const c = new CompletionCache();
    c.put(key, prefix, suffix, 0, 'urn os.getcwd()');
    assert.equal(c.get(key, prefix, suffix)?.text, 'urn os.getcwd()');
  });

  it('reuses a completion while the user types into it, and misses once they diverge', () => {
    const c = new CompletionCache();
    c.put(key, prefix, suffix, 0, 'urn os.getcwd()');
    assert.equal(c.get(key, prefix + 'urn o', suffix)?.text, 's.getcwd()');
    assert.equal(c.get(key, prefix + 'urn x', suffix), undefined);
    // Typing the whole suggestion leaves nothing to show: a miss, not an empty item.
    assert.equal(c.get(key, prefix + 'urn os.getcwd()', suffix), undefined);
  });

  it('anchors a healed completion before the re-spelled characters', () => {
    const c = new CompletionCache();
    // Healing re-spelled "ret" (3 chars): the text starts 3 characters before the cursor.
    c.put(key, prefix, suffix, 3, 'return os.getcwd()');
    assert.equal(c.get(key, prefix, suffix)?.text, 'urn os.getcwd()');
    assert.equal(c.get(key, prefix.slice(0, -1), suffix)?.text, 'turn os.getcwd()');
    assert.equal(c.get(key, prefix + 'urn ', suffix)?.text, 'os.getcwd()');
  });

  it('misses when the suffix, the key or the text before the anchor changed', () => {
    const c = new CompletionCache();
    c.put(key, prefix, suffix, 0, 'urn 1');
    assert.equal(c.get(key, prefix, '\nother()\n'), undefined);
    assert.equal(c.get('file:///b.py|{}', prefix, suffix), undefined);
    assert.equal(c.get(key, prefix.replace('import os', 'import sy'), suffix), undefined);
  });

  it('evicts the least recently used entry beyond its capacity', () => {
    const c = new CompletionCache(2);
    c.put(key, 'a = ', '', 0, '1');
    c.put(key, 'b = ', '', 0, '2');
    assert.ok(c.get(key, 'a = ', '')); // a becomes most recent
    c.put(key, 'c = ', '', 0, '3');
    assert.equal(c.size, 2);
    assert.equal(c.get(key, 'b = ', ''), undefined);
    assert.equal(c.get(key, 'a = ', '')?.text, '1');
    assert.equal(c.get(key, 'c = ', '')?.text, '3');
  });
});
