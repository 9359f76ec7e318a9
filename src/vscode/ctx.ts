// The one context object of the extension: configuration, log, status, statistics, and the engine
// (the inference worker and its model) with its own disposal scope, separate from the extension's
// lifetime. Commands and providers receive this object and nothing else.
import * as path from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { ModelInfo } from '../engine/api';
import type { EngineStatus } from '../protocol/webview';
import { Config } from './config';
import { StatsLog } from './stats';
import { CancelledError, WorkerClient, WorkerError, type WorkerState } from './workerClient';

/** An AbortSignal that follows a VS Code CancellationToken. */
export function abortSignalOf(token: vscode.CancellationToken): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  const sub = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => sub.dispose() };
}

export class Ctx implements vscode.Disposable {
  readonly config: Config;
  readonly log: vscode.LogOutputChannel;
  readonly stats = new StatsLog();
  /** Extension-host event-loop delay, to show that generations never block the editor. */
  readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });

  private engineScope: vscode.Disposable[] = [];
  private clientValue: WorkerClient | undefined;
  private modelValue: ModelInfo | undefined;
  private gediDirValue: string | undefined;
  private workerState: WorkerState = 'stopped';
  private workerDetail: string | undefined;
  private loadError: string | undefined;
  private generating = 0;
  private readonly statusEmitter = new vscode.EventEmitter<EngineStatus>();
  private readonly modelEmitter = new vscode.EventEmitter<ModelInfo | undefined>();
  /** Fires whenever the engine status (idle/loading/generating/error/disabled) changes. */
  readonly onDidChangeStatus = this.statusEmitter.event;
  /** Fires when a model was loaded or unloaded. */
  readonly onDidChangeModel = this.modelEmitter.event;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.config = new Config(extension.extensionPath);
    this.log = vscode.window.createOutputChannel('Trellis', { log: true });
    this.loopDelay.enable();
    extension.subscriptions.push(this.log, this.statusEmitter, this.modelEmitter, this);
  }

  /** Registers something that lives as long as the extension. */
  pushExtension(...d: vscode.Disposable[]): void {
    this.extension.subscriptions.push(...d);
  }

  /** The worker client of the current engine scope. */
  get client(): WorkerClient {
    if (!this.clientValue) throw new Error('the Trellis engine is not started');
    return this.clientValue;
  }

  get model(): ModelInfo | undefined {
    return this.modelValue;
  }

  get gediDir(): string | undefined {
    return this.gediDirValue;
  }

  /** True when a model is loaded and requests can be sent. */
  get ready(): boolean {
    return this.clientValue?.state === 'ready';
  }

  get status(): EngineStatus {
    if (this.workerState === 'starting' || this.workerState === 'loading') return { state: 'loading', detail: this.workerDetail };
    if (this.workerState === 'failed' || this.workerState === 'crashed') return { state: 'error', detail: this.workerDetail };
    if (this.loadError) return { state: 'error', detail: this.loadError };
    if (!this.modelValue) return { state: 'loading', detail: 'starting' };
    if (this.generating > 0) return { state: 'generating', detail: this.modelValue.name };
    if (!this.config.enableInline) return { state: 'disabled', detail: this.modelValue.name };
    return { state: 'idle', detail: this.modelValue.name };
  }

  /** Re-announces the status (e.g. after `enableInline` changed). */
  refreshStatus(): void {
    this.statusEmitter.fire(this.status);
  }

  /** Marks a generation as running until the returned function is called. */
  beginGeneration(): () => void {
    this.generating++;
    this.refreshStatus();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.generating--;
      this.refreshStatus();
    };
  }

  /** Starts a fresh engine scope (worker process) and loads the configured model. */
  async startEngine(): Promise<void> {
    this.stopEngine();
    const client = new WorkerClient({
      workerPath: path.join(this.extension.extensionPath, 'dist', 'worker.js'),
      logger: this.log,
      // compiled grammars go to the extension's own storage (removed with the extension)
      env: { TRELLIS_CACHE_DIR: path.join(this.extension.globalStorageUri.fsPath, 'cache') },
    });
    this.clientValue = client;
    this.engineScope.push(
      client,
      client.onState((s, detail) => {
        this.workerState = s;
        this.workerDetail = detail;
        if (s !== 'ready' && this.modelValue && s !== 'loading') this.setModel(undefined);
        if (s === 'ready' && client.model && client.model !== this.modelValue) this.setModel(client.model);
        this.refreshStatus();
      }),
    );
    await this.loadModel();
  }

  /** Ends the engine scope: aborts generations and stops the worker. */
  stopEngine(): void {
    for (const d of this.engineScope.splice(0)) d.dispose();
    this.clientValue = undefined;
    this.workerState = 'stopped';
    this.setModel(undefined);
  }

  private setModel(m: ModelInfo | undefined): void {
    this.modelValue = m;
    this.modelEmitter.fire(m);
  }

  /** Loads the configured model folders with a progress notification; errors are shown, not thrown. */
  async loadModel(): Promise<boolean> {
    const client = this.client;
    const model = this.config.modelPath;
    const gedi = this.config.gediPath;
    for (const r of [model, gedi]) {
      if (r.ignoredWorkspaceValue) {
        this.log.warn(`ignoring the workspace setting "${r.ignoredWorkspaceValue}": this workspace is not trusted`);
      }
    }
    if (model.ignoredWorkspaceValue) {
      void vscode.window.showWarningMessage(
        `Trellis: this workspace sets a model folder (${model.ignoredWorkspaceValue}), but the workspace is not trusted, so the ${model.source === 'default' ? 'bundled' : 'user-level'} model is used. Trust the workspace to load it.`,
      );
    }
    const modelDir = model.dir ?? this.config.defaultModelDir;
    this.loadError = undefined;
    this.log.info(`loading model ${modelDir} (${model.source})${gedi.dir ? ` with discriminator ${gedi.dir}` : ''}`);
    try {
      const info = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Trellis: loading ${path.basename(modelDir)}…`, cancellable: true },
        async (_progress, token) => {
          const abort = abortSignalOf(token);
          try {
            return await client.load({ modelDir, gediDir: gedi.dir }, abort.signal);
          } finally {
            abort.dispose();
          }
        },
      );
      this.gediDirValue = gedi.dir;
      this.setModel(info);
      this.log.info(`model ready: ${info.name} (vocab ${info.vocabSize}, context ${info.contextLength}, languages ${info.languages.join(', ') || 'any'}, attributes ${info.attributes.map((a) => a.name).join(', ') || 'none'})`);
      this.refreshStatus();
      return true;
    } catch (err) {
      if (err instanceof CancelledError) {
        this.loadError = 'model loading cancelled';
        this.log.warn('model loading cancelled');
        this.refreshStatus();
        return false;
      }
      const message = err instanceof WorkerError || err instanceof Error ? err.message : String(err);
      this.loadError = message;
      this.log.error(`could not load the model: ${message}`);
      this.refreshStatus();
      void vscode.window.showErrorMessage(`Trellis: ${message}`, 'Select Model Folder', 'Show Logs').then((choice) => {
        if (choice === 'Select Model Folder') void vscode.commands.executeCommand('trellis.selectModelFolder');
        if (choice === 'Show Logs') this.log.show();
      });
      return false;
    }
  }

  dispose(): void {
    this.stopEngine();
    this.loopDelay.disable();
  }
}
