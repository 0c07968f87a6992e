import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `npm run chaos [-- --scale N --seed S]`: the reliability scenarios and fuzzers of `npm test`, run
 * longer (BERTH_CHAOS_SCALE multiplies rounds, kills, storms and fuzz cases) with a seed that is
 * printed, so a failure can be replayed with `--seed`. Prints the results as JSON and as a table.
 */

const argument = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
};

const scale = Number(argument('scale') ?? 5);
const seed = Number(argument('seed') ?? Math.floor(Math.random() * 2 ** 31));
const scratch = mkdtempSync(join(tmpdir(), 'berth-chaos-'));
const output = join(scratch, 'results.json');

console.log(`berth chaos: scale ${scale}, seed ${seed}`);
const run = spawnSync(
  'node_modules/.bin/vitest',
  [
    'run',
    'test/reliability',
    'test/unit/fuzz-keys.test.ts',
    'test/unit/fuzz-auth.test.ts',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${output}`,
  ],
  {
    stdio: 'inherit',
    env: { ...process.env, BERTH_CHAOS_SCALE: String(scale), BERTH_CHAOS_SEED: String(seed) },
  },
);

type Report = {
  testResults: {
    name: string;
    assertionResults: { fullName: string; status: string; duration?: number }[];
  }[];
};

let report: Report | undefined;
try {
  report = JSON.parse(readFileSync(output, 'utf8')) as Report;
} catch {
  report = undefined;
}
rmSync(scratch, { recursive: true, force: true });

const rows = (report?.testResults ?? []).flatMap((file) =>
  file.assertionResults.map((test) => ({
    file: file.name.replace(`${process.cwd()}/`, ''),
    scenario: test.fullName,
    status: test.status,
    seconds: Math.round((test.duration ?? 0) / 100) / 10,
  })),
);
console.log(
  JSON.stringify({ scale, seed, passed: rows.filter((r) => r.status === 'passed').length, rows }, null, 2),
);
console.log('\n| file | scenario | result | s |\n|---|---|---|---|');
for (const row of rows) console.log(`| ${row.file} | ${row.scenario} | ${row.status} | ${row.seconds} |`);
console.log(`\nscale ${scale}, seed ${seed}: replay with npm run chaos -- --scale ${scale} --seed ${seed}`);
process.exit(run.status ?? 1);
