// `trellis grammar check <file|dir...>`: runs the grammar engine over real files and says, per
// file, whether it is accepted and the byte offset where its prefix stops being viable. With
// --tree-sitter it compares with tree-sitter (web-tree-sitter + the grammar package's .wasm):
// soundness counts over files tree-sitter parses without ERROR/MISSING nodes, and with
// --mutations K, precision on K one-token mutations per file that tree-sitter rejects.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { type Command, UsageError } from '../command';
import { TrellisError } from '../../engine/api';
import { loadGrammar, createMatcher, grammarLanguages } from '../../engine/grammar';
import type { GrammarMatcher } from '../../engine/grammar/matcher';
import type { TokenizerLike } from '../../engine/interfaces';
import { findPackageFile } from '../../engine/grammar/load';
import { mulberry32 } from '../../engine/decode/rng';

const EXTENSIONS: Record<string, string> = {
  '.py': 'python', '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.jsx': 'javascriptreact',
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript', '.tsx': 'typescriptreact', '.json': 'json',
};
const WASM: Record<string, [string, string]> = {
  python: ['tree-sitter-python', 'tree-sitter-python.wasm'],
  javascript: ['tree-sitter-javascript', 'tree-sitter-javascript.wasm'],
  javascriptreact: ['tree-sitter-javascript', 'tree-sitter-javascript.wasm'],
  typescript: ['tree-sitter-typescript', 'tree-sitter-typescript.wasm'],
  typescriptreact: ['tree-sitter-typescript', 'tree-sitter-tsx.wasm'],
  json: ['tree-sitter-json', 'tree-sitter-json.wasm'],
};

/** A tokenizer of single bytes: the matcher API without a model vocabulary. */
export const BYTE_TOKENIZER: TokenizerLike = {
  vocabSize: 256,
  encodeBytes: (b) => [...b],
  tokenBytes: (i) => Uint8Array.of(i),
  decodeBytes: (ids) => Uint8Array.from(ids),
  specialTokenId: () => undefined,
  isSpecial: () => false,
  preTokenizeBoundaries: (b) => [0, b.length],
};

export interface FileVerdict {
  file: string;
  language: string;
  bytes: number;
  accepted: boolean;
  /** Byte offset of the first byte that makes the prefix non-viable (null: every prefix viable). */
  deadAt: number | null;
  /** tree-sitter found ERROR/MISSING nodes (undefined without --tree-sitter). */
  treeSitterError?: boolean;
  ms: number;
}

function listFiles(inputs: string[], language: string | undefined): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p).sort()) {
        if (e === 'node_modules' && inputs.length > 0 && !inputs.some((i) => i.includes('node_modules'))) continue;
        visit(path.join(p, e));
      }
    } else if (st.isFile()) {
      const lang = EXTENSIONS[path.extname(p)];
      if (lang && (!language || lang === language || (language === 'typescript' && lang === 'typescript'))) out.push(p);
    }
  };
  for (const i of inputs) {
    if (!fs.existsSync(i)) throw new UsageError(`no such file or folder: ${i}`);
    visit(i);
  }
  return out;
}


/** Runs the engine over one text: accepted, and where the prefix dies. */
export function checkBytes(matcher: GrammarMatcher, bytes: Uint8Array): { accepted: boolean; deadAt: number | null } {
  const n = matcher.consumeViable(bytes);
  if (n < bytes.length) return { accepted: false, deadAt: n };
  return { accepted: matcher.isAccepting(), deadAt: null };
}

interface TsParser { parse(text: string): { rootNode: TsNode; delete(): void } }
interface TsNode { hasError: boolean; childCount: number; child(i: number): TsNode | null; startIndex: number; endIndex: number; type: string }

export async function treeSitterParser(language: string): Promise<TsParser> {
  const [pkg, wasm] = WASM[language];
  const file = findPackageFile(pkg, wasm);
  if (!file) throw new TrellisError(`tree-sitter reference for ${language} not found: install ${pkg}`, 'grammar_invalid');
  // web-tree-sitter is only used to validate the engine, never at completion time.
  const ts = require('web-tree-sitter') as { Parser: { init(): Promise<void>; new (): TsParser & { setLanguage(l: unknown): void } }; Language: { load(p: string): Promise<unknown> } };
  await ts.Parser.init();
  const parser = new ts.Parser();
  parser.setLanguage(await ts.Language.load(file));
  return parser;
}

export function leaves(node: TsNode, out: { start: number; end: number }[]): void {
  if (node.childCount === 0) { if (node.endIndex > node.startIndex) out.push({ start: node.startIndex, end: node.endIndex }); return; }
  for (let i = 0; i < node.childCount; i++) leaves(node.child(i)!, out);
}

const USAGE = `Usage: trellis grammar check <file|folder...> [options]

Runs the grammar engine over files: accepted or not, and the byte offset where the prefix stops
being viable. Folders are searched recursively for files of the language.

Options:
  --language L     python | javascript | typescript | json (default: from each file's extension)
  --json           one JSON object with every verdict and the summary
  --tree-sitter    compare with tree-sitter: soundness over files it parses without errors
  --mutations K    with --tree-sitter: K one-token mutations per accepted file (precision)
  --sample N       check N files drawn at random (seeded)
  --seed S         seed for --sample and --mutations (default 1)
  --max-bytes B    skip files larger than B bytes (default 200000)
  --quiet          print only the summary`;

export const grammarCommand: Command = {
  name: 'grammar',
  summary: 'Check files against a language grammar (soundness/precision vs tree-sitter)',
  usage: USAGE,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'check') throw new UsageError(`unknown subcommand '${sub ?? ''}'; usage: trellis grammar check <file...>`);
    let values: Record<string, string | boolean | undefined>;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args: rest, allowPositionals: true,
        options: {
          language: { type: 'string' }, json: { type: 'boolean' }, 'tree-sitter': { type: 'boolean' },
          mutations: { type: 'string' }, sample: { type: 'string' }, seed: { type: 'string' },
          'max-bytes': { type: 'string' }, quiet: { type: 'boolean' },
        },
      }) as { values: Record<string, string | boolean | undefined>; positionals: string[] });
    } catch (e) { throw new UsageError((e as Error).message); }
    if (positionals.length === 0) throw new UsageError('give at least one file or folder');
    const language = values.language as string | undefined;
    if (language && !grammarLanguages().includes(language)) {
      throw new TrellisError(`no grammar for language '${language}'; supported: ${grammarLanguages().join(', ')}`, 'grammar_unknown_language');
    }
    const seed = Number(values.seed ?? 1);
    const maxBytes = Number(values['max-bytes'] ?? 200_000);
    const mutations = Number(values.mutations ?? 0);
    let files = listFiles(positionals, language);
    if (values.sample) {
      const r = mulberry32(seed);
      const n = Number(values.sample);
      files = files.map((f) => [r(), f] as const).sort((a, b) => a[0] - b[0]).slice(0, n).map((x) => x[1]).sort();
    }
    const parsers = new Map<string, TsParser>();
    const verdicts: FileVerdict[] = [];
    const disagreements: { file: string; deadAt: number | null; context: string }[] = [];
    const mut = { total: 0, tsRejected: 0, engineRejected: 0, missed: [] as string[] };
    const r = mulberry32(seed + 17);
    const skipped: { file: string; reason: string }[] = [];
    for (const file of files) {
      const lang = language ?? EXTENSIONS[path.extname(file)];
      const buf = fs.readFileSync(file);
      if (buf.length > maxBytes) { skipped.push({ file, reason: `larger than --max-bytes ${maxBytes}` }); continue; }
      let text: string;
      try { text = new TextDecoder('utf-8', { fatal: true }).decode(buf); } catch { skipped.push({ file, reason: 'not UTF-8 text' }); continue; }
      const grammar = loadGrammar(lang);
      const t0 = performance.now();
      const res = checkBytes(createMatcher(grammar, undefined, BYTE_TOKENIZER), new Uint8Array(buf));
      const v: FileVerdict = { file, language: lang, bytes: buf.length, ...res, ms: Math.round(performance.now() - t0) };
      let tree: { rootNode: TsNode; delete(): void } | undefined;
      if (values['tree-sitter']) {
        let p = parsers.get(lang);
        if (!p) { p = await treeSitterParser(lang); parsers.set(lang, p); }
        tree = p.parse(text);
        v.treeSitterError = tree.rootNode.hasError;
        if (!v.treeSitterError && !v.accepted) {
          const at = v.deadAt ?? buf.length;
          disagreements.push({ file, deadAt: v.deadAt, context: JSON.stringify(buf.subarray(Math.max(0, at - 60), at).toString()) + ' <HERE> ' + JSON.stringify(buf.subarray(at, at + 30).toString()) });
        }
        if (mutations > 0 && !v.treeSitterError && v.accepted) {
          const ls: { start: number; end: number }[] = [];
          leaves(tree.rootNode, ls);
          for (let k = 0; k < mutations && ls.length > 0; k++) {
            const leaf = ls[Math.floor(r() * ls.length)];
            let mutated: string;
            if (r() < 0.5) mutated = text.slice(0, leaf.start) + text.slice(leaf.end);
            else {
              const other = ls[Math.floor(r() * ls.length)];
              mutated = text.slice(0, leaf.start) + text.slice(other.start, other.end) + text.slice(leaf.start);
            }
            const mt = p.parse(mutated);
            const tsBad = mt.rootNode.hasError;
            mt.delete();
            mut.total++;
            if (!tsBad) continue;
            mut.tsRejected++;
            const mr = checkBytes(createMatcher(grammar, undefined, BYTE_TOKENIZER), new TextEncoder().encode(mutated));
            if (!mr.accepted) mut.engineRejected++;
            else if (mut.missed.length < 20) mut.missed.push(`${file}@${leaf.start}`);
          }
        }
        tree.delete();
      }
      verdicts.push(v);
      if (!values.json && !values.quiet) {
        console.log(`${v.accepted ? 'accepted' : 'REJECTED'}  ${file}${v.deadAt !== null ? `  (prefix dies at byte ${v.deadAt})` : ''}${v.treeSitterError ? '  [tree-sitter: error]' : ''}  ${v.ms} ms`);
      }
    }
    const clean = verdicts.filter((v) => v.treeSitterError === false);
    const summary = {
      files: verdicts.length,
      skipped: skipped.length,
      skippedFiles: skipped,
      accepted: verdicts.filter((v) => v.accepted).length,
      ...(values['tree-sitter'] ? {
        treeSitterClean: clean.length,
        acceptedOfClean: clean.filter((v) => v.accepted).length,
        everyPrefixViableOfClean: clean.filter((v) => v.deadAt === null).length,
        disagreements,
        /** Files tree-sitter reports an error in that the engine accepts (it is more lenient there). */
        acceptedDespiteTreeSitterError: verdicts.filter((v) => v.treeSitterError && v.accepted).map((v) => v.file),
      } : {}),
      ...(mutations > 0 ? {
        mutations: mut.total,
        mutationsTreeSitterRejects: mut.tsRejected,
        mutationsEngineRejects: mut.engineRejected,
        mutationRejectionRate: mut.tsRejected ? mut.engineRejected / mut.tsRejected : null,
        missedMutations: mut.missed,
      } : {}),
      bytes: verdicts.reduce((a, v) => a + v.bytes, 0),
      ms: verdicts.reduce((a, v) => a + v.ms, 0),
    };
    if (values.json) console.log(JSON.stringify({ verdicts, summary }, null, 1));
    else console.log(JSON.stringify(summary, null, 1));
    return verdicts.every((v) => v.accepted || v.treeSitterError) ? 0 : 1;
  },
};
