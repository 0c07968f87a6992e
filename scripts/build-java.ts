// Compiles local/java/LoopbackDynamoDbLocal.java (the launcher that binds DynamoDB Local to
// 127.0.0.1 and requires its access key) into the .class files committed beside it: a machine running `berth up` may have only a
// JRE, which cannot compile. `npm run build:java` after changing the source;
// test/reliability/exposure.test.ts fails while the committed class and its source differ.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dynamoDbLocalDir, launcherDir } from '../local/dynamodb.ts';

export const launcherSource = join(launcherDir, 'LoopbackDynamoDbLocal.java');

/** The .class files in `dir` (the launcher and its nested classes), sorted. */
export const classFilesIn = (dir: string): string[] =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.class'))
    .sort();

/**
 * Compiles the launcher into `outDir` (Java 17 bytecode, against the bundled DynamoDB Local), first
 * removing the classes there (a nested class dropped from the source must not stay behind); answers
 * the class files written.
 */
export const compileLauncher = (outDir: string): string[] => {
  for (const name of classFilesIn(outDir)) rmSync(join(outDir, name));
  execFileSync(
    'javac',
    ['--release', '17', '-cp', join(dynamoDbLocalDir(), 'DynamoDBLocal.jar'), '-d', outDir, launcherSource],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return classFilesIn(outDir);
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`wrote ${compileLauncher(launcherDir).join(', ')} in ${launcherDir}`);
}
