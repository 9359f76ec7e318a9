// The sidebar's HTML shell: a strict Content-Security-Policy (no inline script or style; the one
// script carries a fresh nonce) and asset URIs from asWebviewUri. Pure, unit-tested in node.

export interface SidebarHtmlInput {
  /** Fresh per render (base64 of 16 random bytes). */
  nonce: string;
  /** `webview.cspSource`. */
  cspSource: string;
  cssUri: string;
  scriptUri: string;
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [`default-src 'none'`, `style-src ${cspSource}`, `img-src ${cspSource}`, `font-src ${cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
}

export function sidebarHtml(i: SidebarHtmlInput): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(i.cspSource, i.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(i.cssUri)}">
<title>Trellis</title>
</head>
<body>
<main id="app" aria-live="polite"><p class="muted">Loading…</p></main>
<script nonce="${attr(i.nonce)}" src="${attr(i.scriptUri)}"></script>
</body>
</html>`;
}
