// Grammar loader: finds a language's grammar.json in node_modules (never copied into the repo),
// compiles it, and caches the compiled form on disk keyed by a content hash, so later loads take
// milliseconds. The only module of the grammar engine that touches the file system.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { TrellisError } from '../api';
import type { CompiledGrammar } from './types';
import type { ScannerModule } from './scanner';
import { compileGrammar, COMPILER_VERSION } from './compile';
import { LANGUAGES } from '../../../grammars';

export interface LoadGrammarOptions {
  /** Folder for compiled grammars (default: see defaultCacheDir). */
  cacheDir?: string;
  /** Use this grammar.json instead of the package's (tests, custom grammars). */
  grammarFile?: string;
  /** Skip reading and writing the cache. */
  noCache?: boolean;
}

/** Languages with a grammar (VS Code language ids). */
export function grammarLanguages(): string[] {
  return Object.keys(LANGUAGES);
}

/** Finds `<pkg>/<rel>` in a node_modules folder above the bundle or the working directory. */
export function findPackageFile(pkg: string, rel: string): string | undefined {
  for (const start of [__dirname, process.cwd()]) {
    let dir = start;
    for (;;) {
      const f = path.join(dir, 'node_modules', pkg, rel);
      if (fs.existsSync(f)) return f;
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return undefined;
}

const memory = new Map<string, CompiledGrammar>();

/**
 * Loads the compiled grammar of a language (`python`, `javascript`, `typescript`, `json`, …).
 * Throws `grammar_unknown_language` for a language without a grammar and `grammar_invalid` when
 * grammar.json is missing or does not compile (the message names the file and the rule).
 */
export function loadGrammar(languageId: string, opts: LoadGrammarOptions = {}): CompiledGrammar {
  const lang = LANGUAGES[languageId];
  if (!lang && !opts.grammarFile) {
    throw new TrellisError(`no grammar for language '${languageId}'; supported: ${grammarLanguages().join(', ')}`, 'grammar_unknown_language');
  }
  const file = opts.grammarFile ?? findPackageFile(lang.pkg, lang.file);
  if (!file) {
    throw new TrellisError(`grammar for '${languageId}' not found: install the npm package ${lang.pkg} (it provides ${lang.file})`, 'grammar_invalid');
  }
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) {
    throw new TrellisError(`${file}: cannot read grammar (${(e as Error).message})`, 'grammar_invalid', file);
  }
  const scanner: ScannerModule | undefined = lang?.scanner;
  const hash = createHash('sha256').update(COMPILER_VERSION).update('\0').update(scanner ? `${scanner.language}@${scanner.version}` : '').update('\0').update(text).digest('hex');
  const memo = memory.get(hash);
  if (memo) return memo;
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const cacheFile = path.join(cacheDir, `grammar-${languageId}-${hash.slice(0, 16)}.json`);
  if (!opts.noCache) {
    try {
      const cached = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as CompiledGrammar;
      if (cached.hash === hash) { memory.set(hash, cached); return cached; }
    } catch { /* not cached yet, or unreadable: recompile */ }
  }
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) {
    throw new TrellisError(`${file}: invalid JSON (${(e as Error).message}); reinstall the grammar package`, 'grammar_invalid', file);
  }
  const compiled = compileGrammar(doc, file, languageId, hash, scanner);
  if (!opts.noCache) {
    try {
      fs.mkdirSync(cacheDir, { recursive: true });
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(compiled));
      fs.renameSync(tmp, cacheFile);
    } catch { /* a read-only cache folder only costs speed */ }
  }
  memory.set(hash, compiled);
  return compiled;
}

let privateCacheDir: string | undefined;

/**
 * Where compiled grammars are cached: $TRELLIS_CACHE_DIR (the extension sets its global storage
 * folder), else the user's own cache folder — `$XDG_CACHE_HOME/trellis` or `~/.cache/trellis`,
 * `~/Library/Caches/trellis` on macOS, `%LOCALAPPDATA%\trellis\Cache` on Windows. Not a shared
 * temporary folder: another user could write the files this process then trusts.
 */
export function defaultCacheDir(): string {
  const env = process.env.TRELLIS_CACHE_DIR;
  if (env) return env;
  let home = '';
  try { home = os.homedir(); } catch { /* no home folder (a service account): below */ }
  // (without one, a folder of this process's own: no cache across runs, but none anyone else wrote)
  if (!home) return (privateCacheDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-cache-')));
  if (process.platform === 'win32') return path.join(process.env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'trellis', 'Cache');
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'trellis');
  return path.join(process.env.XDG_CACHE_HOME || path.join(home, '.cache'), 'trellis');
}

/** Forgets grammars held in memory (benchmarks measuring cached loads). */
export function clearGrammarMemory(): void { memory.clear(); }
