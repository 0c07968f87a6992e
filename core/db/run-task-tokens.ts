import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from './client.ts';
import { keys } from './keys.ts';

/** RunTask's clientToken, remembered for 24 hours with what it was used for. */
export type RunTaskTokenRecord = { paramsHash: string; taskIds: string[]; failures: unknown[] };

export const runTaskTokenItem = (
  cluster: string,
  tokenHash: string,
  record: RunTaskTokenRecord,
  at: Date,
) => ({
  ...keys.runTaskToken(cluster, tokenHash),
  type: 'runTaskToken',
  ...record,
  ttl: Math.floor(at.getTime() / 1000) + 24 * 3600,
});

export const getRunTaskToken = async (db: Db, cluster: string, tokenHash: string, now: Date) => {
  const output = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: keys.runTaskToken(cluster, tokenHash), ConsistentRead: true }),
  );
  const item = output.Item;
  // TTL deletion is lazy: an expired record is treated as gone.
  if (!item || Number(item.ttl) * 1000 <= now.getTime()) return undefined;
  return item as unknown as RunTaskTokenRecord;
};
