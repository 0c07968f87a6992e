// Bundles every Lambda handler in functions/ the way SST does (esbuild, ESM, minified, Node 22),
// into dist/functions/<name>.mjs, and prints each bundle's size. The agent-facing handlers run on
// every agent's path (sync every minute, the doorbell authorizer on a cache miss), so they have a
// size budget: a bigger bundle is a slower cold start.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const outdir = join(root, 'dist', 'functions');

/** Minified bytes allowed for the handlers an agent's requests reach (zod alone is ~440 KB). */
const budgets: Record<string, number> = {
  'agent-api': 1536 * 1024,
  'doorbell-authorizer': 640 * 1024,
};

const handlers = readdirSync(join(root, 'functions'))
  .filter((file) => file.endsWith('.ts'))
  .filter((file) => /export const handler\b/.test(readFileSync(join(root, 'functions', file), 'utf8')))
  .map((file) => basename(file, '.ts'))
  .sort();

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`.padStart(8);

const result = await build({
  entryPoints: handlers.map((name) => ({ in: join(root, 'functions', `${name}.ts`), out: name })),
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  sourcemap: false,
  metafile: true,
  logLevel: 'warning',
  // Some dependencies are CommonJS and call require(): give ESM bundles one, as SST does.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
});

let overBudget = false;
console.log(`${'handler'.padEnd(22)}${'size'.padStart(8)}${'gzip'.padStart(8)}  budget`);
for (const name of handlers) {
  const file = join(outdir, `${name}.mjs`);
  const bytes = readFileSync(file);
  const budget = budgets[name];
  const over = budget !== undefined && bytes.length > budget;
  overBudget ||= over;
  console.log(
    `${name.padEnd(22)}${kb(bytes.length)}${kb(gzipSync(bytes).length)}  ${budget ? `${kb(budget).trim()}${over ? ' OVER' : ''}` : '-'}`,
  );
}
const inputs = Object.keys(result.metafile.inputs).length;
console.log(`${handlers.length} handlers bundled from ${inputs} modules into ${outdir}`);
if (overBudget) {
  console.error('An agent-facing handler is over its size budget (see scripts/bundle-functions.ts).');
  process.exit(1);
}
