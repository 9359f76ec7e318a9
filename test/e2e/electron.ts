// The same end-to-end checks through @vscode/test-electron, for machines with a VS Code desktop
// build. @vscode/test-electron would download VS Code, which is impossible offline, so this runner
// only uses an existing build: VSCODE_EXECUTABLE_PATH=/path/to/code npx tsx test/e2e/electron.ts
// Without it the runner says so and exits 0 (skipped). The suite is test/e2e/suite/index.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { runTests } from '@vscode/test-electron';

const ROOT = path.resolve(__dirname, '../..');

async function main(): Promise<number> {
  const vscodeExecutablePath = process.env.VSCODE_EXECUTABLE_PATH;
  if (!vscodeExecutablePath) {
    console.log('e2e (electron): skipped — set VSCODE_EXECUTABLE_PATH to a VS Code build to run it (code-server runs the same checks: npm run test:e2e).');
    return 0;
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'worker.js'))) throw new Error('build first: npm run build');
  const outDir = path.join(ROOT, 'out', 'e2e-suite');
  await esbuild.build({ entryPoints: [path.join(__dirname, 'suite', 'index.ts')], outfile: path.join(outDir, 'index.js'), bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', 'web-tree-sitter'], sourcemap: true });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-electron-'));
  const workspace = path.join(scratch, 'workspace');
  fs.cpSync(path.join(__dirname, 'fixtures', 'workspace'), workspace, { recursive: true });
  await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: ROOT,
    extensionTestsPath: path.join(outDir, 'index.js'),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--user-data-dir', path.join(scratch, 'user-data'), '--skip-welcome', '--skip-release-notes'],
    extensionTestsEnv: { TRELLIS_ROOT: ROOT, TRELLIS_E2E_OUT: path.join(ROOT, 'test-output', 'e2e-electron') },
  });
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: Error) => {
    console.error(`e2e (electron) failed: ${err.message}`);
    process.exitCode = 1;
  },
);
