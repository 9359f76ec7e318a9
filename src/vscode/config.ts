// Typed access to the `trellis.*` settings (one getter per setting), the settings that need the
// model to be loaded again, and where the model folders come from under workspace trust.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GrammarMode, HealingMode } from '../engine/api';
import { readSettings, RELOAD_SETTINGS, resolveFolder, type ResolvedFolder, type TrellisSettings } from './settings';

/** Settings the sidebar may write (all at user level: the user's choice follows them everywhere). */
export type WritableSetting = 'enableInline' | 'temperature' | 'maxTokens' | 'grammarMode' | 'healingMode' | 'attributes' | 'modelPath';

export class Config {
  static readonly section = 'trellis';
  /** Changing one of these reloads the model; everything else applies to the next request. */
  readonly reloadSettings = RELOAD_SETTINGS;

  constructor(private readonly extensionPath: string) {}

  private get raw(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(Config.section);
  }

  /** All settings at once, validated (one read per request). */
  get all(): TrellisSettings {
    const raw = this.raw;
    return readSettings((k) => raw.get(k));
  }

  get enableInline(): boolean { return this.all.enableInline; }
  get debounceMs(): number { return this.all.debounceMs; }
  get temperature(): number { return this.all.temperature; }
  get topP(): number { return this.all.topP; }
  get maxTokens(): number { return this.all.maxTokens; }
  get grammarMode(): GrammarMode { return this.all.grammarMode; }
  get healingMode(): HealingMode { return this.all.healingMode; }
  get attributes(): Record<string, number> { return this.all.attributes; }
  get infillCandidates(): number { return this.all.infillCandidates; }
  get infillMaxTokens(): number { return this.all.infillMaxTokens; }
  get contextTokens(): number { return this.all.contextTokens; }
  get seed(): number { return this.all.seed; }

  /** The bundled default model: `<extension>/models/trellis-code-tiny`. */
  get defaultModelDir(): string {
    return path.join(this.extensionPath, 'models', 'trellis-code-tiny');
  }

  /** The bundled discriminator, when the extension ships one. */
  get defaultGediDir(): string | undefined {
    const dir = path.join(this.extensionPath, 'models', 'trellis-gedi-tiny');
    return fs.existsSync(path.join(dir, 'config.json')) ? dir : undefined;
  }

  /** The model folder to load; a workspace value counts only in a trusted workspace. */
  get modelPath(): ResolvedFolder {
    return this.folder('modelPath', this.defaultModelDir);
  }

  /** The discriminator folder to load (`off` disables steering). */
  get gediPath(): ResolvedFolder {
    const r = this.folder('gediPath', this.defaultGediDir);
    return r.dir && path.basename(r.dir) === 'off' ? { ...r, dir: undefined } : r;
  }

  private folder(key: 'modelPath' | 'gediPath', defaultDir: string | undefined): ResolvedFolder {
    const levels = this.raw.inspect<string>(key) ?? {};
    return resolveFolder(levels, {
      trusted: vscode.workspace.isTrusted,
      defaultDir,
      workspaceDir: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      homeDir: os.homedir(),
    });
  }

  /** True when a configuration change needs the model to be loaded again. */
  needsReload(e: vscode.ConfigurationChangeEvent): boolean {
    return this.reloadSettings.some((s) => e.affectsConfiguration(s));
  }

  update(key: WritableSetting, value: unknown): Thenable<void> {
    return this.raw.update(key, value, vscode.ConfigurationTarget.Global);
  }
}
