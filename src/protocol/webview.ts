// Messages between the extension host and the sidebar webview (src/webview/), `{type, …}` objects.
// The webview is untrusted input: `parseWebviewMessage` validates everything it sends before the
// extension acts on it. Settings are the source of truth: the webview only asks for changes and
// renders what the extension reports back. No effects here; both bundles import this file.
import type { AttributeInfo, GrammarMode, HealingMode, StopReason } from '../engine/api';

export const GRAMMAR_MODES: readonly GrammarMode[] = ['off', 'mask', 'aligned'];
export const HEALING_MODES: readonly HealingMode[] = ['off', 'token', 'exact'];

/** Ranges shared by the settings schema (package.json), the sliders and the validator. */
export const LIMITS = {
  temperature: { min: 0, max: 2, step: 0.05 },
  maxTokens: { min: 1, max: 512, step: 1 },
  attributeWeight: { min: -10, max: 10, step: 0.5 },
} as const;

/** The settings the sidebar shows and edits (a view of `trellis.*`). */
export interface SidebarSettings {
  enableInline: boolean;
  temperature: number;
  maxTokens: number;
  grammarMode: GrammarMode;
  healingMode: HealingMode;
  /** Attribute name → weight; names absent here are at weight 0. */
  attributes: Record<string, number>;
}

export type EngineState = 'idle' | 'loading' | 'generating' | 'error' | 'disabled';

export interface EngineStatus {
  state: EngineState;
  /** One line: model name, error message, … */
  detail?: string;
}

/** One finished generation, as the sidebar's statistics table shows it. */
export interface StatsEntry {
  kind: 'inline' | 'infill';
  /** Epoch milliseconds when it finished. */
  at: number;
  languageId: string;
  latencyMs: number;
  firstTokenMs: number;
  tokensPerSecond: number;
  generatedTokens: number;
  /** Share of decode steps where the full grammar mask was needed (0..1). */
  maskedShare: number;
  healing: HealingMode;
  healingCovers: number;
  stopReason: StopReason;
}

export interface SidebarModel {
  name: string;
  directory: string;
  /** Attributes from the discriminator manifest; empty when no discriminator is loaded. */
  attributes: AttributeInfo[];
  /** Folder of the loaded discriminator, if any. */
  gediDir?: string;
}

export type ExtensionToWebview =
  | { type: 'state'; settings: SidebarSettings; model: SidebarModel | null; status: EngineStatus }
  | { type: 'stats'; entries: StatsEntry[] };

export type SettingKey = 'enableInline' | 'temperature' | 'maxTokens' | 'grammarMode' | 'healingMode';
export type SidebarCommand = 'reloadModel' | 'selectModelFolder' | 'showLogs';

export type WebviewToExtension =
  | { type: 'ready' }
  | { type: 'setSetting'; key: 'enableInline'; value: boolean }
  | { type: 'setSetting'; key: 'temperature' | 'maxTokens'; value: number }
  | { type: 'setSetting'; key: 'grammarMode'; value: GrammarMode }
  | { type: 'setSetting'; key: 'healingMode'; value: HealingMode }
  | { type: 'setAttribute'; name: string; weight: number }
  | { type: 'command'; command: SidebarCommand };

/** What the webview keeps across hide/show with getState/setState (view state only). */
export interface WebviewViewState {
  /** Open/closed sections by id. */
  open: Record<string, boolean>;
  /** Last statistics, so a reopened view is not blank until the next completion. */
  stats: StatsEntry[];
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function inRange(v: unknown, r: { min: number; max: number }): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= r.min && v <= r.max;
}

/**
 * Validates a message from the webview. Returns undefined for anything malformed or out of range,
 * so a compromised or stale webview can never write an invalid setting.
 */
export function parseWebviewMessage(x: unknown): WebviewToExtension | undefined {
  if (!isObject(x) || typeof x.type !== 'string') return undefined;
  switch (x.type) {
    case 'ready':
      return { type: 'ready' };
    case 'setSetting': {
      const { key, value } = x;
      if (key === 'enableInline' && typeof value === 'boolean') return { type: 'setSetting', key, value };
      if (key === 'temperature' && inRange(value, LIMITS.temperature)) return { type: 'setSetting', key, value };
      if (key === 'maxTokens' && inRange(value, LIMITS.maxTokens) && Number.isInteger(value)) {
        return { type: 'setSetting', key, value };
      }
      if (key === 'grammarMode' && GRAMMAR_MODES.includes(value as GrammarMode)) {
        return { type: 'setSetting', key, value: value as GrammarMode };
      }
      if (key === 'healingMode' && HEALING_MODES.includes(value as HealingMode)) {
        return { type: 'setSetting', key, value: value as HealingMode };
      }
      return undefined;
    }
    case 'setAttribute': {
      const { name, weight } = x;
      if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) return undefined;
      if (!inRange(weight, LIMITS.attributeWeight)) return undefined;
      return { type: 'setAttribute', name, weight };
    }
    case 'command': {
      const c = x.command;
      if (c === 'reloadModel' || c === 'selectModelFolder' || c === 'showLogs') return { type: 'command', command: c };
      return undefined;
    }
    default:
      return undefined;
  }
}
