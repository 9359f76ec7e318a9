// The status bar item: shows idle / loading / generating / error / disabled and opens the quick
// menu on click.
import * as vscode from 'vscode';
import type { EngineStatus } from '../protocol/webview';

const ICONS: Record<EngineStatus['state'], string> = {
  idle: '$(sparkle)',
  loading: '$(sync~spin)',
  generating: '$(loading~spin)',
  error: '$(error)',
  disabled: '$(circle-slash)',
};

const TIPS: Record<EngineStatus['state'], string> = {
  idle: 'Trellis is ready',
  loading: 'Trellis is loading the model',
  generating: 'Trellis is generating',
  error: 'Trellis has a problem',
  disabled: 'Trellis inline completions are off',
};

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('trellis.status', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'Trellis';
    this.item.command = 'trellis.showMenu';
    this.show({ state: 'loading', detail: 'starting' });
    this.item.show();
  }

  show(s: EngineStatus): void {
    this.item.text = `${ICONS[s.state]} Trellis`;
    this.item.tooltip = `${TIPS[s.state]}${s.detail ? `: ${s.detail}` : ''}\nClick for the Trellis menu`;
    this.item.backgroundColor = s.state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
