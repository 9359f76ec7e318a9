// Attribute labels of code, for evaluating steering (owns: the run-time port of
// tools/train/label_attrs.py). The SAME rules label the GeDi training data (Python `ast`) and the
// generated completions here (tree-sitter, which also copes with unfinished code);
// test/unit/steering/labels.test.ts checks that both agree on real files.
// A new attribute = one entry in a labeller's `predicates`; a new language = one new labeller.
import * as path from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { TrellisError } from '../api';

/** One top-level function or method of a top-level class, with its attribute labels. */
export interface LabelledUnit {
  name: string;
  qualname: string;
  /** 1-based line of `def` (after decorators). */
  startLine: number;
  /** 1-based line of the last non-comment token of the body. */
  endLine: number;
  labels: Record<string, boolean>;
}

/** Labels the function units of source text in one language. */
export interface AttributeLabeller {
  readonly languageId: string;
  /** Attribute names this labeller can decide. */
  readonly attributes: readonly string[];
  label(source: string): LabelledUnit[];
  dispose(): void;
}

// ---- the rules of `safe` (mirror of label_attrs.py: keep both in sync) ----
const UNSAFE_CALLS = new Set([
  'eval', 'exec', 'builtins.eval', 'builtins.exec',
  'os.system', 'os.popen', 'os.popen2', 'os.popen3', 'os.popen4',
  'pickle.loads', 'pickle.load', 'cPickle.loads', 'cPickle.load', '_pickle.loads', '_pickle.load',
  'dill.loads', 'dill.load', 'marshal.loads', 'marshal.load', 'shelve.open',
  'yaml.unsafe_load', 'yaml.unsafe_load_all',
  'subprocess.getoutput', 'subprocess.getstatusoutput', 'commands.getoutput',
  'commands.getstatusoutput', 'pty.spawn', 'tempfile.mktemp',
]);
const UNSAFE_CALL_RE = /^os\.(exec[lv]p?e?|spawn[lv]p?e?)$/;
const SHELL_CALLEES = new Set(['call', 'check_call', 'check_output', 'run', 'Popen']);
const YAML_LOADS = new Set(['yaml.load', 'yaml.load_all']);
const DYNAMIC_IMPORTS = new Set(['__import__', 'importlib.import_module']);

/** `a.b.c` for identifier/attribute chains (parentheses dropped, as `ast` does); else null. */
function dottedName(node: Node | null): string | null {
  if (!node) return null;
  if (node.type === 'identifier') return node.text;
  if (node.type === 'parenthesized_expression') {
    const inner = node.namedChildren.filter((c) => c && c.type !== 'comment');
    return inner.length === 1 ? dottedName(inner[0]) : null;
  }
  if (node.type === 'attribute') {
    const obj = dottedName(node.childForFieldName('object'));
    const attr = node.childForFieldName('attribute');
    return obj !== null && attr ? `${obj}.${attr.text}` : null;
  }
  return null;
}

/** String literal prefix letters (`rb`, `f`, …) of a `string` node, lower-cased. */
function stringPrefix(s: Node): string {
  const start = s.namedChildren.find((c) => c?.type === 'string_start');
  return (start?.text ?? '').replace(/["']/g, '').toLowerCase();
}

/** A literal `str` as `ast.Constant` sees it: no f-string, no bytes, no interpolation. */
function isLiteralString(node: Node | null): boolean {
  if (!node) return false;
  const parts = node.type === 'concatenated_string' ? node.namedChildren : node.type === 'string' ? [node] : [];
  if (parts.length === 0) return false;
  return parts.every((p) => {
    if (!p || p.type !== 'string') return false;
    const prefix = stringPrefix(p);
    return !prefix.includes('f') && !prefix.includes('b') && !p.namedChildren.some((c) => c?.type === 'interpolation');
  });
}

function callArguments(call: Node): { positional: Node[]; keywords: Map<string, Node> } {
  const positional: Node[] = [];
  const keywords = new Map<string, Node>();
  const args = call.childForFieldName('arguments');
  if (!args) return { positional, keywords };
  if (args.type === 'generator_expression') return { positional: [args], keywords };
  for (const c of args.namedChildren) {
    if (!c || c.type === 'comment' || c.type === 'dictionary_splat') continue;
    if (c.type === 'keyword_argument') {
      const name = c.childForFieldName('name');
      const value = c.childForFieldName('value');
      if (name && value) keywords.set(name.text, value);
    } else {
      positional.push(c);
    }
  }
  return { positional, keywords };
}

/** Why a call is unsafe, or null (label_attrs.unsafe_call). */
export function unsafeCallReason(call: Node): string | null {
  const name = dottedName(call.childForFieldName('function'));
  if (name === null) return null;
  if (UNSAFE_CALLS.has(name) || UNSAFE_CALL_RE.test(name)) return name;
  const last = name.slice(name.lastIndexOf('.') + 1);
  const { positional, keywords } = callArguments(call);
  if (name.startsWith('subprocess.') || SHELL_CALLEES.has(last)) {
    if (keywords.get('shell')?.type === 'true') return `${name}(shell=True)`;
  }
  if (YAML_LOADS.has(name)) {
    const loader = keywords.get('Loader') ?? positional[1] ?? null;
    const loaderName = dottedName(loader);
    if (loaderName === null || !loaderName.slice(loaderName.lastIndexOf('.') + 1).includes('Safe')) {
      return `${name} without SafeLoader`;
    }
  }
  if (DYNAMIC_IMPORTS.has(name) && !isLiteralString(positional[0] ?? null)) return `${name}(<dynamic>)`;
  return null;
}

/** Last row (0-based) of a non-comment token under `node`: where `ast` ends a statement list. */
function lastCodeRow(node: Node): number {
  let n: Node = node;
  for (;;) {
    const kids = n.children.filter((c): c is Node => !!c && c.type !== 'comment' && c.endIndex > c.startIndex);
    if (kids.length === 0) return n.endPosition.row;
    n = kids[kids.length - 1];
  }
}

interface PyUnit {
  fn: Node;
  name: string;
  qualname: string;
  startRow: number;
  endRow: number;
  commentRows: ReadonlySet<number>;
}

type Predicate = (u: PyUnit) => boolean;

const PARAM_NAME_TYPES = new Set(['identifier', 'typed_parameter', 'default_parameter', 'typed_default_parameter']);

function paramName(p: Node): string | null {
  if (p.type === 'identifier') return p.text;
  if (p.type === 'default_parameter' || p.type === 'typed_default_parameter') return p.childForFieldName('name')?.text ?? null;
  if (p.type === 'typed_parameter') {
    const inner = p.namedChildren.find((c) => c && c.type !== 'type');
    return inner?.type === 'identifier' ? inner.text : null;
  }
  return null;
}

/** The Python predicates (label_attrs.PythonLabeller). */
const PYTHON_PREDICATES: Record<string, Predicate> = {
  documented(u) {
    const body = u.fn.childForFieldName('body');
    const first = body?.namedChildren.find((c) => c && c.type !== 'comment');
    if (first?.type === 'expression_statement') {
      const kids = first.namedChildren.filter((c) => c && c.type !== 'comment');
      if (kids.length === 1 && isLiteralString(kids[0])) return true;
    }
    for (const r of u.commentRows) if (r >= u.startRow && r <= u.endRow) return true;
    return false;
  },
  typed(u) {
    if (!u.fn.childForFieldName('return_type')) return false;
    const params = u.fn.childForFieldName('parameters');
    const list = (params?.namedChildren ?? []).filter(
      (c): c is Node => !!c && c.type !== 'comment' && c.type !== 'keyword_separator' && c.type !== 'positional_separator',
    );
    let i = 0;
    if (list.length > 0 && PARAM_NAME_TYPES.has(list[0].type)) {
      const n = paramName(list[0]);
      if (n === 'self' || n === 'cls') i = 1;
    }
    for (; i < list.length; i++) {
      const t = list[i].type;
      if (t !== 'typed_parameter' && t !== 'typed_default_parameter') return false;
    }
    return true;
  },
  safe(u) {
    for (const call of u.fn.descendantsOfType('call')) if (call && unsafeCallReason(call) !== null) return false;
    return true;
  },
};

let parserInit: Promise<void> | null = null;

/** Resolves a file inside an installed npm package (a loader: it only computes the path). */
function packageFile(pkg: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
}

/** Python labeller over tree-sitter-python (the grammar's prebuilt .wasm from node_modules). */
export class PythonAttributeLabeller implements AttributeLabeller {
  readonly languageId = 'python';
  readonly attributes = Object.keys(PYTHON_PREDICATES);

  private constructor(private readonly parser: Parser) {}

  /** Loads web-tree-sitter and tree-sitter-python (once per process for the runtime). */
  static async load(): Promise<PythonAttributeLabeller> {
    let wasm: string;
    try {
      wasm = packageFile('tree-sitter-python', 'tree-sitter-python.wasm');
    } catch {
      throw new TrellisError(
        'tree-sitter-python is not installed: run `npm ci` (its tree-sitter-python.wasm labels Python attributes)',
        'model_missing_file',
        'node_modules/tree-sitter-python/tree-sitter-python.wasm',
      );
    }
    parserInit ??= Parser.init();
    await parserInit;
    const lang = await Language.load(wasm);
    const parser = new Parser();
    parser.setLanguage(lang);
    return new PythonAttributeLabeller(parser);
  }

  label(source: string): LabelledUnit[] {
    const tree = this.parser.parse(source);
    if (!tree) return [];
    try {
      const root = tree.rootNode;
      const commentRows = new Set<number>();
      for (const c of root.descendantsOfType('comment')) if (c) commentRows.add(c.startPosition.row);
      const units: PyUnit[] = [];
      const add = (fn: Node, qual: string): void => {
        const name = fn.childForFieldName('name')?.text ?? '';
        const body = fn.childForFieldName('body');
        const endRow = body ? lastCodeRow(body) : fn.endPosition.row;
        units.push({ fn, name, qualname: qual ? `${qual}.${name}` : name, startRow: fn.startPosition.row, endRow, commentRows });
      };
      const definition = (n: Node): Node | null => (n.type === 'decorated_definition' ? n.childForFieldName('definition') : n);
      for (const top of root.namedChildren) {
        const d = top && definition(top);
        if (!d) continue;
        if (d.type === 'function_definition') add(d, '');
        else if (d.type === 'class_definition') {
          const cname = d.childForFieldName('name')?.text ?? '';
          for (const item of d.childForFieldName('body')?.namedChildren ?? []) {
            const m = item && definition(item);
            if (m?.type === 'function_definition') add(m, cname);
          }
        }
      }
      return units.map((u) => {
        const labels: Record<string, boolean> = {};
        for (const [k, p] of Object.entries(PYTHON_PREDICATES)) labels[k] = p(u);
        return { name: u.name, qualname: u.qualname, startLine: u.startRow + 1, endLine: u.endRow + 1, labels };
      });
    } finally {
      tree.delete();
    }
  }

  dispose(): void {
    this.parser.delete();
  }
}

const LABELLERS: Record<string, () => Promise<AttributeLabeller>> = {
  python: () => PythonAttributeLabeller.load(),
};

/** The labeller of a VS Code language id. */
export async function loadLabeller(languageId: string): Promise<AttributeLabeller> {
  const make = LABELLERS[languageId];
  if (!make) {
    throw new TrellisError(
      `no attribute labeller for language '${languageId}' (known: ${Object.keys(LABELLERS).join(', ')})`,
      'grammar_unknown_language',
    );
  }
  return make();
}

/**
 * The function a completion wrote, as text a labeller can parse: the `def` line's start (from the
 * prompt) plus the completion, cut where the function ends (first non-blank line indented at or
 * left of the `def`), then dedented so a method parses as a top-level function.
 */
export function completedFunctionText(defLinePrefix: string, completion: string): string {
  const indent = /^[ \t]*/.exec(defLinePrefix)![0];
  const lines = (defLinePrefix + completion).split('\n');
  const kept: string[] = [lines[0]];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    if (l.trim() !== '') {
      const li = /^[ \t]*/.exec(l)![0];
      if (li.length <= indent.length && !l.trimStart().startsWith(')')) break;
    }
    kept.push(l);
  }
  const text = kept.map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart())).join('\n');
  return closeOpenBrackets(text.replace(/\s+$/, '')) + '\n';
}

/**
 * Closes the string and brackets a completion cut at max tokens left open, so that a call being
 * written (`pickle.loads(f.read(`) still parses as a call. Comments and string contents are skipped.
 */
export function closeOpenBrackets(text: string): string {
  const stack: string[] = [];
  const pairs: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote !== null) {
      if (ch === '\\') i++;
      else if (text.startsWith(quote, i)) {
        i += quote.length - 1;
        quote = null;
      } else if (ch === '\n' && quote.length === 1) quote = null;
      continue;
    }
    if (ch === '#') {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
    } else if (ch === '"' || ch === "'") {
      quote = text.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
      i += quote.length - 1;
    } else if (pairs[ch]) stack.push(pairs[ch]);
    else if (ch === ')' || ch === ']' || ch === '}') {
      if (stack[stack.length - 1] === ch) stack.pop();
    }
  }
  return text + (quote ?? '') + stack.reverse().join('');
}
