// Compiles local/java/LoopbackDynamoDbLocal.java (the launcher that binds DynamoDB Local to
// 127.0.0.1) into the .class committed beside it: a machine running `berth up` may have only a
// JRE, which cannot compile. `npm run build:java` after changing the source;
// test/reliability/exposure.test.ts fails while the committed class and its source differ.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dynamoDbLocalDir, launcherDir } from '../local/dynamodb.ts';

export const launcherSource = join(launcherDir, 'LoopbackDynamoDbLocal.java');
export const launcherClass = join(launcherDir, 'LoopbackDynamoDbLocal.class');

/** Compiles the launcher into `outDir` (Java 17 bytecode, against the bundled DynamoDB Local). */
export const compileLauncher = (outDir: string): string => {
  execFileSync(
    'javac',
    ['--release', '17', '-cp', join(dynamoDbLocalDir(), 'DynamoDBLocal.jar'), '-d', outDir, launcherSource],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return join(outDir, 'LoopbackDynamoDbLocal.class');
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`wrote ${compileLauncher(launcherDir)}`);
}
