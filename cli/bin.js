#!/usr/bin/env node
// The `berth` command. Node 22.18+ runs the TypeScript CLI as it is (type stripping: the code uses
// only erasable syntax, which tsconfig's erasableSyntaxOnly enforces), so a checkout needs no build
// step. An older Node loads tsx's loader (a dependency) first. The edge agent ships separately as
// one bundled file (npm run build:agent).
if (!process.features.typescript) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import('./main.ts');
