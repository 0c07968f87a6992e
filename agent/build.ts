import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/**
 * Bundles the agent into one ESM file runnable with plain `node` on an edge machine.
 *
 * dockerode loads BuildKit sessions (gRPC + protobuf) and docker-modem loads ssh2 at import,
 * though the agent builds no images and talks to a local socket: those modules are replaced by
 * stubs that throw if ever called, which keeps the bundle small and the agent's memory low.
 */
const stubs: Plugin = {
  name: 'berth-agent-stubs',
  setup(builder) {
    const unused =
      /^(\.\/session|\.\/buildkit|ssh2|cpu-features|@grpc\/grpc-js|@grpc\/proto-loader|protobufjs)$/;
    builder.onResolve({ filter: unused }, (args) => {
      // Only dockerode's own session/buildkit modules, not every file named so.
      if (args.path.startsWith('./') && !args.importer.includes(`${'dockerode'}`)) return undefined;
      return { path: args.path, namespace: 'berth-stub' };
    });
    // docker-modem loads https (and with it TLS, ~6 MB) at import for DOCKER_HOST=tcp:// with TLS
    // only, and tar-fs loads zlib for image builds: a local socket never needs either, so they are
    // loaded on first use instead.
    builder.onResolve({ filter: /^(https|zlib)$/ }, (args) =>
      args.importer.includes('node_modules') ? { path: args.path, namespace: 'berth-lazy' } : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'berth-lazy' }, (args) => ({
      contents: `let loaded; const load = () => (loaded ??= require('node:${args.path}'));
module.exports = new Proxy({}, { get: (_t, key) => load()[key] });`,
      loader: 'js',
    }));
    // An ESM `import … from 'node:http'` makes Node 22 evaluate every lazy export of the module
    // (pulling in TLS, HTTP/2 and zlib, ~10 MB); a require() does not. The agent's own imports of
    // built-ins are therefore turned into requires.
    builder.onResolve({ filter: /^node:/ }, (args) => {
      if (args.namespace === 'berth-builtin' || args.namespace === 'berth-lazy')
        return { path: args.path, external: true };
      return args.importer.includes('node_modules')
        ? undefined
        : { path: args.path, namespace: 'berth-builtin' };
    });
    builder.onLoad({ filter: /.*/, namespace: 'berth-builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
    builder.onLoad({ filter: /.*/, namespace: 'berth-stub' }, (args) => ({
      contents: `const unavailable = () => { throw new Error(${JSON.stringify(`${args.path} is not bundled in the Berth agent`)}); };
module.exports = new Proxy(unavailable, { get: (_t, key) => key === '__esModule' ? false : unavailable });`,
      loader: 'js',
    }));
  },
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds the bundle; returns its path and size in bytes. */
export const buildAgentBundle = async (outfile = join(root, 'dist', 'berth-agent.mjs')) => {
  await build({
    entryPoints: [join(root, 'agent', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    legalComments: 'none',
    plugins: [stubs],
    // CommonJS dependencies call require() for Node built-ins; ESM output needs a real one.
    banner: {
      js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return { outfile, bytes: statSync(outfile).size };
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outfile, bytes } = await buildAgentBundle(process.argv[2]);
  process.stdout.write(`${outfile}: ${(bytes / 1024).toFixed(0)} KiB\n`);
}
