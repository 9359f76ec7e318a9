// The sidebar webview view: steering sliders (one per discriminator attribute), sampling
// settings, and the statistics of the last completions. Settings stay the source of truth: the
// view asks for a change, the extension writes the setting, and the configuration-change event
// sends the new state back. Strict CSP with a fresh nonce; assets via asWebviewUri.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { parseWebviewMessage, type ExtensionToWebview, type SidebarSettings } from '../protocol/webview';
import type { Ctx } from './ctx';
import { sidebarHtml } from './sidebarHtml';

export class SidebarProvider implements vscode.WebviewViewProvider {
  static readonly viewType = 'trellis.sidebar';
  private view: vscode.WebviewView | undefined;

  constructor(private readonly ctx: Ctx) {
    ctx.pushExtension(
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('trellis') && this.postState()),
      ctx.onDidChangeModel(() => this.postState()),
      ctx.onDidChangeStatus(() => this.postState()),
      ctx.stats.onChange((entries) => this.post({ type: 'stats', entries })),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const { extensionUri } = this.ctx.extension;
    view.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media'), vscode.Uri.joinPath(extensionUri, 'dist')],
    };
    view.webview.html = this.html(view.webview);
    view.webview.onDidReceiveMessage((raw) => this.onMessage(raw));
    view.onDidDispose(() => (this.view = undefined));
    view.onDidChangeVisibility(() => view.visible && this.postState());
  }

  private async onMessage(raw: unknown): Promise<void> {
    const msg = parseWebviewMessage(raw);
    if (!msg) return void this.ctx.log.warn(`sidebar sent an invalid message: ${JSON.stringify(raw)?.slice(0, 200)}`);
    const { config } = this.ctx;
    switch (msg.type) {
      case 'ready':
        this.postState();
        this.post({ type: 'stats', entries: this.ctx.stats.entries });
        return;
      case 'setSetting':
        this.ctx.log.info(`sidebar: trellis.${msg.key} = ${JSON.stringify(msg.value)}`);
        return void (await config.update(msg.key, msg.value));
      case 'setAttribute': {
        const weights = { ...config.attributes, [msg.name]: msg.weight };
        if (msg.weight === 0) delete weights[msg.name];
        this.ctx.log.info(`sidebar: trellis.attributes.${msg.name} = ${msg.weight}`);
        return void (await config.update('attributes', weights));
      }
      case 'command': {
        const id = { reloadModel: 'trellis.reloadModel', selectModelFolder: 'trellis.selectModelFolder', showLogs: 'trellis.showLogs' }[msg.command];
        return void (await vscode.commands.executeCommand(id));
      }
    }
  }

  private postState(): void {
    const s = this.ctx.config.all;
    const settings: SidebarSettings = {
      enableInline: s.enableInline,
      temperature: s.temperature,
      maxTokens: s.maxTokens,
      grammarMode: s.grammarMode,
      healingMode: s.healingMode,
      attributes: s.attributes,
    };
    const m = this.ctx.model;
    this.post({
      type: 'state',
      settings,
      model: m ? { name: m.name, directory: m.directory, attributes: m.attributes, gediDir: this.ctx.gediDir } : null,
      status: this.ctx.status,
    });
  }

  private post(msg: ExtensionToWebview): void {
    void this.view?.webview.postMessage(msg);
  }

  private html(webview: vscode.Webview): string {
    const { extensionUri } = this.ctx.extension;
    return sidebarHtml({
      nonce: randomBytes(16).toString('base64'),
      cspSource: webview.cspSource,
      cssUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'sidebar.css')).toString(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
    });
  }
}
