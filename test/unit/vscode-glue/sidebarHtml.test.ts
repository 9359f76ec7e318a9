import { strict as assert } from 'node:assert';
import { sidebarHtml } from '../../../src/vscode/sidebarHtml';

describe('vscode-glue: sidebar HTML', () => {
  const html = sidebarHtml({ nonce: 'abc123+/=', cspSource: 'https://x.vscode-cdn.net', cssUri: 'https://x.vscode-cdn.net/media/sidebar.css', scriptUri: 'https://x.vscode-cdn.net/dist/webview.js' });

  it('has a strict CSP: nothing by default, no inline code, the script only by nonce', () => {
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-abc123\+\/='/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  });

  it('loads exactly one script, with the nonce, and no inline script or style', () => {
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    assert.match(scripts[0]![1]!, /nonce="abc123\+\/=" src="https:\/\/x\.vscode-cdn\.net\/dist\/webview\.js"/);
    assert.equal(scripts[0]![2], '');
    assert.doesNotMatch(html, /<style|style="/);
  });
});
