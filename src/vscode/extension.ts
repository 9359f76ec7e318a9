// Extension entry point: builds the one context object, registers providers and commands, and
// starts the engine (a worker process) without blocking activation.
import * as vscode from 'vscode';
import { commandFactories } from './commands';
import { Ctx } from './ctx';
import { InlineProvider } from './inline';
import { SidebarProvider } from './sidebar';
import { StatusItem } from './status';
import type { WorkerStats } from '../protocol/worker';

/** Languages with inline completions (the grammars Trellis knows; others still get plain completions). */
export const LANGUAGES = ['python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'json', 'jsonc'];

let ctx: Ctx | undefined;

/** What `activate` returns: lets tests (test/e2e/suite) wait for the model and read worker counters. */
export interface TrellisApi {
  /** Resolves when a model is loaded (immediately if it already is). */
  whenReady(timeoutMs?: number): Promise<void>;
  workerStats(): Promise<WorkerStats>;
}

export function activate(context: vscode.ExtensionContext): TrellisApi {
  ctx = new Ctx(context);
  const c = ctx;
  const status = new StatusItem();
  const inline = new InlineProvider(c);
  c.pushExtension(
    status,
    c.onDidChangeStatus((s) => status.show(s)),
    vscode.languages.registerInlineCompletionItemProvider(LANGUAGES.map((language) => ({ language })), inline),
    vscode.window.registerWebviewViewProvider(SidebarProvider.viewType, new SidebarProvider(c), { webviewOptions: { retainContextWhenHidden: false } }),
    ...Object.entries(commandFactories).map(([id, factory]) => vscode.commands.registerCommand(id, factory(c))),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('trellis')) return;
      c.log.info('trellis settings changed');
      inline.reset();
      if (c.config.needsReload(e)) void c.startEngine();
      else c.refreshStatus();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      // Only a model folder from workspace settings was held back; reload if there is one.
      if (c.config.modelPath.source !== 'workspace' && c.config.gediPath.source !== 'workspace') return;
      c.log.info('workspace trusted: loading the model folder from workspace settings');
      void c.startEngine();
    }),
    c.onDidChangeModel(() => inline.reset()),
  );
  c.log.info(`Trellis ${context.extension.packageJSON.version} activated (workspace ${vscode.workspace.isTrusted ? 'trusted' : 'not trusted'})`);
  // Not awaited: loading shows its own progress and errors; the editor stays usable meanwhile.
  c.startEngine().catch((err: Error) => {
    c.log.error(`Trellis failed to start: ${err.stack ?? err.message}`);
    void vscode.window.showErrorMessage(`Trellis failed to start: ${err.message}`, 'Show Logs').then((x) => x && c.log.show());
  });
  return {
    whenReady: (timeoutMs = 120_000) =>
      new Promise<void>((resolve, reject) => {
        if (c.ready) return resolve();
        const timer = setTimeout(() => (sub.dispose(), reject(new Error(`no model after ${timeoutMs} ms: ${c.status.detail ?? c.status.state}`))), timeoutMs);
        const sub = c.onDidChangeModel((m) => m && (clearTimeout(timer), sub.dispose(), resolve()));
      }),
    workerStats: () => c.client.stats(),
  };
}

export function deactivate(): void {
  ctx?.stopEngine();
  ctx = undefined;
}
