// The ASAp trie (algorithms.md §2; Park et al., NeurIPS 2024): upper bounds θ(u) on the expected
// future grammaticality c(u) of every sampled token prefix u, shared by all samples drawn from
// one prompt. Owns the θ bookkeeping, its propagation to the root, the node-count memory bound
// with LRU eviction, and the per-prompt store that keeps tries alive across keystrokes.
//
// Storage is sparse: a node holds Z(u) = Σ_{t allowed} P(t|u) and only the children that some
// sample actually visited. With D(u) = Σ_{explored t} P(t|u)·(1 − θ(u·t)),
//   θ(u) = Z(u) − D(u)   (expanded nodes),   θ(u) = 1   (never expanded: nothing known).
// Never one object per allowed token: an unexplored allowed child has θ = 1 implicitly.
import { createHash } from 'node:crypto';

/** One token prefix u. Internal to the ASAp selector; fields are read-only outside this module. */
export class AsapNode {
  /** Z(u): mass of allowed next tokens under P(·|u); NaN until the node is expanded. */
  z = NaN;
  /** D(u) = Σ over accounted children of P(t|u)·(1 − θ(u·t)). */
  deficit = 0;
  /** P(token|parent), NaN while unknown (node reached by a forced token before its parent was expanded). */
  p = NaN;
  /** The θ value of this node currently included in the parent's deficit (1 = not included). */
  reported = 1;
  children: Map<number, AsapNode> | null = null;
  // Intrusive LRU list (most recent at the head).
  prev: AsapNode | null = null;
  next: AsapNode | null = null;

  constructor(
    readonly parent: AsapNode | null,
    readonly token: number,
  ) {}

  get expanded(): boolean {
    return !Number.isNaN(this.z);
  }

  /** θ(u), the upper bound on c(u); in [0, 1]. */
  get theta(): number {
    if (!this.expanded) return 1;
    const t = this.z - this.deficit;
    // Float drift: a fully explored dead subtree may come out as −1e−17.
    return t <= 1e-12 ? 0 : t >= 1 ? 1 : t;
  }

  /** θ of child `token` (1 when never explored). */
  childTheta(token: number): number {
    const c = this.children?.get(token);
    return c ? c.theta : 1;
  }
}

export interface AsapTrieOptions {
  /** Node-count bound; least recently used leaves are evicted past it. */
  maxNodes: number;
}

/**
 * θ trie for one prompt. All mutation goes through `expand`, `descend` and `update`; every method
 * is O(depth) or O(children of one node), never O(vocabulary).
 */
export class AsapTrie {
  readonly root = new AsapNode(null, -1);
  private count = 1;
  private head: AsapNode | null = null;
  private tail: AsapNode | null = null;
  /** Nodes evicted so far (for stats and tests). */
  evictions = 0;

  constructor(readonly options: AsapTrieOptions) {
    this.link(this.root);
  }

  get nodeCount(): number {
    return this.count;
  }

  /**
   * First visit of `node`: record Z(u) and the probabilities of children already created by
   * forced tokens, so that their θ counts. Cost: O(existing children).
   * @param prob P(t|u) for any t (the same law Z was computed from).
   */
  expand(node: AsapNode, z: number, prob: (token: number) => number): void {
    if (node.expanded) return;
    node.z = z;
    if (node.children) {
      for (const c of node.children.values()) {
        c.p = prob(c.token);
        c.reported = 1;
      }
      for (const c of node.children.values()) this.report(c);
    }
  }

  /** The child u·t, created on first use with P(t|u) = `p` (NaN when unknown). */
  descend(node: AsapNode, token: number, p: number): AsapNode {
    let c = node.children?.get(token);
    if (!c) {
      c = new AsapNode(node, token);
      c.p = node.expanded ? p : NaN;
      (node.children ??= new Map()).set(token, c);
      this.count++;
      this.link(c);
    } else if (Number.isNaN(c.p) && node.expanded && !Number.isNaN(p)) {
      c.p = p;
    }
    return c;
  }

  /**
   * Fills P(t|u) of children created by forced tokens after `node` was expanded (O(children)).
   */
  learnProbabilities(node: AsapNode, prob: (token: number) => number): void {
    if (!node.expanded || !node.children) return;
    let changed = false;
    for (const c of node.children.values()) {
      if (Number.isNaN(c.p)) {
        c.p = prob(c.token);
        c.reported = 1;
        this.report(c);
        changed = true;
      }
    }
    if (changed) this.update(node);
  }

  /**
   * θ(node) may have changed (expanded, or a new child): push the change from `node` to the
   * root, mark the path most recently used, then evict past the memory bound (never a node on
   * this path). O(depth) plus the evictions.
   */
  update(node: AsapNode): void {
    for (let n: AsapNode | null = node; n; n = n.parent) this.report(n);
    for (let n: AsapNode | null = node; n; n = n.parent) this.touch(n);
    this.evict(node);
  }

  /** Updates the parent's deficit with this node's current θ (one step, no recursion). */
  private report(n: AsapNode): void {
    const parent = n.parent;
    if (!parent || !parent.expanded || Number.isNaN(n.p)) return;
    const theta = n.theta;
    if (theta !== n.reported) {
      parent.deficit += n.p * (n.reported - theta);
      n.reported = theta;
    }
  }

  /**
   * Drops least recently used leaves until the bound holds. Dropping a child forgets what was
   * learnt below it: its term leaves the parent's deficit (θ goes back up, still an upper bound)
   * and the change is pushed to the root.
   */
  private evict(keep: AsapNode): void {
    const onPath = new Set<AsapNode>();
    for (let n: AsapNode | null = keep; n; n = n.parent) onPath.add(n);
    while (this.count > this.options.maxNodes && this.tail && !onPath.has(this.tail)) {
      const victim = this.tail;
      // Touching a path leaf-to-root keeps every node more recent than its descendants, so the
      // least recent node is a leaf; guard anyway.
      if (victim.children && victim.children.size > 0) {
        this.unlink(victim);
        this.linkTail(victim);
        let leaf = victim;
        while (leaf.children && leaf.children.size > 0) leaf = leaf.children.values().next().value as AsapNode;
        if (onPath.has(leaf)) break;
        this.remove(leaf);
      } else {
        this.remove(victim);
      }
    }
  }

  private remove(leaf: AsapNode): void {
    const parent = leaf.parent!;
    if (parent.expanded && !Number.isNaN(leaf.p)) parent.deficit -= leaf.p * (1 - leaf.reported);
    parent.children!.delete(leaf.token);
    if (parent.children!.size === 0) parent.children = null;
    this.unlink(leaf);
    this.count--;
    this.evictions++;
    for (let n: AsapNode | null = parent; n; n = n.parent) this.report(n);
  }

  private link(n: AsapNode): void {
    n.prev = null;
    n.next = this.head;
    if (this.head) this.head.prev = n;
    this.head = n;
    if (!this.tail) this.tail = n;
  }

  private linkTail(n: AsapNode): void {
    n.next = null;
    n.prev = this.tail;
    if (this.tail) this.tail.next = n;
    this.tail = n;
    if (!this.head) this.head = n;
  }

  private unlink(n: AsapNode): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = n.next = null;
  }

  private touch(n: AsapNode): void {
    if (this.head === n) return;
    this.unlink(n);
    this.link(n);
  }
}

export interface AsapStoreOptions {
  /** Node bound over all tries together. */
  maxNodes: number;
  /** Tries kept (one per prompt); the least recently used is dropped first. */
  maxTries: number;
}

/**
 * Keeps θ tries across the candidates of one infill and across keystrokes while the prompt is
 * unchanged. The key must identify everything P and the grammar depend on (prompt ids, prefix
 * and suffix bytes, language, temperature, processors); see `asapKey`.
 */
export class AsapStore {
  private readonly tries = new Map<string, AsapTrie>();

  constructor(readonly options: AsapStoreOptions = { maxNodes: 200_000, maxTries: 8 }) {}

  /** The trie for `key`, created empty on first use; marks it most recently used. */
  get(key: string): AsapTrie {
    let t = this.tries.get(key);
    if (t) {
      this.tries.delete(key);
    } else {
      t = new AsapTrie({ maxNodes: this.options.maxNodes });
    }
    this.tries.set(key, t);
    while (this.tries.size > this.options.maxTries) this.tries.delete(this.tries.keys().next().value as string);
    // Each trie may use the whole node bound while it is current; older ones are dropped first.
    let total = 0;
    for (const tr of this.tries.values()) total += tr.nodeCount;
    while (total > this.options.maxNodes && this.tries.size > 1) {
      const oldest = this.tries.keys().next().value as string;
      total -= this.tries.get(oldest)!.nodeCount;
      this.tries.delete(oldest);
    }
    return t;
  }

  get size(): number {
    return this.tries.size;
  }

  clear(): void {
    this.tries.clear();
  }
}

/**
 * SHA-256 of everything the trie depends on, as hex. A collision would hand one prompt another
 * prompt's bounds, so the hash is cryptographic rather than fast; it runs once per request.
 */
export function asapKey(parts: { promptIds: readonly number[]; prefix: Uint8Array; suffix: Uint8Array; extra: string }): string {
  const h = createHash('sha256');
  h.update(Int32Array.from(parts.promptIds));
  h.update(`|${parts.prefix.length}|`);
  h.update(parts.prefix);
  h.update(`|${parts.suffix.length}|`);
  h.update(parts.suffix);
  h.update(`|${parts.extra}`);
  return h.digest('hex');
}
