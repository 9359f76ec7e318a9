// The `trellis.*` settings as plain data: validation, clamping and defaults, the mapping to
// engine options, and where the model folder comes from (workspace trust). No `vscode` import:
// config.ts feeds it from `workspace.getConfiguration`, and unit tests feed it plain objects.
import * as path from 'node:path';
import type { CompletionOptions, GrammarMode, HealingMode, PromptLayoutMode } from '../engine/api';
import { GRAMMAR_MODES, HEALING_MODES, LIMITS } from '../protocol/webview';

const PROMPT_LAYOUTS: readonly PromptLayoutMode[] = ['auto', 'fim', 'plain'];

export interface TrellisSettings {
  /** Model folder; empty means the bundled default model. */
  modelPath: string;
  /** GeDi discriminator folder; empty means the bundled one if present. */
  gediPath: string;
  enableInline: boolean;
  debounceMs: number;
  temperature: number;
  topP: number;
  maxTokens: number;
  grammarMode: GrammarMode;
  healingMode: HealingMode;
  /** Prompt layout: auto (the model card's), fim, plain. */
  promptLayout: PromptLayoutMode;
  attributes: Record<string, number>;
  infillCandidates: number;
  infillMaxTokens: number;
  contextTokens: number;
  seed: number;
}

/** Settings whose change needs the model to be loaded again (the others apply to the next request). */
export const RELOAD_SETTINGS = ['trellis.modelPath', 'trellis.gediPath'] as const;

export const DEFAULT_SETTINGS: TrellisSettings = {
  modelPath: '',
  gediPath: '',
  enableInline: true,
  debounceMs: 150,
  temperature: 0.2,
  topP: 0.95,
  maxTokens: 64,
  grammarMode: 'mask',
  healingMode: 'exact',
  promptLayout: 'auto',
  attributes: {},
  infillCandidates: 3,
  infillMaxTokens: 128,
  contextTokens: 1024,
  seed: 0,
};

function num(v: unknown, def: number, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return def;
  const c = Math.min(max, Math.max(min, v));
  return integer ? Math.round(c) : c;
}

function str(v: unknown, def: string): string {
  return typeof v === 'string' ? v.trim() : def;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], def: T): T {
  return allowed.includes(v as T) ? (v as T) : def;
}

function weights(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, w] of Object.entries(v)) {
    if (typeof w === 'number' && Number.isFinite(w)) {
      out[k] = Math.min(LIMITS.attributeWeight.max, Math.max(LIMITS.attributeWeight.min, w));
    }
  }
  return out;
}

/** Reads every setting through `get('modelPath')`-style lookups; bad values fall back to defaults. */
export function readSettings(get: (key: keyof TrellisSettings) => unknown): TrellisSettings {
  const d = DEFAULT_SETTINGS;
  return {
    modelPath: str(get('modelPath'), d.modelPath),
    gediPath: str(get('gediPath'), d.gediPath),
    enableInline: typeof get('enableInline') === 'boolean' ? (get('enableInline') as boolean) : d.enableInline,
    debounceMs: num(get('debounceMs'), d.debounceMs, 0, 5000, true),
    temperature: num(get('temperature'), d.temperature, LIMITS.temperature.min, LIMITS.temperature.max),
    topP: num(get('topP'), d.topP, 0.01, 1),
    maxTokens: num(get('maxTokens'), d.maxTokens, LIMITS.maxTokens.min, LIMITS.maxTokens.max, true),
    grammarMode: oneOf(get('grammarMode'), GRAMMAR_MODES, d.grammarMode),
    healingMode: oneOf(get('healingMode'), HEALING_MODES, d.healingMode),
    promptLayout: oneOf(get('promptLayout'), PROMPT_LAYOUTS, d.promptLayout),
    attributes: weights(get('attributes')),
    infillCandidates: num(get('infillCandidates'), d.infillCandidates, 1, 8, true),
    infillMaxTokens: num(get('infillMaxTokens'), d.infillMaxTokens, 1, 1024, true),
    contextTokens: num(get('contextTokens'), d.contextTokens, 64, 32768, true),
    seed: num(get('seed'), d.seed, 0, 2 ** 31 - 1, true),
  };
}

/**
 * Engine options for one request. Inline completions that must stay on one line stop at the first
 * line break; infill uses its own token budget and a per-candidate seed chosen by the engine.
 */
export function completionOptions(s: TrellisSettings, kind: 'inline' | 'infill', singleLine = false): Partial<CompletionOptions> {
  const attributes: Record<string, number> = {};
  for (const [k, w] of Object.entries(s.attributes)) if (w !== 0) attributes[k] = w;
  return {
    temperature: s.temperature,
    topP: s.topP,
    seed: s.seed,
    maxTokens: kind === 'infill' ? s.infillMaxTokens : s.maxTokens,
    stop: singleLine ? ['\n'] : [],
    grammar: s.grammarMode,
    healing: s.healingMode,
    layout: s.promptLayout,
    attributes,
    contextTokens: s.contextTokens,
  };
}

/** A stable string for the options that change a completion (cache key part). */
export function optionsKey(o: Partial<CompletionOptions>): string {
  return JSON.stringify(o, Object.keys(o).sort());
}

/** The values of one setting at each level, as `WorkspaceConfiguration.inspect` reports them. */
export interface SettingLevels {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

export interface ResolvedFolder {
  /** Absolute folder to load, or undefined for "none" (only for the optional discriminator). */
  dir: string | undefined;
  source: 'default' | 'user' | 'workspace';
  /** A workspace value that was ignored because the workspace is not trusted. */
  ignoredWorkspaceValue?: string;
}

/**
 * Picks the folder to load: a workspace (or folder) setting only in a trusted workspace, then the
 * user setting, then the bundled default. Relative paths resolve against the workspace folder
 * (workspace values) or the home folder (user values); `~/` expands to the home folder.
 */
export function resolveFolder(levels: SettingLevels, opts: { trusted: boolean; defaultDir: string | undefined; workspaceDir?: string; homeDir: string }): ResolvedFolder {
  const clean = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const expand = (p: string, base: string) => {
    if (p === '~') return opts.homeDir;
    if (p.startsWith('~/')) return path.join(opts.homeDir, p.slice(2));
    return path.resolve(base, p);
  };
  const ws = clean(levels.workspaceFolderValue) ?? clean(levels.workspaceValue);
  let ignoredWorkspaceValue: string | undefined;
  if (ws !== undefined) {
    if (opts.trusted) return { dir: expand(ws, opts.workspaceDir ?? opts.homeDir), source: 'workspace' };
    ignoredWorkspaceValue = ws;
  }
  const user = clean(levels.globalValue);
  if (user !== undefined) return { dir: expand(user, opts.homeDir), source: 'user', ignoredWorkspaceValue };
  return { dir: opts.defaultDir, source: 'default', ignoredWorkspaceValue };
}
