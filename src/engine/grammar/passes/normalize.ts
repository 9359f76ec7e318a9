// Pass 2: tree-sitter rules → a context-free grammar over lexemes. SEQ/CHOICE/REPEAT/REPEAT1/BLANK
// become productions (helper nonterminals for nested choices and repetitions, left-recursive so
// Earley stays linear); FIELD, ALIAS and PREC* are dropped (they shape trees, not languages);
// STRING, PATTERN and TOKEN(...) become lexemes with their regex source. Rules whose whole body is
// a token (`identifier: /…/`, `comment: token(…)`) are lexemes named after the rule.
import { TrellisError } from '../../api';
import type { Rule } from '../types';
import type { TsGrammar, TsNode } from './read';
import { escapeLiteral, sanitizePattern } from './lexemes';

/** A lexeme before its DFA is built. */
export interface PendingTerminal {
  name: string;
  kind: 'regex' | 'external';
  immediate: boolean;
  prec: number;
  /** Regex source (u-mode JavaScript) for regex lexemes. */
  source: string;
  flags: string;
  /** The literal for STRING lexemes. */
  literal?: string;
  /** Rule that introduced it (for errors). */
  rule: string;
  /** Name of the lexical rule this terminal stands for (word clones share it). */
  ruleName?: string;
  reservedContext?: string;
}

export interface NormalizedGrammar {
  terminals: PendingTerminal[];
  nonterminals: string[];
  /** Symbol ids: terminal i is i; nonterminal j is FIRST_NT + j, remapped at the end. */
  rules: Rule[];
  start: number;
  extras: number[];
  word: number;
  externals: (number | -1)[];
  reserved: Record<string, string[]>;
}

const NT_BASE = 1 << 20;

function unwrap(n: TsNode): TsNode {
  while (n.type === 'PREC' || n.type === 'PREC_LEFT' || n.type === 'PREC_RIGHT' || n.type === 'PREC_DYNAMIC' || n.type === 'FIELD') n = n.content!;
  return n;
}

/** Outermost lexical precedence inside a token. */
function tokenPrec(n: TsNode): number {
  if (n.type === 'TOKEN' || n.type === 'IMMEDIATE_TOKEN' || n.type === 'FIELD') return n.content ? tokenPrec(n.content) : 0;
  if (n.type === 'PREC' || n.type === 'PREC_LEFT' || n.type === 'PREC_RIGHT') return typeof n.value === 'number' ? n.value : 0;
  return 0;
}

export function normalize(g: TsGrammar, file: string): NormalizedGrammar {
  const terminals: PendingTerminal[] = [];
  const termIds = new Map<string, number>();
  const nonterminals: string[] = [];
  const ntIds = new Map<string, number>();
  const rules: Rule[] = [];
  const helperMemo = new Map<string, number>();
  const externalNames = new Map<string, number>();
  const externals: (number | -1)[] = [];
  const reservedNames = Object.keys(g.reserved ?? {});
  const globalReserved = reservedNames[0];

  const where = (rule: string) => `${file}: rule "${rule}"`;

  const addTerminal = (key: string, t: PendingTerminal): number => {
    let id = termIds.get(key);
    if (id === undefined) { id = terminals.length; terminals.push(t); termIds.set(key, id); }
    return id;
  };
  const nt = (name: string): number => {
    let id = ntIds.get(name);
    if (id === undefined) { id = nonterminals.length; nonterminals.push(name); ntIds.set(name, id); }
    return NT_BASE + id;
  };

  /** Regex source of a token's content. */
  const toRegex = (n: TsNode, rule: string): string => {
    switch (n.type) {
      case 'STRING': return escapeLiteral(String(n.value));
      case 'PATTERN':
        if (n.flags && n.flags.replace(/[gu]/g, '') !== '') {
          if (n.flags.replace(/[gu]/g, '') === 'i') return `(?:${caseFold(sanitizePattern(String(n.value)))})`;
          throw new TrellisError(`${where(rule)}: regex flags "${n.flags}" are not supported`, 'grammar_invalid', file);
        }
        return `(?:${sanitizePattern(String(n.value))})`;
      case 'SEQ': return n.members!.map((m) => toRegex(m, rule)).join('');
      case 'CHOICE': return `(?:${n.members!.map((m) => toRegex(m, rule)).join('|')})`;
      case 'REPEAT': return `(?:${toRegex(n.content!, rule)})*`;
      case 'REPEAT1': return `(?:${toRegex(n.content!, rule)})+`;
      case 'BLANK': return '(?:)';
      case 'TOKEN': case 'IMMEDIATE_TOKEN': case 'PREC': case 'PREC_LEFT': case 'PREC_RIGHT':
      case 'PREC_DYNAMIC': case 'FIELD': case 'ALIAS': case 'RESERVED':
        return toRegex(n.content!, rule);
      case 'SYMBOL': {
        const body = g.rules[n.name!];
        if (!body) throw new TrellisError(`${where(rule)}: unknown symbol "${n.name}" inside a token`, 'grammar_invalid', file);
        return toRegex(body, n.name!);
      }
      default:
        throw new TrellisError(`${where(rule)}: node type ${n.type} is not supported inside a token`, 'grammar_invalid', file);
    }
  };

  const tokenTerminal = (n: TsNode, rule: string, immediate: boolean): number => {
    const source = toRegex(n, rule);
    const inner = unwrap(n.type === 'TOKEN' || n.type === 'IMMEDIATE_TOKEN' ? n.content! : n);
    const literal = inner.type === 'STRING' ? String(inner.value) : undefined;
    const name = literal !== undefined ? JSON.stringify(literal) : n.type === 'PATTERN' ? `/${n.value}/` : `token(${source.slice(0, 40)})`;
    return addTerminal(`x:${immediate}:${source}`, { name, kind: 'regex', immediate, prec: tokenPrec(n), source, flags: '', literal, rule });
  };

  const isLexicalRule = (name: string): boolean => {
    const b = unwrap(g.rules[name]);
    return b.type === 'TOKEN' || b.type === 'IMMEDIATE_TOKEN' || b.type === 'STRING' || b.type === 'PATTERN';
  };

  (g.externals ?? []).forEach((e, i) => {
    if (e.type === 'SYMBOL') externalNames.set(e.name!, i);
  });

  const lexicalRuleTerminal = (name: string, ctx: string | undefined): number => {
    const body = g.rules[name];
    const b = unwrap(body);
    const immediate = b.type === 'IMMEDIATE_TOKEN';
    const source = toRegex(b, name);
    const literal = b.type === 'STRING' ? String(b.value) : undefined;
    const useCtx = name === g.word ? (ctx ?? globalReserved) : undefined;
    const key = `r:${name}@${useCtx ?? ''}`;
    return addTerminal(key, { name: useCtx && useCtx !== globalReserved ? `${name}@${useCtx}` : name, kind: 'regex', immediate, prec: tokenPrec(b), source, flags: '', literal, rule: name, ruleName: name, reservedContext: useCtx });
  };

  const symbolRef = (name: string, rule: string, ctx: string | undefined): number => {
    if (externalNames.has(name) && !g.rules[name]) {
      return addTerminal(`e:${name}`, { name, kind: 'external', immediate: false, prec: 0, source: '', flags: '', rule: name });
    }
    if (!g.rules[name]) throw new TrellisError(`${where(rule)}: reference to undefined rule "${name}"`, 'grammar_invalid', file);
    if (isLexicalRule(name)) return lexicalRuleTerminal(name, ctx);
    return nt(name);
  };

  /** Symbols of a sequence; nested choices/repeats become helper nonterminals. */
  const seqOf = (n: TsNode, rule: string, ctx: string | undefined, out: number[]): void => {
    switch (n.type) {
      case 'SEQ': for (const m of n.members!) seqOf(m, rule, ctx, out); return;
      case 'BLANK': return;
      case 'STRING': case 'PATTERN': out.push(tokenTerminal(n, rule, false)); return;
      case 'TOKEN': out.push(tokenTerminal(n.content!, rule, false)); return;
      case 'IMMEDIATE_TOKEN': out.push(tokenTerminal(n.content!, rule, true)); return;
      case 'SYMBOL': out.push(symbolRef(n.name!, rule, ctx)); return;
      case 'PREC': case 'PREC_LEFT': case 'PREC_RIGHT': case 'PREC_DYNAMIC': case 'FIELD': case 'ALIAS':
        seqOf(n.content!, rule, ctx, out); return;
      case 'RESERVED': seqOf(n.content!, rule, n.context_name, out); return;
      case 'CHOICE': case 'REPEAT': case 'REPEAT1': out.push(helper(n, rule, ctx)); return;
      default:
        throw new TrellisError(`${where(rule)}: unsupported node type ${n.type}`, 'grammar_invalid', file);
    }
  };

  const alternatives = (n: TsNode, rule: string, ctx: string | undefined): number[][] => {
    n = unwrap(n);
    if (n.type === 'ALIAS') return alternatives(n.content!, rule, ctx);
    if (n.type === 'RESERVED') return alternatives(n.content!, rule, n.context_name);
    if (n.type === 'CHOICE') return n.members!.flatMap((m) => alternatives(m, rule, ctx));
    const out: number[] = [];
    seqOf(n, rule, ctx, out);
    return [out];
  };

  const helper = (n: TsNode, rule: string, ctx: string | undefined): number => {
    const key = JSON.stringify([ctx ?? '', n]);
    const memo = helperMemo.get(key);
    if (memo !== undefined) return memo;
    const id = nt(`${rule}~${helperMemo.size}`);
    helperMemo.set(key, id);
    if (n.type === 'CHOICE') {
      for (const alt of alternatives(n, rule, ctx)) rules.push({ lhs: id, rhs: alt });
    } else {
      for (const alt of alternatives(n.content!, rule, ctx)) {
        if (n.type === 'REPEAT1') rules.push({ lhs: id, rhs: alt });
        rules.push({ lhs: id, rhs: [id, ...alt] });
      }
      if (n.type === 'REPEAT') rules.push({ lhs: id, rhs: [] });
    }
    return id;
  };

  const ruleNames = Object.keys(g.rules);
  const startName = ruleNames[0];
  const augmented = nt('$start');
  rules.push({ lhs: augmented, rhs: [symbolRef(startName, startName, undefined)] });
  // Convert every rule reachable from the start (plus extras); unreachable rules are irrelevant.
  const done = new Set<string>();
  const queue: string[] = [];
  const enqueueRefs = () => {
    for (const name of ntIds.keys()) if (g.rules[name] && !done.has(name)) queue.push(name);
  };
  const extras: number[] = [];
  for (const e of g.extras ?? []) {
    let id: number;
    if (e.type === 'SYMBOL') id = symbolRef(e.name!, 'extras', undefined);
    else if (e.type === 'PATTERN') {
      // A bare pattern (whitespace) is a separator: a run of them is one lexeme, the same
      // sequence of extras to the parser, so the lexer loops through whitespace instead of
      // ending a lexeme at every byte (a mask walk then keeps `\n    ` inside one lexeme).
      const source = `(?:${toRegex(e, 'extras')})+`;
      id = addTerminal(`x:sep:${source}`, { name: `/${e.value}/`, kind: 'regex', immediate: false, prec: tokenPrec(e), source, flags: '', literal: undefined, rule: 'extras' });
    } else if (e.type === 'STRING' || e.type === 'TOKEN') id = tokenTerminal(e.type === 'TOKEN' ? e.content! : e, 'extras', false);
    else throw new TrellisError(`${file}: extras entry of type ${e.type} is not supported`, 'grammar_invalid', file);
    if (id >= NT_BASE) throw new TrellisError(`${file}: extra "${e.name}" is a non-lexical rule, which Trellis does not support`, 'grammar_invalid', file);
    extras.push(id);
  }
  enqueueRefs();
  while (queue.length) {
    const name = queue.pop()!;
    if (done.has(name)) continue;
    done.add(name);
    const id = ntIds.get(name)! + NT_BASE;
    for (const alt of alternatives(g.rules[name], name, undefined)) rules.push({ lhs: id, rhs: alt });
    enqueueRefs();
  }
  // External tokens: by position in `externals`.
  (g.externals ?? []).forEach((e) => {
    if (e.type === 'SYMBOL') {
      const key = `e:${e.name}`;
      externals.push(termIds.get(key) ?? (g.rules[e.name!] ? -1 : addTerminal(key, { name: e.name!, kind: 'external', immediate: false, prec: 0, source: '', flags: '', rule: e.name! })));
    } else if (e.type === 'STRING') {
      // a STRING external is the ordinary literal lexeme (the scanner only reports its validity)
      externals.push(termIds.get(`x:false:${escapeLiteral(String(e.value))}`) ?? -1);
    } else externals.push(-1);
  });
  const word = g.word ? (isLexicalRule(g.word) ? lexicalRuleTerminal(g.word, undefined) : -1) : -1;
  const reserved: Record<string, string[]> = {};
  for (const [ctx, list] of Object.entries(g.reserved ?? {})) {
    reserved[ctx] = list.filter((n) => n.type === 'STRING').map((n) => String(n.value));
  }
  // Remap nonterminal ids to follow the terminals.
  const T = terminals.length;
  const map = (s: number) => (s >= NT_BASE ? s - NT_BASE + T : s);
  return {
    terminals,
    nonterminals,
    rules: rules.map((r) => ({ lhs: map(r.lhs), rhs: r.rhs.map(map) })),
    start: map(augmented),
    extras,
    word,
    externals,
    reserved,
  };
}

/** Case-insensitive version of a pattern (ASCII letters outside classes and escapes). */
function caseFold(src: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '\\') { out += ch + (src[i + 1] ?? ''); i++; continue; }
    if (ch === '[') inClass = true;
    else if (ch === ']') inClass = false;
    if (/[a-zA-Z]/.test(ch)) out += inClass ? ch.toLowerCase() + ch.toUpperCase() : `[${ch.toLowerCase()}${ch.toUpperCase()}]`;
    else out += ch;
  }
  return out;
}
