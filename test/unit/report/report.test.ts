// The results report: renders from report/results.json (the committed run, else a small real run
// of the fast parts made here), opens in headless Chromium, and has its plots; the README table
// comes from the same JSON.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderReport } from '../../../src/cli/report/html';
import { buildReport, readmeTable, spliceReadme, README_START, README_END } from '../../../src/cli/report/sections';
import { findChromium, renderInChromium } from '../../../src/cli/report/screenshot';
import { runSuite, type Results } from '../../../src/cli/report/suite';

const root = path.resolve(__dirname, '../../..');
const committed = path.join(root, 'report', 'results.json');

describe('results report', function () {
  this.timeout(180_000);
  let results: Results;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-report-'));
    if (fs.existsSync(committed)) {
      results = JSON.parse(fs.readFileSync(committed, 'utf8')) as Results;
    } else {
      // No committed run: measure the XGrammar comparison for real at a tiny size (seconds).
      const bench = await runSuite('bench', { quick: true, parts: ['xgrammar'] });
      results = { generatedAt: new Date().toISOString(), bench };
    }
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has the JSON mask comparison with XGrammar from one run', () => {
    const xg = results.bench?.parts.xgrammar;
    assert.ok(xg, 'results.json has no xgrammar part: run npm run bench');
    assert.equal(xg.status, 'ok', `xgrammar part failed: ${xg.error}`);
    const rows = (xg.data as { rows: { vocabulary: string; xgrammarMaskUs: { p50: number }; trellis: { maskUs: { p50: number } } | null; ratio: { p50: number } }[] }).rows;
    assert.ok(rows.some((r) => r.vocabulary === 'llama3'), 'the 128k Llama-3 vocabulary is measured');
    for (const r of rows) {
      assert.ok(r.xgrammarMaskUs.p50 > 0 && r.trellis && r.trellis.maskUs.p50 > 0);
      assert.ok(Math.abs(r.ratio.p50 - r.trellis.maskUs.p50 / r.xgrammarMaskUs.p50) < 0.01 * r.ratio.p50 + 0.01, 'ratio = Trellis ÷ XGrammar');
    }
  });

  it('renders a self-contained page with every section and inline SVG plots', () => {
    const html = renderReport(buildReport(results));
    assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/i.test(html), 'no scripts, no network references');
    for (const id of ['json-masks', 'masks', 'tokenizer', 'decode', 'memory', 'grammar-modes', 'healing', 'steering', 'runs']) {
      assert.ok(html.includes(`<section id="${id}">`), `section ${id}`);
    }
    assert.ok(html.includes('data-kind="quantiles"') && html.includes('XGrammar · llama3'));
    for (const section of html.split('<section').slice(1)) assert.match(section, /Reproduce: <code>/);
  });

  it('writes the README table between the markers from the same numbers', () => {
    const table = readmeTable(results);
    const xg = (results.bench!.parts.xgrammar!.data as { rows: { vocabulary: string; xgrammarMaskUs: { p50: number; p99: number } }[] }).rows;
    for (const r of xg) assert.ok(table.includes(`XGrammar ${r.xgrammarMaskUs.p50} / ${r.xgrammarMaskUs.p99}`), `README row for ${r.vocabulary}`);
    const readme = `# T\n\nintro\n\n${README_START}\nold\n${README_END}\n\nmore\n`;
    const out = spliceReadme(readme, table);
    assert.ok(out.startsWith('# T\n\nintro\n\n') && out.endsWith('\n\nmore\n') && !out.includes('\nold\n'));
    assert.equal(spliceReadme(out, table), out, 'idempotent');
  });

  it("README.md's results table matches report/results.json", function () {
    const readme = path.join(root, 'README.md');
    const text = fs.existsSync(readme) ? fs.readFileSync(readme, 'utf8') : '';
    const block = text.includes(README_START) ? text.slice(text.indexOf(README_START) + README_START.length, text.indexOf(README_END)).trim() : '';
    if (!fs.existsSync(committed) || block === '') {
      console.warn('    SKIPPED: no table between the README results markers yet, or no report/results.json (node tools/update-readme-results.mjs)');
      this.skip();
    }
    assert.equal(spliceReadme(text, readmeTable(results)), text, 'README table is stale: run node tools/update-readme-results.mjs');
  });

  it('renders in headless Chromium with its plots visible (screenshot)', async function () {
    if (!findChromium()) {
      console.warn('    SKIPPED: no Chromium at /usr/bin/chromium (apt-get install -y chromium, or set TRELLIS_CHROMIUM)');
      this.skip();
    }
    const html = path.join(dir, 'index.html');
    fs.writeFileSync(html, renderReport(buildReport(results)));
    const png = path.join(dir, 'screenshot.png');
    const r = await renderInChromium(html, png, root);
    assert.deepEqual(r.requests, [], 'the page makes no network request');
    assert.ok(r.sections >= 9, `sections rendered: ${r.sections}`);
    assert.ok(r.charts >= 2, `SVG charts rendered with a size: ${r.charts}`);
    assert.ok(r.marks >= 4, `bars/points drawn: ${r.marks}`);
    const head = fs.readFileSync(png).subarray(0, 8);
    assert.deepEqual([...head], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    assert.ok(fs.statSync(png).size > 20_000, 'a screenshot with content');
  });
});
