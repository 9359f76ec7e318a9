// Command factories: one `(ctx) => handler` per command, registered by extension.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import { infillSelection } from './infill';

type Factory = (ctx: Ctx) => (...args: unknown[]) => unknown;

/** Files a model folder must hold (architecture.md "Model folder format"). */
const MODEL_FILES = ['config.json', 'tokenizer.json'];

function selectModelFolder(ctx: Ctx) {
  return async () => {
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: 'Use this model folder',
      title: 'Trellis: select a model folder (config.json, tokenizer.json, onnx/model.onnx)',
      defaultUri: vscode.Uri.file(ctx.config.modelPath.dir ?? ctx.config.defaultModelDir),
    });
    const dir = picked?.[0]?.fsPath;
    if (!dir) return;
    const missing = MODEL_FILES.filter((f) => !fs.existsSync(path.join(dir, f)));
    const onnx = ['model.onnx', 'model_quantized.onnx'].some((f) => fs.existsSync(path.join(dir, 'onnx', f)));
    if (missing.length || !onnx) {
      const what = [...missing, ...(onnx ? [] : ['onnx/model.onnx'])].join(', ');
      return void vscode.window.showErrorMessage(`Trellis: ${dir} is not a model folder: ${what} missing. Pick a folder exported by optimum / transformers.js.`);
    }
    // A user-level setting: the configuration-change handler reloads the model.
    await ctx.config.update('modelPath', dir);
    ctx.log.info(`model folder set to ${dir}`);
  };
}

function showStatistics(ctx: Ctx) {
  return async () => {
    const d = ctx.loopDelay;
    const ms = (ns: number) => Math.round(ns / 1e5) / 10;
    const loop = `extension host event-loop delay: max ${ms(d.max)} ms, p99 ${ms(d.percentile(99))} ms, mean ${ms(d.mean)} ms over ${d.count} samples`;
    d.reset();
    try {
      const s = await ctx.client.stats();
      ctx.log.info(`worker stats ${JSON.stringify(s)}`);
    } catch (err) {
      ctx.log.warn(`worker stats unavailable: ${(err as Error).message}`);
    }
    ctx.log.info(loop);
    ctx.log.show(true);
  };
}

function showMenu(ctx: Ctx) {
  return async () => {
    const enabled = ctx.config.enableInline;
    const items: (vscode.QuickPickItem & { command: string })[] = [
      { label: enabled ? '$(circle-slash) Turn inline completions off' : '$(sparkle) Turn inline completions on', command: 'trellis.toggleInline' },
      { label: '$(wand) Infill Selection', command: 'trellis.infillSelection' },
      { label: '$(folder-opened) Select Model Folder…', command: 'trellis.selectModelFolder' },
      { label: '$(refresh) Reload Model', command: 'trellis.reloadModel' },
      { label: '$(settings-gear) Steering and Settings (sidebar)', command: 'trellis.sidebar.focus' },
      { label: '$(graph) Show Statistics', command: 'trellis.showStatistics' },
      { label: '$(output) Show Logs', command: 'trellis.showLogs' },
    ];
    const s = ctx.status;
    const choice = await vscode.window.showQuickPick(items, { title: `Trellis — ${s.state}${s.detail ? `: ${s.detail}` : ''}` });
    if (choice) await vscode.commands.executeCommand(choice.command);
  };
}

export const commandFactories: Record<string, Factory> = {
  'trellis.infillSelection': infillSelection,
  'trellis.selectModelFolder': selectModelFolder,
  'trellis.reloadModel': (ctx) => async () => {
    ctx.log.info('reloading the model (new worker process)');
    await ctx.startEngine();
  },
  'trellis.showLogs': (ctx) => () => ctx.log.show(),
  'trellis.toggleInline': (ctx) => async () => {
    await ctx.config.update('enableInline', !ctx.config.enableInline);
  },
  'trellis.showMenu': showMenu,
  'trellis.showStatistics': showStatistics,
};
