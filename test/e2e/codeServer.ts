// Helpers for the editor end-to-end test: a code-server (the real VS Code workbench, offline)
// with the packaged extension installed, driven by playwright-core through Debian's Chromium.
// Paths: CODE_SERVER (binary; default: the cache folder setup.sh installs into), TRELLIS_VSIX.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '../..');
export const OUT = path.join(ROOT, 'test-output', 'e2e');
export const CODE_SERVER = process.env.CODE_SERVER ?? path.join(os.homedir(), '.cache', 'trellis-e2e', 'node_modules', '.bin', 'code-server');
export const VSIX = process.env.TRELLIS_VSIX ?? path.join(ROOT, 'trellis-linux-x64.vsix');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface Session {
  dirs: { userData: string; extensions: string; workspace: string };
  url: string;
  server: ChildProcess;
  browser: Browser;
  page: Page;
  serverLog: string[];
  close(): Promise<void>;
}

/** User settings for a quiet, deterministic workbench. */
const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'editor.inlineSuggest.enabled': true,
  'editor.quickSuggestions': { other: false, comments: false, strings: false },
  'editor.suggestOnTriggerCharacters': false,
  'editor.wordBasedSuggestions': 'off',
  'editor.minimap.enabled': false,
  'files.autoSave': 'off',
  'chat.commandCenter.enabled': false,
  'git.enabled': false,
  'git.openRepositoryInParentFolders': 'never',
  'trellis.debounceMs': 120,
  'trellis.temperature': 0.2,
};

/** Installs the .vsix into a fresh profile, starts code-server on loopback and opens Chromium on it. */
export async function startSession(name: string): Promise<Session> {
  for (const [what, p] of [['code-server (run test/e2e/setup.sh)', CODE_SERVER], ['the packaged extension (npm run package)', VSIX], ['Chromium', CHROMIUM]]) {
    if (!fs.existsSync(p)) throw new Error(`missing ${what}: ${p}`);
  }
  const base = path.join(OUT, name);
  fs.rmSync(base, { recursive: true, force: true });
  const dirs = { userData: path.join(base, 'user-data'), extensions: path.join(base, 'extensions'), workspace: path.join(base, 'workspace') };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  fs.cpSync(path.join(__dirname, 'fixtures', 'workspace'), dirs.workspace, { recursive: true });
  fs.mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
  // TRELLIS_E2E_MODEL: test against another model folder than the bundled one.
  const model = process.env.TRELLIS_E2E_MODEL ? { 'trellis.modelPath': path.resolve(process.env.TRELLIS_E2E_MODEL) } : {};
  fs.writeFileSync(path.join(dirs.userData, 'User', 'settings.json'), JSON.stringify({ ...USER_SETTINGS, ...model }, null, 2));

  const common = ['--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
  const install = spawnSync(CODE_SERVER, [...common, '--install-extension', VSIX, '--force'], { encoding: 'utf8', timeout: 180_000 });
  if (install.status !== 0) throw new Error(`installing ${VSIX} failed:\n${install.stdout}\n${install.stderr}`);

  const port = await freePort();
  const serverLog: string[] = [];
  const server = spawn(CODE_SERVER, [...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--ignore-last-opened', dirs.workspace], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TRELLIS_E2E: '1' },
  });
  for (const s of [server.stdout, server.stderr]) s?.on('data', (b: Buffer) => serverLog.push(b.toString('utf8')));
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.workspace)}`;
  let browser: Browser | undefined;
  try {
    await waitFor('code-server to listen', async () => {
      if (server.exitCode !== null) throw new Error(`code-server exited (${server.exitCode}):\n${serverLog.join('')}`);
      try {
        return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
      } catch {
        return false;
      }
    }, 240_000, 500);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(60_000); // generous: CI machines have 2 cores
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 180_000 });
    await page.locator('.monaco-workbench').waitFor({ timeout: 180_000 });
    return session(page, browser);
  } catch (err) {
    // Nothing left running when start-up fails.
    await browser?.close().catch(() => undefined);
    server.kill();
    fs.writeFileSync(path.join(base, 'code-server.log'), serverLog.join(''));
    throw err;
  }

  function session(page: Page, b: Browser): Session {
    return {
      dirs,
      url,
      server,
      browser: b,
      page,
      serverLog,
      async close() {
        await b.close().catch(() => undefined);
        server.kill();
        fs.writeFileSync(path.join(base, 'code-server.log'), serverLog.join(''));
      },
    };
  }
}

/** Finds the extension's log file ("Trellis" LogOutputChannel) under the profile's logs folder. */
export function trellisLog(userData: string): string {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'Trellis.log') found.push(p);
    }
  };
  if (fs.existsSync(path.join(userData, 'logs'))) walk(path.join(userData, 'logs'));
  found.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return found[0] ? fs.readFileSync(found[0], 'utf8') : '';
}

/** Runs a command through the command palette (F1), by its title. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible' });
  await sleep(150);
  await page.keyboard.press('Enter');
}

/** Opens a workspace file (Explorer double-click, else Quick Open) and waits for its editor. */
export async function openFile(page: Page, name: string): Promise<void> {
  const tab = page.locator(`.tab[aria-label^="${name}"]`).first();
  for (let attempt = 0; attempt < 3 && !(await tab.isVisible()); attempt++) {
    const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
    if (await row.isVisible().catch(() => false)) {
      await row.dblclick();
    } else {
      await page.keyboard.press('Control+p');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible' });
      await input.fill(name);
      const hit = page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
      if (await hit.waitFor({ timeout: 15_000 }).then(() => true, () => false)) await page.keyboard.press('Enter');
      else await page.keyboard.press('Escape');
    }
    await tab.waitFor({ timeout: 10_000 }).catch(() => undefined);
  }
  await tab.waitFor();
  await page.locator('.editor-instance .monaco-editor textarea').first().waitFor({ state: 'attached' });
}

/** Moves the cursor to line:column (1-based) with Ctrl+G. */
export async function goTo(page: Page, line: number, column?: number): Promise<void> {
  await page.keyboard.press('Control+g');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(column ? `:${line}:${column}` : `:${line}`); // the ":" prefix selects "go to line"
  await sleep(100);
  await page.keyboard.press('Enter');
  await sleep(100);
}

/** Saves the active editor and returns the file's text once the save reached the disk. */
export async function saveAndRead(page: Page, file: string): Promise<string> {
  const before = fs.statSync(file).mtimeMs;
  await page.keyboard.press('Control+s');
  // No change within the wait means there was nothing to save (the editor was not dirty).
  await waitFor('the file to be saved', () => fs.statSync(file).mtimeMs !== before, 15_000, 100).catch(() => undefined);
  await sleep(300);
  return fs.readFileSync(file, 'utf8');
}

/** Waits until the editor shows a line containing `text` (the renderer has caught up with typing). */
export async function waitForLine(page: Page, text: string): Promise<void> {
  await page.locator('.editor-instance .view-line', { hasText: text }).first().waitFor({ timeout: 60_000 });
}

export async function shot(page: Page, name: string): Promise<string> {
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Parses Python with web-tree-sitter; returns the error/missing nodes (empty when it parses). */
export async function pythonErrors(source: string): Promise<string[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Parser, Language } = require('web-tree-sitter') as typeof import('web-tree-sitter');
  await Parser.init();
  const lang = await Language.load(path.join(ROOT, 'node_modules', 'tree-sitter-python', 'tree-sitter-python.wasm'));
  const parser = new Parser();
  parser.setLanguage(lang);
  const tree = parser.parse(source);
  const errors: string[] = [];
  if (tree) {
    const visit = (n: import('web-tree-sitter').Node) => {
      if (n.isError || n.isMissing) errors.push(`${n.isMissing ? 'missing' : 'error'} at ${n.startPosition.row + 1}:${n.startPosition.column + 1}: ${JSON.stringify(n.text.slice(0, 40))}`);
      for (const c of n.children) if (c) visit(c);
    };
    visit(tree.rootNode);
    tree.delete();
  }
  parser.delete();
  return errors;
}
