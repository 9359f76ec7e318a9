// The grammar modes' entry point for the engine: one `GrammarSession` per request (engine.ts)
// that feeds the prefix to the matcher once, chooses the suffix check once, and hands each
// candidate a selector — `MaskSelector` or `AlignedSelector` over a θ trie from the engine-wide
// `AsapStore`, so candidates of one infill and later keystrokes with the same prompt share it.
import type { GrammarMode, SuffixCheck } from '../api';
import type { Matcher, MatcherSnapshot, TokenizerLike } from '../interfaces';
import { AsapStore, AsapTrie, asapKey } from './asap-trie';
import { AlignedSelector, MaskSelector } from './grammar-select';
import { DEFAULT_SUFFIX_POLICY, preparePrefix, type LexState, type SuffixPlan, type SuffixPolicyOptions } from './grammar-suffix';
import { whitespaceRunGuard, DEFAULT_MAX_WHITESPACE_TOKENS } from './guards';
import type { StopCheck, TokenSelector } from './hooks';

export interface GrammarSessionInit {
  mode: Exclude<GrammarMode, 'off'>;
  /** A fresh matcher for the request's language (nothing consumed yet). */
  matcher: Matcher;
  tokenizer: TokenizerLike;
  /** All of the document before the cursor (healing's tail removed), untrimmed. */
  prefix: Uint8Array;
  /** All of the document after the cursor. */
  suffix: Uint8Array;
  /** `aligned`: the engine-wide store of θ tries. */
  store?: AsapStore;
  /**
   * `aligned`: what else P depends on besides prefix and suffix — prompt ids, language,
   * temperature, top-k/p, steering weights. Requests with equal keys share a trie.
   */
  keyParts?: { promptIds: readonly number[]; extra: string };
  policy?: SuffixPolicyOptions;
  /** Bound on consecutive whitespace-only tokens (guards.ts); 0 disables. */
  maxWhitespaceTokens?: number;
  /** See GrammarSelectorInit.endPressureAt (default DEFAULT_END_PRESSURE). */
  endPressureAt?: number;
  /** See GrammarSelectorInit.endAtLineBreak (the engine sets it for left-to-right prompts). */
  endAtLineBreak?: boolean;
}

/** Editor default: in the last quarter of the token budget, end as soon as the grammar allows. */
export const DEFAULT_END_PRESSURE = 0.75;

/**
 * Grammar state of one request. `active` is false when the prefix itself is not a viable
 * program prefix (the file is broken before the cursor): the engine should decode without a
 * grammar then, and report suffixCheck 'none'.
 */
export class GrammarSession {
  readonly active: boolean;
  readonly plan: SuffixPlan;
  /** The matcher after the prefix; selectors and the healer restore it as they need. */
  readonly matcher?: Matcher;
  private readonly atPrefix: MatcherSnapshot | null;
  private readonly trieKey: string | null;
  /** Lexical state at the end of the prefix (what is open there). */
  private readonly lex?: LexState;

  constructor(private readonly init: GrammarSessionInit) {
    const prepared = preparePrefix(init.matcher, init.prefix, init.suffix, init.policy ?? DEFAULT_SUFFIX_POLICY);
    this.active = prepared.matcher !== null;
    this.plan = prepared.plan;
    this.matcher = prepared.matcher ?? undefined;
    this.atPrefix = prepared.matcher ? prepared.matcher.snapshot() : null;
    this.lex = prepared.lex;
    this.trieKey =
      init.mode === 'aligned' && init.store && init.keyParts
        ? asapKey({ promptIds: init.keyParts.promptIds, prefix: init.prefix, suffix: init.suffix, extra: `${init.keyParts.extra}|${this.plan.check}` })
        : null;
  }

  /** Which check decides where completions may end. */
  get suffixCheck(): SuffixCheck {
    return this.active ? this.plan.check : 'none';
  }

  /**
   * A selector for one candidate (candidates run one after another: each restores the shared
   * matcher to the prefix). Throws if the session is not active (`createGrammarSession`
   * returns null then).
   */
  newSelector(_index = 0): TokenSelector {
    if (!this.active || !this.matcher) throw new Error('GrammarSession.newSelector on an inactive session');
    this.matcher.restore(this.atPrefix);
    const base = { matcher: this.matcher, plan: this.plan, tokenizer: this.init.tokenizer, endPressureAt: this.init.endPressureAt ?? DEFAULT_END_PRESSURE,
      closerState: this.lex, endAtLineBreak: this.init.endAtLineBreak,
    };
    if (this.init.mode === 'aligned') {
      // Without a store the trie still serves the candidates of this request.
      const trie = this.init.store && this.trieKey ? this.init.store.get(this.trieKey) : (this.ownTrie ??= new AsapTrie({ maxNodes: 50_000 }));
      return new AlignedSelector({ ...base, trie });
    }
    return new MaskSelector(base);
  }
  private ownTrie?: AsapTrie;

  /** Extra stop rules of the grammar modes (the whitespace-run loop guard). */
  stopChecks(): StopCheck[] {
    const g = whitespaceRunGuard(this.init.tokenizer, this.init.maxWhitespaceTokens ?? DEFAULT_MAX_WHITESPACE_TOKENS);
    return g ? [g] : [];
  }

  dispose(): void {}
}

/**
 * The session for a request, or null when the grammar cannot serve it (the prefix is not a
 * viable program prefix: the file is broken before the cursor) — the engine then decodes
 * without constraints and reports suffixCheck 'none'.
 */
export function createGrammarSession(init: GrammarSessionInit): GrammarSession | null {
  const s = new GrammarSession(init);
  return s.active ? s : null;
}

/** What the grammar plugin needs from the engine's request context (engine.ts RequestContext). */
export interface GrammarRequest {
  readonly request: { readonly languageId: string };
  readonly options: { readonly grammar: GrammarMode; readonly temperature: number; readonly topP: number; readonly topK: number; readonly attributes: Record<string, number> };
  readonly prefix: Uint8Array;
  readonly suffix: Uint8Array;
  readonly tail: Uint8Array;
  readonly prompt: { readonly ids: readonly number[]; readonly layout?: string };
  readonly tokenizer: TokenizerLike;
}

/**
 * The engine's `EnginePlugins.grammar` seam: a session per request for languages that have a
 * matcher, sharing one `AsapStore` for the engine's lifetime (θ tries survive keystrokes while
 * the prompt is unchanged).
 * @param matcherFor a fresh matcher for a language id, or null when the language has no grammar.
 */
export function grammarPlugin(matcherFor: (languageId: string) => Matcher | null, store: AsapStore = new AsapStore()) {
  return (ctx: GrammarRequest): GrammarSession | null => {
    const mode = ctx.options.grammar;
    if (mode === 'off') return null;
    const matcher = matcherFor(ctx.request.languageId);
    if (!matcher) return null;
    const o = ctx.options;
    return createGrammarSession({
      mode,
      matcher,
      tokenizer: ctx.tokenizer,
      prefix: ctx.prefix,
      suffix: ctx.suffix,
      store,
      // a left-to-right prompt does not show the model the code after the cursor
      endAtLineBreak: ctx.prompt.layout === 'plain',
      keyParts: {
        promptIds: ctx.prompt.ids,
        extra: JSON.stringify([ctx.request.languageId, o.temperature, o.topP, o.topK, o.attributes, Array.from(ctx.tail)]),
      },
    });
  };
}
