#!/usr/bin/env node
// The `berth` command: runs the TypeScript CLI through tsx's loader (a dependency), so a checkout
// needs no build step. The edge agent ships separately as one bundled file (npm run build:agent).
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
