// vscode-jsonrpc 10 publishes its entry points only through package.json `exports`, which the
// project's `moduleResolution: node` cannot see; these ambient modules point the type checker at
// the same files that esbuild, tsx and node load at run time.
declare module 'vscode-jsonrpc' {
  export * from 'vscode-jsonrpc/lib/common/api';
}
declare module 'vscode-jsonrpc/node' {
  export * from 'vscode-jsonrpc/lib/node/main';
}
