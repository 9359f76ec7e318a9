// Renders an HTML report in headless Chromium (playwright-core driving the system's
// /usr/bin/chromium, no download, no network) and takes a full-page screenshot. Used by
// `trellis report --screenshot` and by the report test.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** Where a Chromium binary is, or undefined (the env var TRELLIS_CHROMIUM overrides). */
export function findChromium(): string | undefined {
  for (const c of [process.env.TRELLIS_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (c && fs.existsSync(c)) return c;
  }
  return undefined;
}

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export interface RenderCheck {
  /** Inline SVG charts rendered with a non-zero size. */
  charts: number;
  /** Marks (bars, dots) drawn inside them. */
  marks: number;
  sections: number;
  /** Requests the page tried to make (should be none: the report is self-contained). */
  requests: string[];
  title: string;
}

/**
 * Opens `htmlFile` in headless Chromium, screenshots it to `pngFile` (full page) and returns what
 * was rendered. playwright-core is a development dependency, resolved from the repository at run
 * time so that the CLI bundle does not carry it.
 */
export async function renderInChromium(htmlFile: string, pngFile: string, root = process.cwd()): Promise<RenderCheck> {
  const chromium = findChromium();
  if (!chromium) throw new Error('no Chromium found (apt-get install -y chromium, or set TRELLIS_CHROMIUM)');
  const req = createRequire(path.join(root, 'package.json'));
  const pw = req('playwright-core') as typeof import('playwright-core');
  const browser = await pw.chromium.launch({ executablePath: chromium, args: CHROMIUM_FLAGS, headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
    const requests: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto(pathToFileURL(path.resolve(htmlFile)).href, { waitUntil: 'load' });
    const info = await page.evaluate(() => {
      const svgs = Array.from(document.querySelectorAll('svg.chart'));
      const visible = svgs.filter((s) => { const b = s.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
      return { charts: visible.length, marks: visible.reduce((n, s) => n + s.querySelectorAll('rect, circle').length, 0), sections: document.querySelectorAll('section').length, title: document.title };
    });
    fs.mkdirSync(path.dirname(path.resolve(pngFile)), { recursive: true });
    await page.screenshot({ path: pngFile, fullPage: true });
    return { ...info, requests };
  } finally {
    await browser.close();
  }
}
