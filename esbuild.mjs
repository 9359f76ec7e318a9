// Builds the three bundles of Trellis: the extension host glue, the inference worker and CLI
// (plain node, no `vscode`), and the sidebar webview (browser).
// Usage: node esbuild.mjs [--watch] [--production]
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** Prints the lines the `$esbuild-watch` problem matcher reads. */
const problemMatcher = {
  name: 'esbuild-problem-matcher',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log('[watch] build finished');
    });
  },
};

const common = {
  bundle: true,
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'warning',
  plugins: [problemMatcher],
};

// Native and WASM-carrying packages stay outside the bundles and are loaded from node_modules.
const nodeExternals = ['onnxruntime-node', 'web-tree-sitter'];

const targets = [
  // The extension host side: `vscode` is provided by the editor.
  { entryPoints: ['src/vscode/extension.ts'], outfile: 'dist/extension.js', platform: 'node',
    format: 'cjs', target: 'node20', external: ['vscode', ...nodeExternals] },
  // The CLI and the inference worker: `vscode` is NOT external, so an engine import of it fails the build.
  { entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', platform: 'node', format: 'cjs',
    target: 'node20', external: nodeExternals, banner: { js: '#!/usr/bin/env node' } },
  { entryPoints: ['src/cli/worker.ts'], outfile: 'dist/worker.js', platform: 'node', format: 'cjs',
    target: 'node20', external: nodeExternals },
  // The model thread (a worker_threads script the engine starts for the GeDi discriminator).
  { entryPoints: ['src/engine/runtime/model-thread.ts'], outfile: 'dist/model-thread.js', platform: 'node', format: 'cjs',
    target: 'node20', external: nodeExternals },
  // The sidebar webview: browser code that only knows the protocol.
  { entryPoints: ['src/webview/main.ts'], outfile: 'dist/webview.js', platform: 'browser',
    format: 'iife', target: 'es2022' },
].filter((t) => existsSync(t.entryPoints[0]));

const contexts = await Promise.all(targets.map((t) => esbuild.context({ ...common, ...t })));
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  try {
    await Promise.all(contexts.map((c) => c.rebuild()));
  } catch {
    process.exitCode = 1;
  } finally {
    await Promise.all(contexts.map((c) => c.dispose()));
  }
}
