// θ bookkeeping of the ASAp trie: Z minus the explored deficit, propagation to the root, the
// upper-bound property against exact c(u), memory-bound eviction, and the per-prompt store.
import { strict as assert } from 'node:assert';
import { AsapNode, AsapStore, AsapTrie, asapKey } from '../../../src/engine/decode/asap-trie';
import { EOS, ParenMatcher, ToyTokenizer, toyProbs } from './toy';

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-12, msg ?? `${a} ≠ ${b}`);

describe('ASAp trie: θ bookkeeping', () => {
  it('θ(u) = Z(u) − Σ_explored P(t|u)(1 − θ(u·t)), pushed to the root', () => {
    const trie = new AsapTrie({ maxNodes: 100 });
    const r = trie.root;
    assert.equal(r.theta, 1); // nothing known yet
    trie.expand(r, 0.8, () => NaN);
    trie.update(r);
    close(r.theta, 0.8);
    const a = trie.descend(r, 0, 0.5);
    trie.update(a);
    close(r.theta, 0.8, 'an unexpanded child counts as θ = 1');
    trie.expand(a, 0.4, () => NaN);
    trie.update(a);
    close(a.theta, 0.4);
    close(r.theta, 0.8 - 0.5 * 0.6);
    const b = trie.descend(r, 1, 0.3);
    trie.expand(b, 0, () => NaN); // a dead end
    trie.update(b);
    close(b.theta, 0);
    close(r.theta, 0.8 - 0.5 * 0.6 - 0.3);
    // θ only decreases as a grandchild learns more.
    const aa = trie.descend(a, 2, 0.25);
    trie.expand(aa, 0.5, () => NaN);
    trie.update(aa);
    close(a.theta, 0.4 - 0.25 * 0.5);
    close(r.theta, 0.8 - 0.5 * (1 - (0.4 - 0.125)) - 0.3);
    assert.equal(trie.nodeCount, 4);
  });

  it('children created by forced tokens before expansion count once their P is known', () => {
    const trie = new AsapTrie({ maxNodes: 100 });
    const r = trie.root;
    const c = trie.descend(r, 5, 0.9); // parent not expanded: P unknown
    assert.ok(Number.isNaN(c.p));
    trie.expand(c, 0.5, () => NaN);
    trie.update(c);
    assert.equal(r.theta, 1);
    trie.expand(r, 0.7, (t) => (t === 5 ? 0.2 : 0));
    trie.update(r);
    close(r.theta, 0.7 - 0.2 * 0.5);
  });

  it('θ(u) ≥ c(u) at every node after real sampling (an upper bound)', async () => {
    const tok = new ToyTokenizer();
    const trie = new AsapTrie({ maxNodes: 10_000 });
    // Sample with the exact law Q̃ by hand (the selector is tested end to end elsewhere).
    let seed = 1;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 300; i++) {
      const m = new ParenMatcher(tok);
      let node = trie.root;
      const u: number[] = [];
      for (;;) {
        const P = toyProbs(u);
        const allowed = P.map((p, t) => (p > 0 && (t === EOS ? m.isAccepting() : m.allows(t)) ? p : 0));
        if (!node.expanded) {
          trie.expand(node, allowed.reduce((a, b) => a + b, 0), (t) => P[t]!);
          trie.update(node);
        }
        const w = allowed.map((p, t) => p * node.childTheta(t));
        const total = w.reduce((a, b) => a + b, 0);
        if (total <= 0) break;
        let x = rand() * total;
        let t = 0;
        while (t < w.length - 1 && (x -= w[t]!) >= 0) t++;
        while (w[t] === 0) t--;
        if (t === EOS) break;
        m.consume(t);
        node = trie.descend(node, t, P[t]!);
        trie.update(node);
        u.push(t);
      }
    }
    let checked = 0;
    const visit = (n: AsapNode, u: number[], m: ParenMatcher) => {
      const c = exactC(u, m);
      assert.ok(n.theta >= c - 1e-12, `θ(${u}) = ${n.theta} < c = ${c}`);
      checked++;
      for (const [t, child] of n.children ?? []) {
        const snap = m.snapshot();
        m.consume(t);
        visit(child, [...u, t], m);
        m.restore(snap);
      }
    };
    visit(trie.root, [], new ParenMatcher(tok));
    assert.ok(checked > 20, `only ${checked} nodes`);
  });
});

/** c(u) = P(L | u) by enumeration. */
function exactC(u: number[], m: ParenMatcher): number {
  const P = toyProbs(u);
  let c = 0;
  for (let t = 0; t < P.length; t++) {
    if (P[t]! <= 0) continue;
    if (t === EOS) c += m.isAccepting() ? P[t]! : 0;
    else if (m.allows(t)) {
      const snap = m.snapshot();
      m.consume(t);
      c += P[t]! * exactC([...u, t], m);
      m.restore(snap);
    }
  }
  return c;
}

describe('ASAp trie: memory bound', () => {
  it('evicts least recently used leaves past maxNodes, never the current path, and loosens θ soundly', () => {
    const trie = new AsapTrie({ maxNodes: 6 });
    const r = trie.root;
    trie.expand(r, 1, () => NaN);
    trie.update(r);
    // Path 0: root → 0 → 0 → 0, each with Z = 0.5.
    let n = r;
    for (let d = 0; d < 3; d++) {
      n = trie.descend(n, 0, 0.5);
      trie.expand(n, 0.5, () => NaN);
      trie.update(n);
    }
    const thetaBefore = r.theta;
    assert.ok(thetaBefore < 1);
    // A second, longer path that needs room.
    let m = r;
    for (let d = 0; d < 4; d++) {
      m = trie.descend(m, 1, 0.25);
      trie.expand(m, 0.5, () => NaN);
      trie.update(m);
      assert.ok(trie.nodeCount <= 6, `count ${trie.nodeCount}`);
    }
    assert.ok(trie.evictions > 0);
    // The current path is intact.
    let k = m;
    let depth = 0;
    while (k.parent) {
      assert.equal(k.parent.children?.get(k.token), k);
      k = k.parent;
      depth++;
    }
    assert.equal(depth, 4);
    // Evicting forgot part of path 0: its term moved back toward θ = 1, never below truth.
    const child0 = r.children?.get(0);
    const path1Term = 0.25 * (1 - r.children!.get(1)!.theta);
    const path0Term = child0 ? 0.5 * (1 - child0.theta) : 0;
    close(r.theta, 1 - path0Term - path1Term);
  });

  it('AsapStore keeps one trie per key, bounded in count and total nodes', () => {
    const store = new AsapStore({ maxNodes: 1000, maxTries: 2 });
    const enc = new TextEncoder();
    const k = (p: string) => asapKey({ promptIds: [1, 2, 3], prefix: enc.encode(p), suffix: new Uint8Array(0), extra: 'T=1' });
    assert.notEqual(k('x = '), k('x ='));
    const t1 = store.get(k('a'));
    assert.equal(store.get(k('a')), t1, 'same prompt, same trie (reuse across keystrokes)');
    store.get(k('b'));
    store.get(k('c'));
    assert.equal(store.size, 2);
    assert.notEqual(store.get(k('a')), t1, 'the least recently used trie was dropped');
  });
});
